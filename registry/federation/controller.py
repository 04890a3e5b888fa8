"""HTTP: the peers this registry trusts (public: trust anchors are no secret)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from registry.auth.deps import provide_principal
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.federation import pulls, service, transfers
from registry.licenses.schemas import LicensePublic
from registry.licenses.service import to_public


class FederationController(Controller):
    path = "/api/v1/federation"
    tags = ["federation"]  # noqa: RUF012

    @get(
        "/peers",
        summary="Pinned peer registries / 互信登记库",
        description="Each peer with its pinned trust-list key fingerprint, when its trust list was last fetched "
        "and verified, its age, whether it is past its nextUpdate, and the last error.",
    )
    async def peers(self, registry: NamedDependency[Registry]) -> list[dict[str, Any]]:
        return await service.list_peers(registry)


class PeerCallController(Controller):
    """Calls from pinned peer registries, signed by their trust-list keys (registry.federation.calls)."""

    path = "/api/v1/federation"
    tags = ["federation"]  # noqa: RUF012

    @post(
        "/pulls",
        status_code=200,
        summary="A peer's window redeems a share code issued here / 跨地区调取",
        description="Registry-to-registry only: X-Registry-Caller/-Timestamp/-Nonce/-Signature, Ed25519 by the "
        "caller's pinned trust-list key over the method, path, both registry ids, time, nonce and body hash.",
    )
    async def pull(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> dict[str, Any]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await pulls.serve_pull(registry, headers, await request.body())

    @post(
        "/transfers",
        status_code=200,
        summary="A peer took over a licence issued here (办理转出) / 转出通知",
        description="Registry-to-registry only (signed as /pulls). Marks the licence transferred (status 06).",
    )
    async def transfer(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> dict[str, Any]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await transfers.serve_transfer(registry, headers, await request.body())


class TransferInController(Controller):
    path = "/api/v1/licenses"
    tags = ["federation"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal)}  # noqa: RUF012

    @post(
        "/transfers",
        status_code=201,
        summary="Transfer a licence in from another region (办理转入) / 转入",
        description="The holder's current licence from a pinned peer (its full credential) is verified here, this "
        "department issues its own linked to it, and the home registry marks the old one transferred.",
    )
    async def transfer_in(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        data: JSONBody[transfers.TransferIn],
    ) -> Response[LicensePublic]:
        licence, org_name = await transfers.transfer_in(registry, principal, data)
        return Response(to_public(registry, licence, org_name), status_code=201)
