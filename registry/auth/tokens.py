"""Access tokens: short-lived JWTs (PyJWT), HS256 under a key derived from the operator's master key.

Only this registry mints and reads them, so a symmetric key is enough; every worker derives the same key.
The algorithm is pinned (an allow-list of one) and iss, aud, exp, iat and the token type are required.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from registry import errors
from registry.context import Registry

ALGORITHMS = ["HS256"]
ORG_SCOPES: dict[str, tuple[str, ...]] = {
    "issuer": ("licenses:issue", "licenses:read", "licenses:manage"),
    "agency": ("services:read", "cases:write", "cases:read"),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: an organisation (client credentials) for now; holders join with the sharing work."""

    kind: str  # "org"
    subject: str  # organisation code
    role: str
    scopes: frozenset[str]

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise errors.Forbidden(f"此令牌无 {scope} 权限 / This token lacks the scope {scope}", required_scope=scope)


def _key(reg: Registry) -> bytes:
    return reg.master_key.derive(b"registry-jwt-hs256")


def mint_org_token(reg: Registry, org_code: str, role: str, now: datetime | None = None) -> tuple[str, int]:
    now = now or datetime.now(UTC)
    ttl = reg.settings.token_ttl_seconds
    claims = {
        "iss": reg.settings.token_issuer,
        "aud": reg.settings.token_audience,
        "sub": org_code,
        "typ": "org",
        "role": role,
        "scope": " ".join(ORG_SCOPES[role]),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, _key(reg), algorithm="HS256"), ttl


def read_token(reg: Registry, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            _key(reg),
            algorithms=ALGORITHMS,
            audience=reg.settings.token_audience,
            issuer=reg.settings.token_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "typ"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise errors.TokenExpired("令牌已过期，请重新获取 / The token has expired; request a new one") from exc
    except jwt.PyJWTError as exc:
        raise errors.NotAuthenticated(f"令牌无效 / Invalid token: {exc}") from exc
    if claims.get("typ") != "org" or claims.get("role") not in ORG_SCOPES:
        raise errors.NotAuthenticated("令牌类型不符 / Wrong token type")
    scopes = claims.get("scope", "")
    if not isinstance(scopes, str):
        raise errors.NotAuthenticated("令牌无效 / Invalid token: bad scope claim")
    return Principal(kind="org", subject=str(claims["sub"]), role=claims["role"], scopes=frozenset(scopes.split()))
