"""did:web documents: each department's keys as Multikey verification methods."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from registry import errors
from registry.context import Registry
from registry.http.ratelimit import limit_public
from registry.orgs.service import get_organisation, keys_of

DID_CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]


class DidController(Controller):
    path = "/departments"
    tags = ["trust"]  # noqa: RUF012
    guards = [limit_public]  # noqa: RUF012

    @get("/{code:str}/did.json", summary="A department's DID document / 部门 DID 文档")
    async def did_document(self, registry: NamedDependency[Registry], code: FromPath[str]) -> Response[dict[str, Any]]:
        async with registry.db.read() as session:
            org = await get_organisation(session, code[:18]) if len(code) == 18 else None
            if org is None or org.role != "issuer":
                raise errors.OrganisationNotFound(f"发证部门 {code[:18]} 不存在 / No issuing department {code[:18]}")
            keys = await keys_of(session, org.code)
        did = registry.settings.department_did(org.code)
        # Revoked keys leave the document; retired ones stay so what they signed still verifies.
        listed = [k for k in keys if k.state != "revoked"]
        document = {
            "@context": DID_CONTEXT,
            "id": did,
            "name": org.name,
            "verificationMethod": [
                {
                    "id": registry.settings.key_id(org.code, k.key_ref),
                    "type": "Multikey",
                    "controller": did,
                    "publicKeyMultibase": k.public_key_multibase,
                }
                for k in listed
            ],
            "assertionMethod": [registry.settings.key_id(org.code, k.key_ref) for k in listed],
        }
        return Response(document, media_type="application/did+json", headers={"Cache-Control": "public, max-age=300"})
