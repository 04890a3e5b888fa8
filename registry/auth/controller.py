"""OAuth2 endpoints: client-credentials tokens (RFC 6749 §4.4) for departments and agencies, and revocation
(RFC 7009) for every token this registry mints (holders' too)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from litestar import Controller, MediaType, Request, Response, post
from litestar.di import NamedDependency
from pydantic import BaseModel

from registry import errors
from registry.auth import tokens
from registry.auth.deps import bearer_token
from registry.auth.tokens import ORG_SCOPES, mint_org_token
from registry.context import Registry
from registry.http.ratelimit import client_key
from registry.models import Organisation
from registry.orgs.service import secret_matches


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise errors.InvalidClient("Basic 认证格式错误 / Malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise errors.InvalidClient("Basic 认证格式错误 / Malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012

    @post("/token", status_code=200, summary="Client-credentials token / 机构访问令牌")
    async def token(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> TokenResponse:
        registry.login_limiter.take(client_key(request))  # a secret guessed is a login: the same bucket
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise errors.UnsupportedMediaType(
                "须以 application/x-www-form-urlencoded 提交 / Send the form as application/x-www-form-urlencoded"
            )
        form = await request.form()
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            raise errors.UnsupportedGrantType(
                f"grant_type 须为 client_credentials / grant_type must be client_credentials, got {grant_type!r}"
            )
        basic = _basic_credentials(request.headers.get("authorization", ""))
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        if not isinstance(client_id, str) or not isinstance(secret, str) or not client_id or not secret:
            raise errors.InvalidClient("缺少 client_id 或 client_secret / client_id and client_secret required")
        async with registry.db.read() as session:
            org = await session.get(Organisation, client_id) if len(client_id) <= 18 else None
        # Compare a hash even for unknown clients so timing does not reveal which client ids exist.
        stored = org.client_secret_hash if org is not None else "0" * 64
        if not secret_matches(secret, stored) or org is None:
            raise errors.InvalidClient("客户端凭据无效 / Unknown client or wrong secret")
        token, ttl = mint_org_token(registry, org.code, org.role)
        scope = " ".join(ORG_SCOPES[org.role])
        return TokenResponse(access_token=token, token_type="Bearer", expires_in=ttl, scope=scope)  # noqa: S106

    @post("/revoke", status_code=200, summary="Revoke a token (RFC 7009) / 注销令牌")
    async def revoke(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> Response[bytes]:
        """Log out: ends the Bearer token presented, or the one in the form's ``token`` field (another of the
        caller's own, e.g. on a lost phone). As RFC 7009 asks, a token that is already unusable answers 200 too.
        Pages log out with ``POST /logout``; a page session's cookie is not accepted here."""
        presented = bearer_token(request)
        if presented is None:
            raise errors.NotAuthenticated("须使用 Bearer 令牌 / Use a Bearer token")
        caller = await tokens.read_token(registry, presented)
        target = presented
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            named = (await request.form()).get("token")
            if isinstance(named, str) and named.strip():
                target = named.strip()
        elif content_type:
            raise errors.UnsupportedMediaType(
                "须以 application/x-www-form-urlencoded 提交 / Send the form as application/x-www-form-urlencoded"
            )
        await tokens.revoke(registry, caller, target)
        # RFC 7009 §2.2: 200 and nothing to read, whether or not there was anything left to revoke.
        return Response(b"", status_code=200, media_type=MediaType.TEXT)
