"""The seam where holders' identity comes from: the built-in password login today, a national e-ID later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class HolderIdentity:
    id_type: str
    id_number: str
    name: str


class IdentityProvider(Protocol):
    """Who a holder is. ``authenticate`` raises ``registry.errors.NotAuthenticated`` (or ``RateLimited``)."""

    async def authenticate(self, id_number: str, password: str) -> HolderIdentity: ...
