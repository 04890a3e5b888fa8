"""HTTP: bulk issuance jobs (批量签发) — upload a CSV, follow its progress, fetch its error report."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from registry import errors
from registry.auth.deps import provide_principal
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licenses import batch
from registry.licenses.batch import BatchPublic

BATCH_MAX_BYTES = 20 * 1024 * 1024


def _require_multipart(request: Request[Any, Any, Any]) -> None:
    """Before the body is parsed: Litestar would read any body as multipart and call it malformed."""
    if request.content_type[0] != RequestEncodingType.MULTI_PART:
        raise errors.UnsupportedMediaType(
            "请以 multipart/form-data 上传（字段 type 与 file） / "
            "Upload as multipart/form-data with the fields 'type' and 'file'"
        )


def _one(value: Any) -> Any:
    """A form field sent more than once arrives as a list: only one is meant."""
    if isinstance(value, list):
        raise errors.ValidationFailed("每个表单字段只能出现一次 / Send each form field once")
    return value


class BatchController(Controller):
    path = "/api/v1/batches"
    tags = ["licenses"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal)}  # noqa: RUF012

    @post(
        "/",
        status_code=202,
        summary="Upload a CSV for bulk issuance / 批量签发",
        description="multipart/form-data: `type` (the licence type) and `file` (CSV, UTF-8 or GB18030, at most "
        "20 MiB) with header `holder_id_type,holder_id_number,holder_name,<field names…>` and optional "
        "`valid_from,valid_until`. The header is checked at once (422 `batch_bad_header`); the rows are issued "
        "in the background: poll `GET /api/v1/batches/{id}`. Uploading the same file again issues only the "
        "rows not yet issued.",
        request_max_body_size=BATCH_MAX_BYTES,
        before_request=_require_multipart,
    )
    async def submit(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[BatchPublic]:
        upload = _one(data.get("file"))
        if not isinstance(upload, UploadFile):
            raise errors.ValidationFailed(
                "请以 multipart 文件字段 file 上传 CSV / Upload the CSV as the multipart file field 'file'"
            )
        license_type = _one(data.get("type"))
        try:
            content = await upload.read()
        finally:
            await upload.close()
        job = await batch.submit_job(
            registry, principal, license_type if isinstance(license_type, str) else None, upload.filename, content
        )
        return Response(
            batch.to_public(registry, job, has_report=False),
            status_code=202,
            headers={"Location": f"/api/v1/batches/{job.id}"},
        )

    @get("/", summary="This department's latest bulk issuance jobs / 批量签发任务")
    async def list_jobs(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal]
    ) -> list[BatchPublic]:
        return [batch.to_public(registry, job, has) for job, has in await batch.list_jobs(registry, principal)]

    @get("/{batch_id:str}", summary="A bulk issuance job and its progress / 批量签发进度")
    async def get_job(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], batch_id: FromPath[str]
    ) -> BatchPublic:
        job, has_report = await batch.get_job(registry, principal, batch_id)
        return batch.to_public(registry, job, has_report)

    @get(
        "/{batch_id:str}/errors.csv",
        summary="The job's error report (CSV) / 错误报告",
        description="Columns `line,holder_id_number,code,message`; UTF-8 with a BOM (Excel shows the Chinese).",
        media_type="text/csv",
    )
    async def error_report(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], batch_id: FromPath[str]
    ) -> Response[bytes]:
        filename, text = await batch.job_error_report(registry, principal, batch_id)
        fallback = f"{batch_id}.errors.csv"
        disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
        return Response(
            ("\ufeff" + text).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
        )
