"""Request dependencies: the registry container and the authenticated caller."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from registry import errors
from registry.auth.tokens import Principal, read_token
from registry.context import Registry


def provide_registry(state: State) -> Registry:
    registry: Registry = state.registry
    return registry


def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise errors.NotAuthenticated("缺少 Authorization 请求头 / Authorization header required")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.NotAuthenticated("须使用 Bearer 令牌 / Use a Bearer token")
    return read_token(state.registry, token.strip())
