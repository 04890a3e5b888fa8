"""Request dependencies: the registry container and the authenticated caller."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from registry import errors
from registry.auth import sessions
from registry.auth.tokens import Principal, read_token
from registry.context import Registry


def provide_registry(state: State) -> Registry:
    registry: Registry = state.registry
    return registry


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    """The request's Bearer token; ``None`` without an Authorization header; refused when it is another kind."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.NotAuthenticated("须使用 Bearer 令牌 / Use a Bearer token")
    return token.strip()


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """A Bearer token (systems), else a page session's cookie (the pages), whose changes need the CSRF token.

    With an Authorization header the cookie is not looked at: a browser never adds that header by itself, so a
    request carrying it is no cross-site forgery; a request that rides on the cookie alone is held to CSRF.
    """
    reg: Registry = state.registry
    token = bearer_token(request)
    if token is not None:
        return await read_token(reg, token)
    row = await sessions.load(reg, request)
    if row is None:
        raise errors.NotAuthenticated("缺少 Authorization 请求头 / Authorization header required")
    if request.method not in sessions.SAFE_METHODS:
        sessions.check_csrf(row, request.headers.get(sessions.CSRF_HEADER))
        sessions.check_origin(reg, request)
    return sessions.principal_of(row)
