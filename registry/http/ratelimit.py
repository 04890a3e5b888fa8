"""A per-client token bucket for the public endpoints (per worker: a worker's memory is the bucket)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from registry import errors

MAX_CLIENTS = 10_000


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


def client_key(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"
