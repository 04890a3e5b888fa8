"""A per-client token bucket for the public endpoints (per worker: a worker's memory is the bucket)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from registry import errors

MAX_CLIENTS = 10_000
# The public reads (no token; verifiers, peers and browsers anywhere fetch them): exact paths and prefixes.
PUBLIC_READS = frozenset({"/api/v1/trust-list"})
PUBLIC_READ_PREFIXES = ("/api/v1/status-lists/", "/status-lists/", "/api/v1/log/")
# The public verification endpoints (POST, no token).
VERIFY_PATH = "/api/v1/verifications"
VERIFY_IMAGE_PATH = "/api/v1/verifications/image"


@dataclass
class RateLimiter:
    per_minute: int
    what: str = "核验请求 / verification requests"  # named in the 429's detail
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # client → (tokens, last time)

    def take(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            retry = max(1, math.ceil((1.0 - tokens) / rate))
            zh, _, en = self.what.partition(" / ")
            raise errors.RateLimited(
                f"{zh}过于频繁，请 {retry} 秒后重试 / Too many {en}; retry in {retry} s",
                retry_after=retry,
            )
        if len(self._buckets) >= MAX_CLIENTS and client not in self._buckets:
            self._buckets.clear()  # bounded memory: forgetting everyone is generous, never wrong
        self._buckets[client] = (tokens - 1.0, now)


def client_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    # Behind a reverse proxy this is the proxy's address unless uvicorn trusts its X-Forwarded-For
    # (`registry serve` passes proxy_headers=True; FORWARDED_ALLOW_IPS names the proxies, 127.0.0.1 by default).
    return connection.client.host if connection.client else "unknown"


def is_public_read(path: str) -> bool:
    """A GET anyone may make: the trust list, status lists, DID documents, the transparency log and a licence's
    log proof (the same set registry.http.headers opens to every origin)."""
    if path in PUBLIC_READS or path.startswith(PUBLIC_READ_PREFIXES):
        return True
    if path.startswith("/departments/"):
        return path.endswith("/did.json")
    return path.startswith("/api/v1/licenses/") and path.endswith("/log-proof")


async def limit_public(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """An app-wide guard (guards run before the body is read): the public reads and photo verifications take a
    token from their buckets. Scans (POST /api/v1/verifications) and logins take theirs in their handlers.
    Async on purpose: Litestar runs a plain function guard in a worker thread, a thread hop on every request."""
    scope = connection.scope
    method = scope.get("method")
    if method == "GET" or method == "HEAD":
        if is_public_read(scope["path"]):
            connection.app.state.registry.read_limiter.take(client_key(connection))
    elif method == "POST" and scope["path"].rstrip("/") == VERIFY_IMAGE_PATH:
        connection.app.state.registry.image_limiter.take(client_key(connection))
