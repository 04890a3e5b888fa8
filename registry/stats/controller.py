"""HTTP: statistics for departments and agencies."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from registry import errors
from registry.auth.deps import provide_principal
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.stats.service import statistics


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise errors.ValidationFailed(f"{name} 须为 YYYY-MM-DD / {name} must be YYYY-MM-DD", field=name) from exc


class StatsController(Controller):
    path = "/api/v1/stats"
    tags = ["statistics"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal)}  # noqa: RUF012

    @get("/", summary="Issued, verified, pulled, paper spared / 统计")
    async def stats(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        period: FromQuery[str] = "day",
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        return await statistics(registry, principal, period=period, start=_day(start, "start"), end=_day(end, "end"))
