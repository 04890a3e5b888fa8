"""Statistics (DESIGN §3 flow 5, §6 `GET /api/v1/stats`): issued, verified, pulled, and the paper copies a
hall spared — the free-of-paper rate (免提交率) per service item and per agency, by day or month."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import col, select

from registry import errors
from registry.auth.tokens import Principal
from registry.calendar import CHINA, local_day
from registry.context import Registry
from registry.models import Case, CaseMaterial, DailyCounter, License, Organisation
from registry.service_items import default_service_catalog

SPARED = ("pulled", "fulfilled")


def _bucket(day: date, period: str) -> str:
    return day.strftime("%Y-%m") if period == "month" else day.isoformat()


def _rate(spared: int, total: int) -> float | None:
    return round(spared / total, 4) if total else None


async def statistics(
    reg: Registry, principal: Principal, *, period: str, start: date | None, end: date | None
) -> dict[str, Any]:
    if principal.kind != "org":
        raise errors.Forbidden("统计仅供机构查看 / Statistics are for departments and agencies")
    if period not in ("day", "month"):
        raise errors.ValidationFailed("period 须为 day 或 month / period must be day or month")
    await reg.tally.flush()  # what this worker counted is in what it reports
    end = end or local_day(datetime.now(UTC))
    start = start or end - timedelta(days=30)
    if start > end or (end - start).days > 3660:
        raise errors.ValidationFailed("统计区间无效（最长十年）/ Invalid range (at most ten years)")
    lo = datetime.combine(start, time(), tzinfo=CHINA)
    hi = datetime.combine(end + timedelta(days=1), time(), tzinfo=CHINA)
    catalog = default_service_catalog()
    series: dict[str, dict[str, int]] = defaultdict(lambda: {"issued": 0, "verified": 0, "pulled": 0, "spared": 0})
    async with reg.db.read() as session:
        issued = await session.exec(
            select(License.issued_at).where(col(License.issued_at) >= lo, col(License.issued_at) < hi)
        )
        for at in issued.all():
            series[_bucket(local_day(at), period)]["issued"] += 1
        counted = await session.exec(
            select(DailyCounter).where(col(DailyCounter.day) >= start, col(DailyCounter.day) <= end)
        )
        for row in counted.all():
            if row.metric == "verified":
                series[_bucket(row.day, period)]["verified"] += row.value
        rows = await session.exec(
            select(CaseMaterial, Case).where(
                col(CaseMaterial.case_id) == col(Case.id), col(Case.created_at) >= lo, col(Case.created_at) < hi
            )
        )
        materials = list(rows.all())
        names = {o.code: o.name for o in (await session.exec(select(Organisation))).all()}

    # A one-of group is one material: whichever alternative came, one paper was not needed.
    per_case: dict[str, dict[str, Any]] = {}
    for m, case in materials:
        entry = per_case.setdefault(case.id, {"case": case, "total": 0, "spared": 0, "groups": {}})
        if m.group:
            entry["groups"][m.group] = entry["groups"].get(m.group, False) or m.state in SPARED
            continue
        entry["total"] += 1
        if m.state in SPARED:
            entry["spared"] += 1
            series[_bucket(local_day(m.pulled_at or case.created_at), period)]["pulled"] += 1
    by_service: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "materials": 0, "spared": 0})
    by_agency: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "materials": 0, "spared": 0})
    for entry in per_case.values():
        case = entry["case"]
        total = entry["total"] + len(entry["groups"])
        spared = entry["spared"] + sum(1 for ok in entry["groups"].values() if ok)
        series[_bucket(local_day(case.created_at), period)]["spared"] += spared
        for table, key in ((by_service, case.service_code), (by_agency, case.agency_code)):
            table[key]["cases"] += 1
            table[key]["materials"] += total
            table[key]["spared"] += spared
    totals = {k: sum(s[k] for s in series.values()) for k in ("issued", "verified", "pulled", "spared")}
    totals["cases"] = len(per_case)
    return {
        "period": period,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "totals": totals,
        "free_of_paper_rate": _rate(
            sum(s["spared"] for s in by_service.values()), sum(s["materials"] for s in by_service.values())
        ),
        "series": [{"period": k, **v} for k, v in sorted(series.items())],
        "by_service": [
            {
                "service_code": code,
                "service_name": catalog.get(code).name if code in catalog else code,
                **v,
                "free_of_paper_rate": _rate(v["spared"], v["materials"]),
            }
            for code, v in sorted(by_service.items())
        ],
        "by_agency": [
            {
                "agency_code": code,
                "agency_name": names.get(code, code),
                **v,
                "free_of_paper_rate": _rate(v["spared"], v["materials"]),
            }
            for code, v in sorted(by_agency.items())
        ],
    }
