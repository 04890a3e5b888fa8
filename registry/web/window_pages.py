"""The window workstation, /window: pick the service item, scan the applicant's share code (亮证码), see each
material pulled or missing, record commitments (告知承诺), print the annotated copies; today's cases beside it.

What the page shows on load is rendered here through the same service functions the API uses, so a reload of
``/window?case=<id>`` (or ``?service=<code>``) shows the case again. ``window.js`` calls the JSON API for every
action and redraws the same markup from its answers, with the words handed over in ``#page-strings``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from registry import errors
from registry.auth import sessions
from registry.auth.tokens import Principal
from registry.calendar import CHINA
from registry.cases import service as cases
from registry.cases.schemas import CaseMaterialOut, CaseOut
from registry.context import Registry
from registry.models import WebSession
from registry.service_items import ServiceItem, default_service_catalog
from registry.stats.service import statistics
from registry.web.i18n import Lang, format_date, t
from registry.web.pages import page_lang, page_session, render, viewer_of

DELIVERED: Final = ("pulled", "fulfilled")
DEFAULT_DUE_DAYS: Final = 30  # the API's default for a commitment; the form starts there
MAX_DUE_DAYS: Final = 365  # the API accepts up to a year ahead
TODAY_LIST: Final = 100  # side panel: the newest cases of the day


class WindowPages(Controller):
    include_in_schema = False

    @get("/window", name="page.window")
    async def window_page(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Template | Redirect:
        row = await page_session(request, registry, "staff", ("agency",))
        if not isinstance(row, WebSession):
            return row
        lang = page_lang(request)
        principal = sessions.principal_of(row)
        catalog = default_service_catalog()
        today = datetime.now(CHINA).date()
        query = request.query_params
        case: CaseOut | None = None
        item: ServiceItem | None = None
        notice: str | None = None
        status = 200
        if query.get("case"):
            case_id = str(query.get("case"))[:64]
            try:
                case = await cases.get_case(registry, principal, case_id)
            except errors.NotFound:
                notice, status = t("window.case_missing", lang).format(id=case_id[:32]), 404
            else:
                item = catalog.get(case.service_code)
        elif query.get("service"):
            code = str(query.get("service"))[:64]
            if code in catalog:
                item = catalog.get(code)
            else:
                notice, status = t("window.service_missing", lang).format(code=code), 404

        # The commitment form's date range: the API's default, from today to a year ahead.
        due = {
            "default_due": (today + timedelta(days=DEFAULT_DUE_DAYS)).isoformat(),
            "max_due": (today + timedelta(days=MAX_DUE_DAYS)).isoformat(),
        }
        context = {
            "services": [_service_option(s, lang) for s in catalog.all()],
            "item": _item_view(item, lang) if item else None,
            "case": case,
            "case_meta": _case_meta(case, lang) if case else "",
            "rows": material_rows(registry, item, case, lang) if item else [],
            "offline": _offline_rows(item, lang) if item else [],
            "today_label": format_date(today, lang),
            "today": await _today(registry, principal, today, lang, current=case.case_id if case else None),
            "notice": notice,
            "min_due": today.isoformat(),
            **due,
            "data": {
                "today": today.isoformat(),
                **due,
                "agency": row.subject,
                "types": {lt.type: {"name": lt.name, "name_en": lt.name_en} for lt in registry.catalog.all()},
                "item": item.public() if item else None,
                "case": _case_json(case) if case else None,
            },
        }
        viewer = await viewer_of(registry, row)
        return render(
            request, registry, "window.html", "window.title", context, session=row, viewer=viewer, status=status
        )


# --- what the template shows (window.js builds the same from the API's answers) ----------------------------


def _service_option(item: ServiceItem, lang: Lang) -> dict[str, str]:
    return {
        "code": item.code,
        "name": item.name_en if lang == "en" else item.name,
        "agency": item.agency_type_en if lang == "en" else item.agency_type,
    }


def _item_view(item: ServiceItem, lang: Lang) -> dict[str, str]:
    return {
        **_service_option(item, lang),
        "time_limit": t("js.window.time_limit", lang).format(days=item.time_limit_days),
    }


def clock(stamp: str) -> str:
    """``HH:MM`` in China time of an API timestamp (``…Z``)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(CHINA).strftime("%H:%M")


def _case_meta(case: CaseOut, lang: Lang) -> str:
    opened = datetime.fromisoformat(case.created_at.replace("Z", "+00:00")).astimezone(CHINA)
    return t("js.window.case_meta", lang).format(
        id=case.case_id, time=f"{format_date(opened, lang)} {clock(case.created_at)}"
    )


