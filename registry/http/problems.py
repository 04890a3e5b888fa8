"""The one place where errors become RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import ClientException, HTTPException, SerializationException, ValidationException
from litestar.params import FromPath
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from registry import errors

log = logging.getLogger("registry.problems")
PROBLEM_JSON = "application/problem+json"

# Litestar's own HTTP errors (routing, body limits) mapped to our stable codes.
_HTTP_CODES: dict[int, type[errors.RegistryError]] = {
    400: errors.BadRequest,
    401: errors.NotAuthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.BodyTooLarge,
    415: errors.UnsupportedMediaType,
    429: errors.RateLimited,
    503: errors.ServiceUnavailable,
}


def problem_response(request: Request[Any, Any, Any], error: errors.RegistryError) -> Response[dict[str, Any]]:
    base = str(request.base_url).rstrip("/")
    body: dict[str, Any] = {
        "type": f"{base}/problems/{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": request.url.path,
        "code": error.code,
    }
    for key, value in error.extra.items():
        body.setdefault(key, value)
    headers = {"WWW-Authenticate": 'Bearer realm="registry"'} if error.status == 401 else {}
    if "retry_after" in error.extra:
        headers["Retry-After"] = str(error.extra["retry_after"])
    return Response(body, status_code=error.status, media_type=PROBLEM_JSON, headers=headers)


def _from_validation(exc: ValidationException) -> errors.RegistryError:
    detail = str(exc.detail or "")
    extra = exc.extra if isinstance(exc.extra, list) else []
    problems = [
        {"field": str(item.get("key") or item.get("loc") or ""), "message": str(item.get("message", ""))}
        for item in extra
        if isinstance(item, dict)
    ]
    if not problems:
        return errors.BadRequest(f"请求无效 / Bad request: {detail[:300]}")
    fields = ", ".join(p["field"] for p in problems)
    return errors.ValidationFailed(f"请求字段有误：{fields} / Invalid request fields: {fields}", errors=problems)


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, errors.RegistryError):
        return problem_response(request, exc)
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        return problem_response(
            request,
            errors.InvalidJson(f"请求体不是合法的 JSON / The request body is not valid JSON: {exc.detail}"),
        )
    if isinstance(exc, ValidationException):
        return problem_response(request, _from_validation(exc))
    if isinstance(exc, HTTPException) and exc.status_code in _HTTP_CODES:
        cls = _HTTP_CODES[exc.status_code]
        return problem_response(request, cls(f"{cls.title}: {exc.detail}" if exc.detail else None))
    # Anything else is our bug: log it whole, tell the caller nothing of the internals.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response(
        {
            "type": "about:blank",
            "title": "服务器内部错误 / Internal server error",
            "status": 500,
            "detail": "请求未能完成，未写入任何数据；请稍后重试 / "
            "The request failed and nothing was written; retry later",
            "code": "internal_error",
        },
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type=PROBLEM_JSON,
    )


def _all_error_classes(cls: type[errors.RegistryError] = errors.RegistryError) -> list[type[errors.RegistryError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_error_classes(sub))
    return found


PROBLEM_TYPES = {cls.code: cls for cls in _all_error_classes()}


@get("/problems/{code:str}", summary="What a problem code means / 错误代码说明", tags=["ops"])
async def problem_type(code: FromPath[str]) -> dict[str, Any]:
    """The ``type`` URI of every problem document resolves here."""
    cls = PROBLEM_TYPES.get(code)
    if cls is None:
        raise errors.NotFound(f"未知的错误代码 / Unknown problem code: {code[:64]}")
    return {"code": cls.code, "title": cls.title, "status": cls.status}
