"""The one place where every response gets its security, cache and CORS headers (a Litestar ``before_send`` hook).

A ``before_send`` hook sees every response the app sends — pages, API answers, problem documents, static files,
404s from the router — so nothing can be missed by a handler, a controller or an error path.

- Security headers on everything; a Content-Security-Policy on pages: scripts only from this origin (the pages'
  only inline ``<script>`` blocks are ``type="application/json"`` data, which CSP does not run or block).
- ``Cache-Control: no-store`` on API answers that carry personal data, unless the handler set its own.
- CORS, deny by default: the public reads and the verification endpoints allow every origin without credentials;
  origins named in ``REGISTRY_CORS_ORIGINS`` may call the rest of ``/api/`` with a bearer token (never cookies:
  no ``Access-Control-Allow-Credentials``); everything else sends no CORS header, so browsers refuse the
  cross-origin read and fail the preflight.
"""

from __future__ import annotations

from typing import Final

from litestar.types import Message, Scope

from registry.http.ratelimit import VERIFY_IMAGE_PATH, VERIFY_PATH, is_public_read
from registry.settings import Settings

# Our pages load nothing from elsewhere and run no inline script or style; QR codes are data: images, camera
# captures may be blob: URLs.
PAGE_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Litestar's API documentation viewers (/schema, /schema/swagger, …) are third-party pages: their scripts come from
# these CDNs and start with an inline call that embeds the schema. They carry no personal data; this policy keeps
# them to those hosts and lets them talk to this origin only.
DOCS_CSP: Final = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net https://cdn.redoc.ly https://unpkg.com; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://unpkg.com https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com data:; img-src 'self' data: https://cdn.jsdelivr.net; connect-src 'self'; "
    "worker-src blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Anything else (JSON, problem documents, an SVG opened on its own) is data: it may run nothing, be framed nowhere.
# PDFs get none: a CSP on a PDF document can stop the browser's own viewer.
DATA_CSP: Final = "default-src 'none'; frame-ancestors 'none'"

# Referrer-Policy is same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on same-origin
# form posts (Fetch, "append a request Origin header"), and the CSRF origin check (registry.auth.sessions) would
# refuse our own login and logout forms. same-origin still sends nothing to any other site, which is stricter
# than strict-origin-when-cross-origin.
COMMON: Final = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    # /verify and /window scan with the camera; nothing asks for anything else.
    ("permissions-policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"),
)
HSTS: Final = ("strict-transport-security", "max-age=31536000")

# API answers about people: holders' own data, cases, licences, batches, tokens (RFC 6749 §5.1) and verdicts
# (they name the holder). The trust list, status lists and DID documents set their own public caching.
NO_STORE_PREFIXES: Final = (
    "/api/v1/me",
    "/api/v1/cases",
    "/api/v1/commitments",
    "/api/v1/licenses",
    "/api/v1/batches",
    "/api/v1/auth",
    "/api/v1/verifications",
)

PREFLIGHT_MAX_AGE: Final = "7200"  # Chromium's ceiling
API_METHODS: Final = "GET, POST, PUT, PATCH, DELETE"
API_REQUEST_HEADERS: Final = "Authorization, Content-Type, Idempotency-Key, Accept-Language"
API_EXPOSE_HEADERS: Final = "Retry-After, ETag, Location, Content-Disposition"

Header = tuple[bytes, bytes]


def _encoded(*pairs: tuple[str, str]) -> list[Header]:
    return [(k.encode(), v.encode()) for k, v in pairs]


# Built once: the hook runs on every response, the scans' included.
_PAGE_CSP: Final = (b"content-security-policy", PAGE_CSP.encode())
_DOCS_CSP: Final = (b"content-security-policy", DOCS_CSP.encode())
_DATA_CSP: Final = (b"content-security-policy", DATA_CSP.encode())
_NO_STORE: Final = (b"cache-control", b"no-store")
_PUBLIC_CORS: Final = _encoded(
    ("access-control-allow-origin", "*"), ("access-control-expose-headers", "Retry-After, ETag")
)
_PUBLIC_PREFLIGHT: Final = _encoded(
    ("access-control-allow-headers", "Content-Type"), ("access-control-max-age", PREFLIGHT_MAX_AGE)
)
_API_CORS: Final = _encoded(("access-control-expose-headers", API_EXPOSE_HEADERS))
_API_PREFLIGHT: Final = _encoded(
    ("access-control-allow-methods", API_METHODS),
    ("access-control-allow-headers", API_REQUEST_HEADERS),
    ("access-control-max-age", PREFLIGHT_MAX_AGE),
)


def public_cors_methods(method: str, path: str) -> str | None:
    """The methods any origin may use on ``path`` (``method`` is the one asked for), or None if not public."""
    if method in ("GET", "HEAD") and is_public_read(path):
        return "GET, HEAD"
    if method == "POST" and path.rstrip("/") in (VERIFY_PATH, VERIFY_IMAGE_PATH):
        return "POST"
    return None


class EdgeHeaders:
    """The ``before_send`` hook: ``Litestar(before_send=[EdgeHeaders(settings)])``."""

    def __init__(self, settings: Settings) -> None:
        common = _encoded(*COMMON)
        if settings.base_url.startswith("https://"):
            common.extend(_encoded(HSTS))  # over plain http browsers ignore it anyway
        self._common = common
        self._owned = frozenset({k for k, _ in common} | {b"content-security-policy"})
        self._origins = frozenset(o.encode() for o in settings.cors_origins)

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        # Ours replace whatever a handler set for the same names: one policy, never two that browsers intersect.
        headers: list[Header] = []
        content_type = b""
        has_cache_control = False
        for key, value in message.get("headers") or ():
            name = key.lower()
            if name in self._owned:
                continue
            if name == b"content-type":
                content_type = value.lower()
            elif name == b"cache-control":
                has_cache_control = True
            headers.append((key, value))
        headers.extend(self._common)
        path: str = scope["path"]
        if content_type.startswith(b"text/html"):
            headers.append(_DOCS_CSP if path == "/schema" or path.startswith("/schema/") else _PAGE_CSP)
        elif not content_type.startswith(b"application/pdf"):
            headers.append(_DATA_CSP)
        if not has_cache_control and path.startswith(NO_STORE_PREFIXES):
            headers.append(_NO_STORE)
        self._cors(scope, path, headers)
        message["headers"] = headers

    def _cors(self, scope: Scope, path: str, headers: list[Header]) -> None:
        method = str(scope.get("method", ""))  # http scopes only reach a before_send hook
        origin: bytes | None = None
        asked_method: str | None = None
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value
            elif key == b"access-control-request-method":
                asked_method = value.decode("latin-1").upper()
        preflight = method == "OPTIONS" and origin is not None and asked_method is not None
        methods = public_cors_methods(asked_method if preflight and asked_method else method, path)
        if methods is not None:
            # Always, not only when Origin is sent: a shared cache may hand this answer to any browser.
            headers.extend(_PUBLIC_CORS)
            if preflight:
                headers.append((b"access-control-allow-methods", methods.encode()))
                headers.extend(_PUBLIC_PREFLIGHT)
            return
        if not self._origins or not path.startswith("/api/"):
            return
        headers.append((b"vary", b"Origin"))  # the answer depends on who asks
        if origin not in self._origins:
            return
        headers.append((b"access-control-allow-origin", origin))
        headers.extend(_API_CORS)
        if preflight:
            headers.extend(_API_PREFLIGHT)