def _case_json(case: CaseOut) -> dict[str, Any]:
    """The case for the script: everything but the credentials (the page never shows them; they are large)."""
    out = case.model_dump()
    for m in out["materials"]:
        m["credential"] = None
    return out


def _matching(case: CaseOut, index: int, license_type: str, party: str) -> CaseMaterialOut | None:
    """The case's material for the item's ``index``-th one (same order; matched by type and party to be sure)."""
    if index < len(case.materials):
        m = case.materials[index]
        if (m.license_type, m.party) == (license_type, party):
            return m
    return next((m for m in case.materials if (m.license_type, m.party) == (license_type, party)), None)


def material_rows(reg: Registry, item: ServiceItem, case: CaseOut | None, lang: Lang) -> list[dict[str, Any]]:
    """Each material of the item as the page lists it: names in the page's language, its state in words, the
    identifier and verdict of a pulled licence, the due date of a commitment, and whether one may be made."""
    delivered_groups = (
        {m.group for m in case.materials if m.group and m.state in DELIVERED} if case is not None else set()
    )
    rows: list[dict[str, Any]] = []
    for i, m in enumerate(item.materials):
        lt = reg.catalog.get(m.license_type)
        got = _matching(case, i, m.license_type, m.party) if case is not None else None
        state = got.state if got is not None else "waiting"
        if state == "missing" and m.group and m.group in delivered_groups:
            state = "not_needed"  # another alternative of its one-of group came
        elif state == "missing" and m.requirement == "optional":
            state = "optional_missing"
        detail: list[dict[str, Any]] = []
        verdict = limited = ""
        if got is not None and state in DELIVERED:
            verdict = t("js.window.verified", lang)
            detail = [
                {"text": t("js.window.identifier", lang), "cls": "material__label"},
                {"text": got.identifier or "", "cls": "material__id"},
            ]
            if got.fields is not None:
                limited = t("js.window.fields_limited", lang)
        elif got is not None and state == "committed":
            due = format_date(got.due_date, lang)
            detail = [{"text": t("js.window.detail.committed", lang).format(date=due), "cls": ""}]
        elif state in ("missing", "optional_missing") and got is not None and got.verdict not in (None, "valid"):
            word = t(f"js.verdict.{got.verdict}", lang)
            detail = [{"text": t("js.window.detail.found_invalid", lang).format(verdict=word), "cls": "material__bad"}]
        else:
            detail = [{"text": t(f"js.window.detail.{state}", lang), "cls": ""}]
        rows.append(
            {
                "index": i,
                "license_type": m.license_type,
                "party": m.party,
                "type_name": lt.name_en if lang == "en" else lt.name,
                "party_name": t(f"js.window.party.{m.party}", lang),
                "requirement": t(f"js.window.req.{m.requirement}", lang),
                "note": m.note_en if lang == "en" else m.note,
                "state": state,
                "state_label": t(f"js.window.state.{state}", lang),
                "badge": BADGES[state],
                "detail": detail,
                "verdict": verdict,
                "limited": limited,
                "can_commit": state == "missing",
            }
        )
    return rows


# The badge colour of each state: green delivered, red missing, amber promised, grey otherwise.
BADGES: Final = {
    "waiting": "",
    "pulled": "badge--ok",
    "fulfilled": "badge--ok",
    "missing": "badge--bad",
    "committed": "badge--warn",
    "not_needed": "",
    "optional_missing": "",
}


def _offline_rows(item: ServiceItem, lang: Lang) -> list[dict[str, str]]:
    return [
        {
            "name": o.name_en if lang == "en" else o.name,
            "note": t("js.window.offline.group", lang) if o.group else "",
        }
        for o in item.offline_materials
    ]


async def _today(
    reg: Registry, principal: Principal, today: date, lang: Lang, *, current: str | None
) -> dict[str, Any]:
    """The side panel: this agency's cases and paper copies spared today, and the list of today's cases."""
    figures = await statistics(reg, principal, period="day", start=today, end=today)
    mine = next((a for a in figures["by_agency"] if a["agency_code"] == principal.subject), None)
    listed = await cases.cases_of_day(reg, principal, today, limit=TODAY_LIST)
    rate = mine["free_of_paper_rate"] if mine else None
    return {
        "cases": mine["cases"] if mine else 0,
        "spared": mine["spared"] if mine else 0,
        "rate": f"{round(rate * 100)}%" if rate is not None else t("date.none", lang),
        "list": [
            {
                "case_id": c.case_id,
                "time": clock(c.created_at),
                "name": c.service_name_en if lang == "en" else c.service_name,
                "who": c.applicant_name or "",
                "counts": t("js.window.today.counts", lang).format(spared=c.exempted, missing=c.missing),
                "current": c.case_id == current,
            }
            for c in listed
        ],
    }
