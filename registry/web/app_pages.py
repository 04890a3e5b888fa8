"""The citizen app, /app (phone-first): my licences, 亮证 (a one-time code), standing consents, the access log,
and agents (代办). Everything shown on load is rendered here through the service functions the JSON API uses;
the page's script calls that API for every action, and reloads a list through ``/app/fragments/<name>``,
which renders the same partial templates, so a list never has two markups.

``?as=<ID number>`` acts for a principal who made the holder their agent (the API's ``on_behalf_of``);
``?tab=`` opens one section.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from registry import errors
from registry.auth.sessions import principal_of
from registry.calendar import CHINA
from registry.context import Registry
from registry.holders import service as holders
from registry.licence_types import FieldSpec
from registry.licenses.service import effective_status
from registry.models import AccessLog, AgentGrant, Consent, License, Organisation, WebSession
from registry.service_items import default_service_catalog
from registry.sharing import service as sharing
from registry.web.i18n import Lang, format_date, t
from registry.web.pages import localise, page_lang, page_session, render, viewer_of

TABS: Final = ("licences", "share", "consents", "log", "agents")
# Badge colour of each licence status (GB/T practice: 01 有效 … 07 吊销).
STATUS_BADGE: Final = {
    "active": "ok",
    "suspended": "warn",
    "transferred": "warn",
    "revoked": "bad",
    "withdrawn": "bad",
    "cancelled": "bad",
    "expired": "bad",
    "superseded": "",
}
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
FRAGMENTS: Final = {"consents": "app/consent_list.html", "log": "app/log_list.html", "agents": "app/agent_lists.html"}


def mask_id(id_number: str) -> str:
    """An ID number as the page shows it to passers-by: region and last four kept (4403**********2316)."""
    if len(id_number) < 12:
        return id_number
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def moment(value: datetime | None, lang: Lang) -> str:
    """A moment in China time: ``2026年11月23日 14:05`` / ``2026-11-23 14:05``."""
    if value is None:
        return t("date.none", lang)
    local = value.astimezone(CHINA)
    return f"{format_date(local.date(), lang)} {local:%H:%M}"


def china_day(value: datetime | None, lang: Lang) -> str:
    return format_date(value.astimezone(CHINA).date() if value else None, lang)


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and for whom: their own data, or a principal's under an agent grant."""

    row: WebSession
    acting: holders.Acting
    can_all: bool  # an "all" grant (or oneself): consents and the access log too
    error: str | None = None  # ?as= named someone the holder may not act for


async def _viewer(request: Request[Any, Any, Any], registry: Registry, row: WebSession) -> Viewer:
    principal = principal_of(row)
    wanted = request.query_params.get("as") or None
    lang = page_lang(request)
    try:
        acting = await holders.acting_for(registry, principal, wanted, "share")
    except errors.Forbidden as exc:
        return Viewer(row, await holders.acting_for(registry, principal, None), True, localise(exc.detail, lang))
    try:
        await holders.acting_for(registry, principal, wanted, "all")
        can_all = True
    except errors.Forbidden:
        can_all = False
    return Viewer(row, acting, can_all)


class AppPages(Controller):
    include_in_schema = False

    @get("/app", name="page.app")
    async def app_page(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Template | Redirect:
        """我的电子证照: five sections as tabs; the one in ``?tab=`` open, else the licences."""
        row = await page_session(request, registry, "holder", ("holder",))
        if not isinstance(row, WebSession):
            return row
        who = await _viewer(request, registry, row)
        lang = page_lang(request)
        tab = request.query_params.get("tab", "licences")
        context = await _sections(registry, who, lang, set(TABS))
        context.update(tab=tab if tab in TABS else "licences", acting_error=who.error)
        if who.acting.by_agent:
            await sharing.log_agent_act(registry, who.acting, "代办人查看证照列表 / agent listed the licences")
        viewer = await viewer_of(registry, row)
        return render(request, registry, "app.html", "app.title", context, session=row, viewer=viewer)

    @get("/app/fragments/{name:str}", name="page.app.fragment")
    async def fragment(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], name: FromPath[str]
    ) -> Template | Redirect:
        """One list of the page, rendered as on load: the script swaps it in after a change."""
        if name not in FRAGMENTS:
            raise errors.NotFound(f"没有此页面片段 / No page fragment {name[:40]}")
        row = await page_session(request, registry, "holder", ("holder",))
        if not isinstance(row, WebSession):
            return row
        who = await _viewer(request, registry, row)
        context = await _sections(registry, who, page_lang(request), {name})
        return render(request, registry, FRAGMENTS[name], "app.title", context, session=row)


