"""HTTP: public verification of a scanned payload, a credential, or a photo of a QR code."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody
from pydantic import BaseModel, ConfigDict, model_validator

from registry import errors
from registry.context import Registry
from registry.http.ratelimit import client_key, limit_public
from registry.verify import service

IMAGE_MAX_BYTES = 10 * 1024 * 1024  # phone photos run to several MB


class VerificationRequest(BaseModel):
    """Exactly one of ``payload`` (the scanned text, e.g. ``LC1:…``) or ``credential`` (a VC as JSON)."""

    model_config = ConfigDict(extra="forbid")

    payload: str | None = None
    credential: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> VerificationRequest:
        if (self.payload is None) == (self.credential is None):
            raise ValueError("须且只须提供 payload 或 credential 之一 / give exactly one of payload or credential")
        return self


class VerificationController(Controller):
    path = "/api/v1/verifications"
    tags = ["verification"]  # noqa: RUF012

    @post(
        "/",
        status_code=200,
        summary="Verify a scanned licence / 核验证照",
        description="Any scanned text gets a verdict: valid, revoked, suspended, expired, not_yet_valid, "
        "bad_signature, unknown_issuer, key_revoked, malformed or unsupported. Rate-limited per client.",
    )
    async def verify(self, request: Request[Any, Any, Any], data: JSONBody[VerificationRequest]) -> dict[str, Any]:
        # The registry straight from the app's state, not through a dependency: resolving one costs a scan
        # (the hottest path there is) about 2% of its time.
        registry: Registry = request.app.state.registry
        registry.verify_limiter.take(client_key(request))
        result = await service.verify(registry, payload=data.payload, credential=data.credential)
        registry.tally.add("verified")
        return result

    @post(
        "/image",
        status_code=200,
        summary="Verify a photo or scan of a QR code / 拍照核验",
        request_max_body_size=IMAGE_MAX_BYTES,
        guards=[limit_public],  # its own bucket, taken before the upload is read
    )
    async def verify_image(
        self,
        request: Request[Any, Any, Any],
        registry: NamedDependency[Registry],
        data: Annotated[dict[str, UploadFile], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> dict[str, Any]:
        registry.verify_limiter.take(client_key(request))
        upload = data.get("file") or data.get("image") or next(iter(data.values()), None)
        if not isinstance(upload, UploadFile):
            raise errors.ValidationFailed(
                "请以 multipart 字段 file 上传图片 / Upload the image as multipart field 'file'"
            )
        result = await service.verify_image(registry, await upload.read())
        registry.tally.add("verified")
        return result
