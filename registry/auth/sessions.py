"""Page sessions: a random token in an HttpOnly, SameSite cookie; only its SHA-256 is stored, with the
session's CSRF token. The JSON API accepts the cookie too (so the pages call the API the systems use), and
then every change must carry the session's CSRF token in ``X-CSRF-Token`` and come from this origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from litestar import Request, Response
from sqlmodel import col, delete

from registry import errors
from registry.auth.tokens import HOLDER_SCOPES, ORG_SCOPES, Principal
from registry.context import Registry
from registry.models import WebSession

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# A counter shift for a clerk, a visit to a window for a citizen; idle sessions end sooner.
IDLE: Final = {"staff": timedelta(minutes=30), "holder": timedelta(minutes=15)}
ABSOLUTE: Final = {"staff": timedelta(hours=10), "holder": timedelta(hours=2)}
TOUCH_EVERY: Final = timedelta(seconds=60)  # sliding expiry without a write on every request
CSRF_HEADER: Final = "x-csrf-token"
CSRF_FIELD: Final = "_csrf"


def cookie_name(reg: Registry) -> str:
    # The __Host- prefix (Secure, Path=/, no Domain) needs HTTPS; plain-HTTP deployments (tests, a laptop)
    # use the bare name.
    return "__Host-registry_session" if _secure(reg) else "registry_session"


def login_cookie_name(reg: Registry) -> str:
    return "__Host-registry_login" if _secure(reg) else "registry_login"


def _secure(reg: Registry) -> bool:
    return reg.settings.base_url.startswith("https://")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(s: WebSession) -> Principal:
    if s.kind == "holder":
        return Principal(kind="holder", subject=s.subject, role="holder", scopes=frozenset(HOLDER_SCOPES))
    return Principal(kind="org", subject=s.subject, role=s.role, scopes=frozenset(ORG_SCOPES[s.role]), user=s.username)


async def start(reg: Registry, *, kind: str, subject: str, role: str, username: str | None = None) -> str:
    """A new session; returns the cookie's token. Expired sessions of anyone are swept on the way."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with reg.db.transaction() as session:
        await session.exec(delete(WebSession).where(col(WebSession.expires_at) < now))
        session.add(
            WebSession(
                token_hash=_hash(token),
                kind=kind,
                subject=subject,
                username=username,
                role=role,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + IDLE[kind],
            )
        )
    return token


async def load(reg: Registry, request: Request[Any, Any, Any]) -> WebSession | None:
    """The live session named by the request's cookie; ``SessionExpired`` when the cookie names a dead one."""
    token = request.cookies.get(cookie_name(reg))
    if not token:
        return None
    if len(token) > 100:
        raise errors.SessionExpired()
    now = datetime.now(UTC)
    async with reg.db.read() as session:
        row = await session.get(WebSession, _hash(token))
    if row is None or row.expires_at <= now or row.created_at + ABSOLUTE[row.kind] <= now:
        raise errors.SessionExpired()
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        row.expires_at = min(now + IDLE[row.kind], row.created_at + ABSOLUTE[row.kind])
        async with reg.db.transaction() as session:
            await session.merge(row)
    return row


async def end(reg: Registry, row: WebSession) -> None:
    async with reg.db.transaction() as session:
        await session.exec(delete(WebSession).where(col(WebSession.token_hash) == row.token_hash))


async def end_all(reg: Registry, subject: str) -> int:
    """Log everyone of ``subject`` out (an organisation's staff, or a holder), e.g. after a password reset."""
    async with reg.db.transaction() as session:
        result = await session.exec(delete(WebSession).where(col(WebSession.subject) == subject))
    return int(result.rowcount or 0)


def set_cookie(reg: Registry, response: Response[Any], token: str) -> None:
    # No Max-Age: the cookie ends with the browser; the server ends the session on its own clock.
    response.set_cookie(cookie_name(reg), token, path="/", httponly=True, secure=_secure(reg), samesite="lax")


def clear_cookie(reg: Registry, response: Response[Any]) -> None:
    response.delete_cookie(cookie_name(reg), path="/")


def check_csrf(row: WebSession, supplied: str | None) -> None:
    if not supplied or not hmac.compare_digest(supplied.encode(), row.csrf_token.encode()):
        raise errors.CsrfFailed()


def check_origin(reg: Registry, request: Request[Any, Any, Any]) -> None:
    """A change made with a cookie must come from a page of this registry (Origin, else Referer)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return  # old browsers and some privacy settings send neither; the CSRF token still guards
    origin = urlsplit(source)
    allowed = {urlsplit(reg.settings.base_url).netloc, request.headers.get("host", "")}
    if origin.netloc not in allowed:
        raise errors.CsrfFailed("请求来自其他网站，已拒绝 / The request came from another site; refused")


# --- the login form's own CSRF token, before there is a session (double-submit cookie) ----------------


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def check_login_token(reg: Registry, request: Request[Any, Any, Any], supplied: str | None) -> None:
    cookie = request.cookies.get(login_cookie_name(reg))
    if not cookie or not supplied or not hmac.compare_digest(cookie.encode(), supplied.encode()):
        raise errors.CsrfFailed()
    check_origin(reg, request)


def set_login_cookie(reg: Registry, response: Response[Any], token: str) -> None:
    response.set_cookie(
        login_cookie_name(reg), token, path="/", httponly=True, secure=_secure(reg), samesite="strict", max_age=3600
    )