async def _sections(registry: Registry, who: Viewer, lang: Lang, wanted: set[str]) -> dict[str, Any]:
    """The data of the sections in ``wanted``, shaped for the templates (words in ``lang``)."""
    acting = who.acting
    catalog = registry.catalog
    services = default_service_catalog()
    ctx: dict[str, Any] = {"can_all": who.can_all, "me": who.row.subject}
    names = await sharing.holder_names(registry, {acting.holder_id_number, acting.actor_id_number})
    ctx["acting"] = (
        {
            "id_number": acting.holder_id_number,
            "masked": mask_id(acting.holder_id_number),
            "name": names.get(acting.holder_id_number, acting.holder_id_number),
        }
        if acting.by_agent
        else None
    )

    def type_name(license_type: str | None) -> str:
        if not license_type or license_type not in catalog:
            return license_type or t("date.none", lang)
        lt = catalog.get(license_type)
        return lt.name_en if lang == "en" else lt.name

    def service_name(code: str | None) -> str:
        if not code:
            return ""
        if code not in services:
            return code
        item = services.get(code)
        return item.name_en if lang == "en" else item.name

    def field_labels(license_type: str | None, fields: list[str] | None) -> list[str]:
        if not fields or not license_type or license_type not in catalog:
            return list(fields or [])
        by_name = {f.name: (f.label_en if lang == "en" else f.label) for f in catalog.get(license_type).fields}
        return [by_name.get(n, n) for n in fields]

    if wanted & {"licences", "share"}:
        rows = await sharing.holder_licences(registry, acting)
        current = [_licence(registry, lic, org, lang) for lic, org in rows if lic.status != "superseded"]
        ctx["licences"] = current
        ctx["history"] = [_licence(registry, lic, org, lang) for lic, org in rows if lic.status == "superseded"]
        held = sorted({lic["type"] for lic in current}, key=lambda x: [lt.type for lt in catalog.all()].index(x))
        ctx["held_types"] = [
            {
                "type": lt,
                "name": type_name(lt),
                "fields": [
                    {"name": f.name, "label": f.label_en if lang == "en" else f.label} for f in catalog.get(lt).fields
                ],
            }
            for lt in held
        ]
    if wanted & {"share", "consents"}:
        ctx["services"] = [
            {
                "code": item.code,
                "name": item.name_en if lang == "en" else item.name,
                "needs": t("app.list_sep", lang).join(dict.fromkeys(type_name(m.license_type) for m in item.materials)),
            }
            for item in services.all()
        ]
        ctx["agencies"] = [{"code": o.code, "name": o.name} for o in await sharing.agencies(registry)]
        ctx["all_types"] = [
            {
                "type": lt.type,
                "name": lt.name_en if lang == "en" else lt.name,
                "fields": [{"name": f.name, "label": f.label_en if lang == "en" else f.label} for f in lt.fields],
            }
            for lt in catalog.all()
        ]
        today = datetime.now(CHINA).date()
        ctx["dates"] = {
            "min": (today + timedelta(days=1)).isoformat(),
            "default": date(today.year + 1, today.month, min(today.day, 28)).isoformat(),
            "max": (today + timedelta(days=365 * 5)).isoformat(),
        }
        ctx["app_data"] = {
            "acting": acting.holder_id_number if acting.by_agent else None,
            "types": {lt.type: type_name(lt.type) for lt in catalog.all()},
            "fields": {
                lt.type: {f.name: (f.label_en if lang == "en" else f.label) for f in lt.fields} for lt in catalog.all()
            },
            "services": {item.code: service_name(item.code) for item in services.all()},
        }
    if "consents" in wanted and who.can_all:
        consents = await sharing.consents_with_agencies(registry, acting)
        shaped = [_consent(c, agency, lang, type_name, service_name, field_labels) for c, agency in consents]
        ctx["consents"] = [c for c in shaped if c["active"]]
        ctx["past_consents"] = [c for c in shaped if not c["active"]]
    if "log" in wanted and who.can_all:
        entries = await sharing.access_log(registry, acting)
        people = await sharing.holder_names(
            registry, {e.agent_id_number for e in entries if e.agent_id_number} | {acting.holder_id_number}
        )
        ctx["log"] = _grouped([_entry(e, lang, people, type_name, service_name, field_labels) for e in entries])
    if "agents" in wanted:
        mine, theirs = await holders.agent_grants(registry, who.row.subject)
        people = await sharing.holder_names(
            registry, {g.agent_id_number for g in mine} | {g.principal_id_number for g in theirs}
        )
        ctx["agents"] = [_grant(g, g.agent_id_number, people, lang) for g in mine]
        ctx["principals"] = [_grant(g, g.principal_id_number, people, lang) for g in theirs]
    return ctx


