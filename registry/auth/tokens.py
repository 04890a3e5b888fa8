"""Access tokens: short-lived JWTs (PyJWT), HS256 under a key derived from the operator's master key.

Only this registry mints and reads them, so a symmetric key is enough; every worker derives the same key.
The algorithm is pinned (an allow-list of one) and iss, aud, exp, iat and the token type are required.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from registry import errors
from registry.context import Registry

ALGORITHMS = ["HS256"]
HOLDER_SCOPES = ("me",)
ORG_SCOPES: dict[str, tuple[str, ...]] = {
    "issuer": ("licenses:issue", "licenses:read", "licenses:manage"),
    "agency": ("services:read", "cases:write", "cases:read"),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: an organisation (client credentials) or a holder (ID number and password)."""

    kind: str  # "org" | "holder"
    subject: str  # organisation code, or the holder's ID number
    role: str  # issuer | agency | holder
    scopes: frozenset[str]
    user: str | None = None  # the staff member behind a page session (an organisation's clerk or officer)

    @property
    def actor(self) -> str:
        """Who to name in a licence's history: the organisation, and the staff member when there is one."""
        return f"{self.subject}/{self.user}" if self.user else self.subject

    def require_holder(self) -> str:
        if self.kind != "holder":
            raise errors.Forbidden("此接口仅限持证人本人 / Only a holder may call this", required_scope="me")
        return self.subject

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise errors.Forbidden(f"此令牌无 {scope} 权限 / This token lacks the scope {scope}", required_scope=scope)


def _key(reg: Registry) -> bytes:
    return reg.master_key.derive(b"registry-jwt-hs256")


def mint_org_token(reg: Registry, org_code: str, role: str, now: datetime | None = None) -> tuple[str, int]:
    return _mint(reg, org_code, "org", role, ORG_SCOPES[role], now)


def mint_holder_token(reg: Registry, id_number: str, now: datetime | None = None) -> tuple[str, int]:
    return _mint(reg, id_number, "holder", "holder", HOLDER_SCOPES, now)


def _mint(
    reg: Registry, subject: str, typ: str, role: str, scopes: tuple[str, ...], now: datetime | None
) -> tuple[str, int]:
    now = now or datetime.now(UTC)
    ttl = reg.settings.token_ttl_seconds
    claims = {
        "iss": reg.settings.token_issuer,
        "aud": reg.settings.token_audience,
        "sub": subject,
        "typ": typ,
        "role": role,
        "scope": " ".join(scopes),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, _key(reg), algorithm="HS256"), ttl


VERIFIED_TOKENS_MAX = 4096


def read_token(reg: Registry, token: str) -> Principal:
    # A client sends the same token with every request; PyJWT's checks cost ~100 µs of a busy worker's time.
    # Tokens carry no state that can change before they expire, so a verified one answers as a decode would.
    verified = reg.verified_tokens.get(token)
    if verified is not None and time.time() < verified[1]:
        principal: Principal = verified[0]
        return principal
    principal, expires = _decode(reg, token)
    reg.verified_tokens[token] = (principal, expires)
    if len(reg.verified_tokens) > VERIFIED_TOKENS_MAX:
        reg.verified_tokens.popitem(last=False)
    return principal


def _decode(reg: Registry, token: str) -> tuple[Principal, float]:
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
    kind, role = claims.get("typ"), claims.get("role")
    if not ((kind == "org" and role in ORG_SCOPES) or (kind == "holder" and role == "holder")):
        raise errors.NotAuthenticated("令牌类型不符 / Wrong token type")
    scopes = claims.get("scope", "")
    if not isinstance(scopes, str):
        raise errors.NotAuthenticated("令牌无效 / Invalid token: bad scope claim")
    principal = Principal(kind=kind, subject=str(claims["sub"]), role=role, scopes=frozenset(scopes.split()))
    return principal, float(claims["exp"])
