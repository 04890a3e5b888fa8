"""Monotonic counters in the database: how workers learn that their in-memory copies are out of date."""

from __future__ import annotations

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.models import Counter

STATUS = "status"
KEYS = "keys"


async def bump(session: AsyncSession, name: str) -> int:
    """Increment a counter inside the caller's transaction; the new value is visible once it commits."""
    value = (
        await session.exec(
            update(Counter)
            .where(col(Counter.name) == name)
            .values(value=Counter.value + 1)
            .returning(col(Counter.value))
        )
    ).one()
    return int(value[0])


async def read_all(session: AsyncSession) -> dict[str, int]:
    return {c.name: c.value for c in (await session.exec(select(Counter))).all()}