def _licence(registry: Registry, lic: License, org: Organisation, lang: Lang) -> dict[str, Any]:
    lt = registry.catalog.get(lic.license_type)
    status = effective_status(lic)
    values = json.loads(lic.credential_jcs)["credentialSubject"]["fields"]
    base = f"/api/v1/licenses/{lic.identifier}"
    return {
        "identifier": lic.identifier,
        "type": lic.license_type,
        "name": lt.name_en if lang == "en" else lt.name,
        "status": status,
        "badge": STATUS_BADGE.get(status, ""),
        "valid_from": format_date(lic.valid_from.astimezone(CHINA).date(), lang),
        "valid_until": format_date(lic.valid_until.astimezone(CHINA).date(), lang) if lic.valid_until else None,
        "issued_at": china_day(lic.issued_at, lang),
        "issuer": org.name,
        "holder_name": lic.holder_name,
        "version": lic.version,
        "fields": [
            {"label": f.label_en if lang == "en" else f.label, "value": _field_text(f, values[f.name], lang)}
            for f in lt.fields
            if f.name in values
        ],
        "qr_url": f"{base}/qr.svg",
        "pdf_url": f"{base}/pdf",
    }


def _field_text(spec: FieldSpec, value: object, lang: Lang) -> str:
    """A field's value as the holder reads it: dates in the page's format, units after numbers."""
    if isinstance(value, list):
        return t("app.list_sep", lang).join(str(v) for v in value)
    text = str(value)
    if spec.type in ("date", "date_or_long", "datetime") and _ISO_DATE.match(text):
        shown = format_date(text[:10], lang)
        return f"{shown} {text[11:16]}" if spec.type == "datetime" and len(text) >= 16 else shown
    return f"{text} {spec.unit}" if spec.unit else text


def _consent(
    c: Consent, agency: str, lang: Lang, type_name: Any, service_name: Any, field_labels: Any
) -> dict[str, Any]:
    now = datetime.now(UTC)
    state = "withdrawn" if c.withdrawn_at is not None else "expired" if c.valid_until <= now else "active"
    return {
        "id": c.id,
        "agency": agency,
        "agency_code": c.agency_code,
        "purpose": c.purpose,
        "service": service_name(c.service_code),
        "types": [type_name(lt) for lt in c.license_types],
        "limits": [
            {"type": type_name(lt), "fields": field_labels(lt, names)} for lt, names in sorted((c.fields or {}).items())
        ],
        "until": china_day(c.valid_until, lang),
        "granted": china_day(c.created_at, lang),
        "withdrawn": china_day(c.withdrawn_at, lang) if c.withdrawn_at else None,
        "state": state,
        "active": state == "active",
    }


def _entry(
    e: AccessLog, lang: Lang, people: dict[str, str], type_name: Any, service_name: Any, field_labels: Any
) -> dict[str, Any]:
    actor = e.actor_name
    if e.actor_kind == "agent":
        actor = people.get(e.actor_code, mask_id(e.actor_code))
    agent = None
    if e.agent_id_number and e.actor_kind != "agent":  # an agent's own act already names them
        agent = people.get(e.agent_id_number, mask_id(e.agent_id_number))
    return {
        "at": moment(e.at, lang),
        "iso": e.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "actor": actor or e.actor_code,
        "actor_kind": e.actor_kind,
        "via": e.via,
        "purpose": localise(e.purpose, lang),
        "service": service_name(e.service_code),
        "agent": agent,
        "window": e.staff_username,
        "case_id": e.case_id,
        "items": [
            {
                "licence": type_name(e.license_type),
                "identifier": e.identifier,
                "fields": field_labels(e.license_type, e.fields) if e.fields is not None else None,
            }
        ]
        if e.license_type
        else [],
    }


def _grouped(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One card per pull: the licences a window took in one case, by one way, read as one event."""
    out: list[dict[str, Any]] = []
    for e in entries:
        last = out[-1] if out else None
        if (
            last is not None
            and e["case_id"] is not None
            and all(last[k] == e[k] for k in ("case_id", "actor", "via", "purpose", "agent"))
        ):
            last["items"].extend(e["items"])
        else:
            out.append(e)
    return out


def _grant(g: AgentGrant, other: str, people: dict[str, str], lang: Lang) -> dict[str, Any]:
    return {
        "id": g.id,
        "id_number": other,
        "masked": mask_id(other),
        "name": people.get(other, ""),
        "scope": g.scope,
        "until": china_day(g.valid_until, lang),
    }
