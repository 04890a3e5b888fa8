"""The registry's calendar: China Standard Time (UTC+8, no daylight saving). A hall's "today", a due date,
a statistics day and the times the pages show are all read on this clock, whatever the server's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Final

CHINA: Final = timezone(timedelta(hours=8))


def local_day(at: datetime) -> date:
    return at.astimezone(CHINA).date()
