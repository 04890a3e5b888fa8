"""Access tokens: short-lived JWTs (PyJWT), HS256 under a key derived from the operator's master key.

Only this registry mints and reads them, so a symmetric key is enough; every worker derives the same key.
A token is accepted only when all of this holds:

1. its algorithm is HS256 (an allow-list of one: ``none``, RS*/ES*/PS* and HS512 are refused before any key
   is tried) and its ``kid`` header names the current or the previous key generation (see ``token_key``);
2. it verifies under that generation's key;
3. ``iss`` and ``aud`` are this registry's (``aud`` one string, not a list that merely contains ours);
4. ``exp``, ``nbf``, ``iat``, ``jti``, ``sub``, ``typ`` are present; ``nbf`` and ``iat`` are not in the future and
   ``exp`` is not past, each give or take ``LEEWAY`` for the clocks of different machines; it lives no longer
   than ``token_ttl_seconds``;
5. ``typ`` and ``role`` are one of ours (an organisation's token, or a holder's);
6. its ``jti`` is not revoked (``revoke``).

Replay, as this registry means it: a bearer token is meant to be presented again and again by its client until
it expires (RFC 6750), so reuse within its lifetime is not replay. Replay is presenting a token after it ended:
after its ``exp`` (refused everywhere, by the claims), after its holder revoked it (its ``jti`` is stored until
that ``exp``, and every worker refuses it, see ``read_token``), after its key generation was rotated out, or
to a registry or audience it was not minted for. Single-use things (share codes, registry-to-registry calls)
carry their own one-time rules elsewhere.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete

from registry import errors
from registry.context import Registry
from registry.models import RevokedToken

ALGORITHMS: Final = ["HS256"]
HOLDER_SCOPES = ("me",)
ORG_SCOPES: dict[str, tuple[str, ...]] = {
    "issuer": ("licenses:issue", "licenses:read", "licenses:manage"),
    "agency": ("services:read", "cases:write", "cases:read"),
}
LEEWAY: Final = 30  # seconds of clock skew between machines, for exp, nbf and iat alike
REQUIRED: Final = ["exp", "nbf", "iat", "iss", "aud", "sub", "typ", "jti"]
# Tokens minted before key generations existed carry no kid and no nbf; they are read as generation 1 (the same
# key) and expire within token_ttl_seconds of the upgrade like any other.
REQUIRED_LEGACY: Final = ["exp", "iat", "iss", "aud", "sub", "typ", "jti"]
_KID: Final = re.compile(r"jwt-([1-9][0-9]{0,8})")
_KEY_PURPOSE: Final = b"registry-jwt-hs256"


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


# --- keys and their rotation ---------------------------------------------------------------------------------


def key_id(generation: int) -> str:
    return f"jwt-{generation}"


def token_key(reg: Registry, generation: int) -> bytes:
    """The signing key of one generation, derived from the master key (nothing to store or hand out).

    Rotating it (a routine change, or a key that may have leaked):

    1. raise ``REGISTRY_TOKEN_KEY_GENERATION`` by one and restart every worker, all together if you can: a worker
       not yet restarted does not know the new ``kid`` and answers 401 to tokens a restarted one minted (the
       client fetches a new token, as it does when one expires);
    2. new tokens are signed under the new generation; those of the previous one keep working until they
       expire, at most ``token_ttl_seconds`` (+ ``LEEWAY``) later; older generations and unknown kids are refused;
    3. do not rotate again before that time has passed, or the previous generation's tokens are cut short.

    To end every outstanding token at once, raise the generation by two. Generation 1 derives exactly the key
    used before generations existed, so an upgrade leaves the tokens already issued valid.
    """
    if generation < 1:
        raise ValueError(f"REGISTRY_TOKEN_KEY_GENERATION must be 1 or more, not {generation}")
    suffix = b"" if generation == 1 else f"/generation-{generation}".encode()
    return reg.master_key.derive(_KEY_PURPOSE + suffix)


def _accepted(reg: Registry, generation: int) -> bool:
    current = reg.settings.token_key_generation
    return current - 1 <= generation <= current


def _generation_of(reg: Registry, header: dict[str, Any]) -> int:
    if "kid" not in header:
        generation = 1
    else:
        kid = header["kid"]
        found = _KID.fullmatch(kid) if isinstance(kid, str) else None
        if found is None or int(found[1]) > reg.settings.token_key_generation:
            raise errors.NotAuthenticated("令牌的密钥标识未知 / Invalid token: unknown key id (kid)")
        generation = int(found[1])
    if not _accepted(reg, generation):
        raise errors.NotAuthenticated("令牌的密钥已轮换作废，请重新获取 / Invalid token: its key was rotated out")
    return generation


# --- minting -------------------------------------------------------------------------------------------------


def mint_org_token(reg: Registry, org_code: str, role: str, now: datetime | None = None) -> tuple[str, int]:
    return _mint(reg, org_code, "org", role, ORG_SCOPES[role], now)


def mint_holder_token(reg: Registry, id_number: str, now: datetime | None = None) -> tuple[str, int]:
    return _mint(reg, id_number, "holder", "holder", HOLDER_SCOPES, now)


def _mint(
    reg: Registry, subject: str, typ: str, role: str, scopes: tuple[str, ...], now: datetime | None
) -> tuple[str, int]:
    now = now or datetime.now(UTC)
    ttl = reg.settings.token_ttl_seconds
    generation = reg.settings.token_key_generation
    claims = {
        "iss": reg.settings.token_issuer,
        "aud": reg.settings.token_audience,
        "sub": subject,
        "typ": typ,
        "role": role,
        "scope": " ".join(scopes),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    token = jwt.encode(claims, token_key(reg, generation), algorithm="HS256", headers={"kid": key_id(generation)})
    return token, ttl


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verified:
    """A token that passed every check, as one worker remembers it."""

    principal: Principal
    jti: str
    generation: int
    expires: float  # Unix time after which a decode would refuse it (exp + LEEWAY)
    checked_at: float  # when this worker last looked for its jti among the revoked


VERIFIED_TOKENS_MAX = 4096


async def read_token(reg: Registry, token: str) -> Principal:
    """The caller a bearer token names, or the error that refuses it.

    A client sends the same token with every request; PyJWT's checks cost ~100 µs of a busy worker's time, so a
    verified token is remembered and answers as a decode would. Only revocation can change before ``exp``: a
    remembered token's jti is looked up again once ``cache_poll_seconds`` (0.5 s by default) have passed since
    the last look, so a token revoked through another worker is refused here within that time. The worker that
    revokes a token forgets it at once (``revoke``), and a token it has not remembered is always looked up.
    """
    now = time.time()
    cached = reg.verified_tokens.get(token)
    seen: _Verified | None = cached[0] if cached is not None else None
    if seen is None or now >= seen.expires or not _accepted(reg, seen.generation):
        reg.verified_tokens.pop(token, None)
        seen = _decode(reg, token)
    elif now - seen.checked_at < reg.settings.cache_poll_seconds:
        return seen.principal
    if await is_revoked(reg, seen.jti):
        reg.verified_tokens.pop(token, None)
        raise errors.TokenRevoked("令牌已注销，请重新获取 / The token was revoked; request a new one")
    reg.verified_tokens[token] = (replace(seen, checked_at=now), seen.expires)
    if len(reg.verified_tokens) > VERIFIED_TOKENS_MAX:
        reg.verified_tokens.popitem(last=False)
    return seen.principal


def _decode(reg: Registry, token: str) -> _Verified:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise errors.NotAuthenticated(f"令牌无效 / Invalid token: {exc}") from exc
    generation = _generation_of(reg, header)
    try:
        claims = jwt.decode(
            token,
            token_key(reg, generation),
            algorithms=ALGORITHMS,
            audience=reg.settings.token_audience,
            issuer=reg.settings.token_issuer,
            leeway=LEEWAY,
            options={"require": REQUIRED if "kid" in header else REQUIRED_LEGACY, "strict_aud": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise errors.TokenExpired("令牌已过期，请重新获取 / The token has expired; request a new one") from exc
    except jwt.PyJWTError as exc:
        raise errors.NotAuthenticated(f"令牌无效 / Invalid token: {exc}") from exc
    kind, role, jti = claims.get("typ"), claims.get("role"), claims["jti"]
    if not ((kind == "org" and role in ORG_SCOPES) or (kind == "holder" and role == "holder")):
        raise errors.NotAuthenticated("令牌类型不符 / Invalid token: wrong token type")
    exp, iat = claims["exp"], claims["iat"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat)):
        raise errors.NotAuthenticated("令牌无效 / Invalid token: exp and iat must be integers")
    if exp - iat > reg.settings.token_ttl_seconds:
        raise errors.NotAuthenticated("令牌有效期过长 / Invalid token: it lives longer than this registry allows")
    if not isinstance(jti, str) or not 0 < len(jti) <= 64:
        raise errors.NotAuthenticated("令牌无效 / Invalid token: bad jti claim")
    scopes = claims.get("scope", "")
    if not isinstance(scopes, str):
        raise errors.NotAuthenticated("令牌无效 / Invalid token: bad scope claim")
    # A token grants at most what its role may do, whatever its scope claim lists.
    allowed = ORG_SCOPES[role] if kind == "org" else HOLDER_SCOPES
    principal = Principal(
        kind=kind, subject=str(claims["sub"]), role=role, scopes=frozenset(scopes.split()) & frozenset(allowed)
    )
    return _Verified(principal, jti, generation, float(exp + LEEWAY), checked_at=0.0)


# --- revocation ----------------------------------------------------------------------------------------------


async def is_revoked(reg: Registry, jti: str) -> bool:
    async with reg.db.read() as session:
        return await session.get(RevokedToken, jti) is not None


async def revoke(reg: Registry, caller: Principal, token: str) -> bool:
    """End ``token`` now, for every worker (RFC 7009). A token that is already unusable (expired, malformed,
    not ours) needs nothing and is no error; one of another subject is not the caller's to end.

    Returns whether a token was revoked. Revocations are kept until the token would have expired anyway;
    those past it are swept here, on the way.
    """
    try:
        target = _decode(reg, token)
    except errors.NotAuthenticated:
        return False
    mine = target.principal
    if (mine.kind, mine.subject) != (caller.kind, caller.subject):
        raise errors.Forbidden("只能注销自己的令牌 / You may revoke only your own tokens")
    now = datetime.now(UTC)
    try:
        async with reg.db.transaction() as session:
            await session.exec(delete(RevokedToken).where(col(RevokedToken.expires_at) < now))
            if await session.get(RevokedToken, target.jti) is None:
                session.add(RevokedToken(jti=target.jti, expires_at=datetime.fromtimestamp(target.expires, UTC)))
    except IntegrityError:
        pass  # revoked at the same moment through another request: the outcome asked for
    _forget(reg, target.jti)
    return True


def _forget(reg: Registry, jti: str) -> None:
    """This worker stops answering from memory for the token with ``jti``."""
    for token in [t for t, (seen, _) in reg.verified_tokens.items() if seen.jti == jti]:
        del reg.verified_tokens[token]
