"""HTTP: issuing and reading licences, and the licence-type templates."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter

from registry import errors
from registry.auth.deps import provide_principal
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licenses import service
from registry.licenses.renditions import MEDIA_TYPES, rendition
from registry.licenses.schemas import LicenseCreate, LicensePublic


class LicenseController(Controller):
    path = "/api/v1/licenses"
    tags = ["licenses"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}  # noqa: RUF012

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

    @get("/{identifier:str}", summary="A licence / 证照详情")
    async def get_license(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        identifier: FromPath[str],
    ) -> LicensePublic:
        licence = await service.get_for_issuer(registry, principal, identifier)
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
        licence = await service.get_for_issuer(registry, principal, identifier)
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

    async def _rendition(self, registry: Registry, principal: Principal, identifier: str, kind: str) -> Response[bytes]:
        licence = await service.get_for_issuer(registry, principal, identifier)
        fields: dict[str, Any] = service.credential_of(licence)["credentialSubject"]["fields"]
        name = await service.issuer_name(registry, licence.issuer_code)
        content = await rendition(registry, licence, kind, name, fields)
        headers = {"Cache-Control": "private, max-age=300"}
        if kind == "pdf":
            headers["Content-Disposition"] = f'inline; filename="{licence.identifier}.pdf"'
        return Response(content, media_type=MEDIA_TYPES[kind], headers=headers)


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
