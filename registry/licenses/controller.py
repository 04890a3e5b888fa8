"""HTTP: issuing and reading licences, and the licence-type templates."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from registry import errors
from registry.auth.deps import provide_principal
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licenses import lifecycle, search, service
from registry.licenses.credentials import vc_time
from registry.licenses.renditions import MEDIA_TYPES, rendition
from registry.licenses.schemas import (
    AmendBody,
    LicenseCreate,
    LicenseEventOut,
    LicensePublic,
    LifecycleBody,
    RenewBody,
    RevokeBody,
)
from registry.models import License
from registry.sharing.service import log_issuer_read


class LicenseController(Controller):
    path = "/api/v1/licenses"
    tags = ["licenses"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal)}  # noqa: RUF012

    @post(
        "/",
        status_code=201,
        summary="Issue a licence / 签发证照",
        description="Validates against the type's template, signs a W3C VC (eddsa-jcs-2022) and returns it "
        "with its LC1 QR payload. A retry with the same Idempotency-Key and body returns the same licence.",
    )
    async def issue(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        data: JSONBody[LicenseCreate],
        idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key", required=False)] = None,
    ) -> Response[LicensePublic]:
        issued = await service.issue(registry, principal, data, idempotency_key)
        headers = {"Location": f"/api/v1/licenses/{issued.license.identifier}"}
        if issued.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            service.to_public(registry, issued.license, issued.issuer_name), status_code=201, headers=headers
        )

    @get(
        "/",
        summary="Find the department's licences / 查询证照",
        description="`q`: a 证照标识, a holder's ID number, or the start of a holder's name (any of the three); "
        "empty lists the latest. Only the caller's own licences, newest first, at most `limit` (1–100).",
    )
    async def find(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        q: FromQuery[str | None] = None,
        limit: FromQuery[int] = search.DEFAULT_LIMIT,
    ) -> list[search.LicenseSummary]:
        found = await search.search(registry, principal, q, limit)
        return [search.to_summary(registry, licence) for licence in found]

    @get("/{identifier:str}", summary="A licence / 证照详情")
    async def get_license(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
    ) -> LicensePublic:
        licence = await service.get_for_reader(registry, principal, identifier)
        await _log_read(registry, principal, licence, "发证部门查阅证照 / the issuer read the licence")
        return service.to_public(registry, licence, await service.issuer_name(registry, licence.issuer_code))

    @get(
        "/{identifier:str}/credential",
        summary="The signed credential / 已签名凭证",
        media_type="application/vc",
    )
    async def credential(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
    ) -> Response[bytes]:
        licence = await service.get_for_reader(registry, principal, identifier)
        await _log_read(registry, principal, licence, "发证部门读取凭证 / the issuer read the credential")
        # The stored JCS text is returned verbatim: byte for byte what was signed.
        return Response(licence.credential_jcs.encode(), media_type="application/vc")

    @get("/{identifier:str}/qr.png", summary="QR code (PNG) / 二维码", media_type="image/png")
    async def qr_png(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
    ) -> Response[bytes]:
        return await self._rendition(registry, principal, identifier, "qr.png")

    @get("/{identifier:str}/qr.svg", summary="QR code (SVG) / 二维码", media_type="image/svg+xml")
    async def qr_svg(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
    ) -> Response[bytes]:
        return await self._rendition(registry, principal, identifier, "qr.svg")

    @get("/{identifier:str}/pdf", summary="Printable PDF / 打印版", media_type="application/pdf")
    async def pdf(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
    ) -> Response[bytes]:
        return await self._rendition(registry, principal, identifier, "pdf")

    @post("/{identifier:str}/suspend", status_code=200, summary="Suspend / 暂扣")
    async def suspend(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
        data: JSONBody[LifecycleBody],
    ) -> LicensePublic:
        return await self._change(registry, principal, identifier, "suspend", data.reason)

    @post("/{identifier:str}/reinstate", status_code=200, summary="Reinstate / 暂扣发还")
    async def reinstate(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
        data: JSONBody[LifecycleBody],
    ) -> LicensePublic:
        return await self._change(registry, principal, identifier, "reinstate", data.reason)

    @post(
        "/{identifier:str}/revoke",
        status_code=200,
        summary="Revoke (撤销) or withdraw (吊销)",
        description='`kind`: "revoke" (撤销, status 03) or "withdraw" (吊销, status 07). Final.',
    )
    async def revoke(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
        data: JSONBody[RevokeBody],
    ) -> LicensePublic:
        return await self._change(registry, principal, identifier, data.kind, data.reason)

    @post("/{identifier:str}/cancel", status_code=200, summary="Cancel / 注销")
    async def cancel(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
        data: JSONBody[LifecycleBody],
    ) -> LicensePublic:
        return await self._change(registry, principal, identifier, "cancel", data.reason)

    @post("/{identifier:str}/renew", status_code=201, summary="Renew: a new version / 延续")
    async def renew(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
        data: JSONBody[RenewBody],
    ) -> LicensePublic:
        changed = await lifecycle.new_version(registry, principal, identifier, "renew", data)
        assert changed.new_version is not None
        return service.to_public(registry, changed.new_version, changed.issuer_name)

    @post("/{identifier:str}/amend", status_code=201, summary="Amend: a new version / 变更")
    async def amend(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
        data: JSONBody[AmendBody],
    ) -> LicensePublic:
        changed = await lifecycle.new_version(registry, principal, identifier, "amend", data)
        assert changed.new_version is not None
        return service.to_public(registry, changed.new_version, changed.issuer_name)

    @get("/{identifier:str}/history", summary="The licence's history / 证照变更记录")
    async def history(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], identifier: FromPath[str]
    ) -> list[LicenseEventOut]:
        events = await lifecycle.history(registry, principal, identifier)
        return [
            LicenseEventOut(
                action=e.action,
                reason=e.reason,
                actor=e.actor,
                status_after=e.status_after,
                related_identifier=e.related_identifier,
                at=vc_time(e.at),
            )
            for e in events
        ]

    async def _change(
        self, registry: Registry, principal: Principal, identifier: str, action: str, reason: str
    ) -> LicensePublic:
        changed = await lifecycle.change_status(registry, principal, identifier, action, reason)
        return service.to_public(registry, changed.license, changed.issuer_name)

    async def _rendition(self, registry: Registry, principal: Principal, identifier: str, kind: str) -> Response[bytes]:
        licence = await service.get_for_reader(registry, principal, identifier)
        await _log_read(registry, principal, licence, f"发证部门取得{kind} / the issuer fetched the {kind}")
        fields: dict[str, Any] = service.credential_of(licence)["credentialSubject"]["fields"]
        name = await service.issuer_name(registry, licence.issuer_code)
        content = await rendition(registry, licence, kind, name, fields)
        headers = {"Cache-Control": "private, max-age=300"}
        if kind == "pdf":
            headers["Content-Disposition"] = f'inline; filename="{licence.identifier}.pdf"'
        return Response(content, media_type=MEDIA_TYPES[kind], headers=headers)


async def _log_read(registry: Registry, principal: Principal, licence: License, what: str) -> None:
    if principal.kind == "org":  # the holder reading their own licence is not an access to log
        await log_issuer_read(registry, licence, principal.subject, what)


class LicenseTypeController(Controller):
    path = "/api/v1/license-types"
    tags = ["license-types"]  # noqa: RUF012

    @get("/", summary="Licence types / 证照类型")
    async def list_types(self, registry: NamedDependency[Registry]) -> list[dict[str, Any]]:
        return [lt.public() for lt in registry.catalog.all()]

    @get("/{license_type:str}", summary="One licence type / 证照类型详情")
    async def get_type(self, registry: NamedDependency[Registry], license_type: FromPath[str]) -> dict[str, Any]:
        if license_type not in registry.catalog:
            raise errors.NotFound(f"证照类型 {license_type[:64]} 不存在 / No licence type {license_type[:64]}")
        return registry.catalog.get(license_type).public()
