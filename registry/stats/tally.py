"""Counts that the hot path only adds to: public verifications. Kept in memory per worker and written to
the database at most once a second (one UPDATE per metric and day), instead of a write transaction per scan.

A worker that dies loses at most its last second of counts; statistics are a tally, not a ledger. Readers
in this worker flush first, so what this worker counted is always in what it reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, update

from registry.calendar import local_day
from registry.db import Database
from registry.models import DailyCounter

FLUSH_EVERY = 1.0  # seconds

log = logging.getLogger("registry.stats")


async def add_to_day(db: Database, day: date, metric: str, n: int) -> None:
    """Add ``n`` to a day's metric (one UPDATE; the day's first hit inserts, a racing insert retries)."""
    for _ in range(2):
        try:
            async with db.transaction() as session:
                done = (
                    await session.exec(
                        update(DailyCounter)
                        .where(col(DailyCounter.day) == day, col(DailyCounter.metric) == metric)
                        .values(value=DailyCounter.value + n)
                        .returning(col(DailyCounter.value))
                    )
                ).first()
                if done is None:
                    session.add(DailyCounter(day=day, metric=metric, value=n))
            return
        except IntegrityError:
            continue


class Tally:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: Counter[tuple[date, str]] = Counter()
        self._last_flush = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, metric: str, n: int = 1) -> None:
        self._pending[(local_day(datetime.now(UTC)), metric)] += n
        if time.monotonic() - self._last_flush >= FLUSH_EVERY and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self._background_flush())

    async def _background_flush(self) -> None:
        try:
            await self.flush()
        except Exception:  # the counts stay pending and go with the next flush
            log.exception("could not write the tally; will retry")

    async def flush(self) -> None:
        async with self._lock:
            self._last_flush = time.monotonic()
            pending, self._pending = self._pending, Counter()
            try:
                for (day, metric), n in list(pending.items()):
                    await add_to_day(self._db, day, metric, n)
                    del pending[(day, metric)]
            finally:
                self._pending.update(pending)  # what was not written waits for the next flush
