"""The /console page: an issuing department's staff issue licences from a form generated from the template,
find them, act on them (suspend, reinstate, revoke, cancel, renew, amend), bulk-issue from a CSV, and see
the department's signing keys.

What a tab shows when it opens is rendered here, through the same service functions the API uses; the
page's script calls the JSON API for every action (with the session's CSRF token).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import col, select

from registry import errors
from registry.auth import sessions
from registry.auth.tokens import Principal
from registry.calendar import CHINA
from registry.context import Registry
from registry.licence_types import LONG_TERM, FieldSpec, LicenseType
from registry.licenses import batch, lifecycle, search, service
from registry.licenses.rows import HOLDER_COLUMNS
from registry.models import License, LicenseEvent, Organisation, SigningKey, StaffUser, WebSession
from registry.orgs.service import keys_of
from registry.sharing.service import log_issuer_read
from registry.web.i18n import Lang, format_date, t
from registry.web.pages import localise, page_lang, page_session, render, viewer_of

TABS: Final = ("issue", "find", "batch", "keys")
# How each status looks: a calm badge for in force, amber for a pause, red for the end of a licence.
STATUS_BADGE: Final = {
    "active": "badge--ok",
    "suspended": "badge--warn",
    "expired": "badge--warn",
    "revoked": "badge--bad",
    "withdrawn": "badge--bad",
    "cancelled": "badge--bad",
    "superseded": "",
    "transferred": "",
}
ACTIONS: Final = ("suspend", "reinstate", "revoke", "cancel", "renew", "amend")
# Revoking (撤销 / 吊销) and cancelling end a licence for good: the dialog asks for an explicit confirmation.
FINAL_ACTIONS: Final = frozenset({"revoke", "cancel"})
DONE: Final = frozenset({*ACTIONS, "withdraw"})
INPUT_MODES: Final = {"integer": "numeric", "decimal": "decimal"}


@dataclass(frozen=True)
class FieldView:
    """One input of a form generated from a template field, in the page's language."""

    name: str
    label: str
    kind: str
    control: str  # input | textarea | select
    required: bool
    placeholder: str
    hint: str
    example: str
    choices: tuple[str, ...]
    unit: str
    pattern: str
    max_length: int | None
    min: int | None
    max: int | None
    mirror: str  # "id_number" / "name": the field must equal the holder's; "" otherwise
    inputmode: str
    value: str = ""


def field_views(lt: LicenseType, lang: Lang, values: dict[str, Any] | None = None) -> list[FieldView]:
    mirrors = {lt.holder_match.id_number: "id_number", lt.holder_match.name: "name"}
    return [_field_view(spec, lang, mirrors.get(spec.name, ""), (values or {}).get(spec.name)) for spec in lt.fields]


def _field_view(spec: FieldSpec, lang: Lang, mirror: str, value: object) -> FieldView:
    example = str(spec.example)
    max_length = spec.max_length
    if spec.type in ("string", "text") and max_length is None:
        max_length = 100 if spec.type == "string" else 1000
    return FieldView(
        name=spec.name,
        label=spec.label_en if lang == "en" else spec.label,
        kind=spec.type,
        control="textarea" if spec.type == "text" else "select" if spec.type == "enum" else "input",
        required=spec.required,
        placeholder="" if spec.type == "enum" else t("console.example", lang).format(example=_shown(spec, example)),
        hint=_hint(spec, lang, mirror, max_length),
        example=example,
        choices=spec.choices or (),
        unit=spec.unit or "",
        pattern=spec.pattern or "",
        max_length=max_length,
        min=spec.min,
        max=spec.max,
        mirror=mirror,
        inputmode=INPUT_MODES.get(spec.type, ""),
        value="" if value is None else _shown(spec, str(value)),
    )


def _shown(spec: FieldSpec, value: str) -> str:
    # A 出生时间 is stored as 2026-03-01T08:30; officers read and type it with a space.
    return value.replace("T", " ", 1) if spec.type == "datetime" else value


def _hint(spec: FieldSpec, lang: Lang, mirror: str, max_length: int | None) -> str:
    if mirror:
        return t(f"console.hint.mirror_{'id' if mirror == 'id_number' else 'name'}", lang)
    kind = spec.type
    if kind in ("date", "datetime", "decimal", "resident_id", "uscc"):
        return t(f"console.hint.{kind}", lang)
    if kind == "date_or_long":
        return t("console.hint.date_or_long", lang).format(long=LONG_TERM)
    if kind == "integer":
        if spec.min is not None and spec.max is not None:
            return t("console.hint.integer_range", lang).format(min=spec.min, max=spec.max)
        return t("console.hint.integer", lang)
    if kind == "text":
        return t("console.hint.text", lang).format(n=max_length)
    return ""


def type_name(lt: LicenseType, lang: Lang) -> str:
    return lt.name_en if lang == "en" else lt.name


def validity_text(valid_from: str | None, valid_until: str | None, lang: Lang) -> str:
    if valid_from and valid_until:
        return t("console.validity_range", lang).format(
            start=format_date(valid_from, lang), end=format_date(valid_until, lang)
        )
    return t("console.validity_open", lang).format(start=format_date(valid_from, lang))


def moment(value: datetime | str | None, lang: Lang) -> str:
    """A date and time on the officers' wall clock (China time): ``2026年11月23日 14:05``."""
    if value is None:
        return t("date.none", lang)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    local = value.astimezone(CHINA)
    return f"{format_date(local.date(), lang)} {local:%H:%M}"


def status_view(status: str, lang: Lang) -> dict[str, str]:
    return {"code": status, "word": t(f"console.status.{status}", lang), "badge": STATUS_BADGE.get(status, "")}


def allowed_actions(licence: License) -> list[str]:
    """The actions the lifecycle allows now (an expired licence may still be renewed, suspended or revoked)."""
    current = service.effective_status(licence)
    found = []
    for action in ACTIONS:
        allowed, _ = lifecycle.TRANSITIONS[action]
        effective = "active" if current == "expired" and action != "amend" else current
        if effective in allowed:
            found.append(action)
    return found


def console_href(**params: str) -> str:
    return "/console?" + urlencode({k: v for k, v in params.items() if v})


def _field_value(spec: FieldSpec, value: object, lang: Lang) -> str:
    text = str(value)
    if spec.type == "date" or (spec.type == "date_or_long" and text != LONG_TERM):
        return format_date(text, lang)
    if spec.type == "datetime":
        return f"{format_date(text[:10], lang)} {text[11:16]}"
    return f"{text} {spec.unit}" if spec.unit else text


class ConsolePages(Controller):
    include_in_schema = False

    @get("/console", name="page.console")
    async def console_page(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Template | Redirect:
        row = await page_session(request, registry, "staff", ("issuer",))
        if not isinstance(row, WebSession):
            return row
        viewer = await viewer_of(registry, row)
        lang = page_lang(request)
        query = request.query_params
        tab = query.get("tab") if query.get("tab") in TABS else "issue"
        async with registry.db.read() as session:
            org = await session.get(Organisation, row.subject)
        allowed = org.license_type_list if org else []
        types = [registry.catalog.get(name) for name in allowed if name in registry.catalog]
        principal = sessions.principal_of(row)
        context: dict[str, Any] = {
            "tab": tab,
            "tabs": TABS,
            "org_name": org.name if org else row.subject,
            "org_code": row.subject,
            "types": [
                {"type": lt.type, "name": type_name(lt, lang), "years": lt.default_validity_years} for lt in types
            ],
        }
        if tab == "issue":
            context.update(self._issue_context(types, query.get("type"), lang))
        elif tab == "find":
            context.update(await self._find_context(registry, principal, query, lang))
        elif tab == "batch":
            context.update(await self._batch_context(registry, principal, types, query.get("type"), lang))
        else:
            context.update(await self._keys_context(registry, row.subject, lang))
        return render(request, registry, "console.html", "console.title", context, session=row, viewer=viewer)

    @get("/console/batch-template/{filename:str}", name="page.console.batch_template")
    async def batch_template(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], filename: FromPath[str]
    ) -> Response[bytes] | Template | Redirect:
        """A CSV for bulk issuance of one type: the header the upload expects and one row of the examples."""
        row = await page_session(request, registry, "staff", ("issuer",))
        if not isinstance(row, WebSession):
            return row
        name = filename.removesuffix(".csv")
        if not filename.endswith(".csv") or name not in registry.catalog:
            raise errors.NotFound(f"没有证照类型 {name[:64]} 的模板 / No template for the licence type {name[:64]}")
        lt = registry.catalog.get(name)
        holder = lt.example_holder
        examples = lt.example_fields()
        # A template field that is also a holder column (结婚证's holder_name) is one column, as the upload reads it.
        names = [f.name for f in lt.fields if f.name not in HOLDER_COLUMNS]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([*HOLDER_COLUMNS, *names, "valid_from", "valid_until"])
        writer.writerow([holder.id_type, holder.id_number, holder.name, *(str(examples[n]) for n in names), "", ""])
        # A BOM so that Excel opens the Chinese as UTF-8; the upload accepts it.
        return Response(
            ("\ufeff" + out.getvalue()).encode(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{lt.type}.csv"',
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # --- the tabs ------------------------------------------------------------------------------------------

    def _issue_context(self, types: list[LicenseType], wanted: str | None, lang: Lang) -> dict[str, Any]:
        chosen = next((lt for lt in types if lt.type == wanted), None)
        if chosen is None and len(types) == 1:
            chosen = types[0]
        if chosen is None:
            return {"issue_type": None}
        return {
            "issue_type": {
                "type": chosen.type,
                "name": type_name(chosen, lang),
                "years": chosen.default_validity_years,
                "holder_id_types": list(chosen.holder_id_types),
            },
            "fields": field_views(chosen, lang),
        }

    async def _find_context(self, registry: Registry, principal: Principal, query: Any, lang: Lang) -> dict[str, Any]:
        q = (query.get("q") or "").strip()
        context: dict[str, Any] = {"q": q, "results": None, "detail": None, "problem": None, "done": None}
        identifier = (query.get("id") or "").strip()
        if identifier:
            try:
                context["detail"] = await self._detail(registry, principal, identifier, lang)
            except errors.RegistryError as exc:
                context["problem"] = localise(exc.detail, lang)
            done = query.get("done")
            context["done"] = done if done in DONE else None
            return context
        try:
            found = await search.search(registry, principal, q, search.DEFAULT_LIMIT)
        except errors.RegistryError as exc:
            context["problem"] = localise(exc.detail, lang)
            return context
        now = datetime.now(UTC)
        context["results"] = [self._row(registry, licence, lang, now) for licence in found]
        context["limit"] = search.DEFAULT_LIMIT
        return context

    def _row(self, registry: Registry, licence: License, lang: Lang, now: datetime) -> dict[str, Any]:
        summary = search.to_summary(registry, licence, now)
        return {
            "identifier": summary.identifier,
            "type_name": summary.type_name_en if lang == "en" else summary.type_name,
            "holder_name": summary.holder.name,
            "holder_id": summary.holder.id_number,
            "status": status_view(summary.status, lang),
            "valid_until": format_date(summary.valid_until, lang) if summary.valid_until else None,
            "issued_at": format_date(summary.issued_at, lang),
        }

    async def _detail(self, registry: Registry, principal: Principal, identifier: str, lang: Lang) -> dict[str, Any]:
        licence = await service.get_for_issuer(registry, principal, identifier)
        # The same read the API logs: the holder sees in their access log that the department looked.
        await log_issuer_read(
            registry, licence, principal.subject, "发证部门在控制台查阅证照 / the issuer read it in the console"
        )
        events: list[LicenseEvent] = await lifecycle.history(registry, principal, licence.identifier)
        lt = registry.catalog.get(licence.license_type)
        values: dict[str, Any] = service.credential_of(licence)["credentialSubject"]["fields"]
        status = service.effective_status(licence)
        # The version that replaced this one: the renewal or amendment that left this one superseded.
        newer = next(
            (e.related_identifier for e in events if e.action in ("renew", "amend") and e.status_after == "superseded"),
            None,
        )
        actors = await _actor_names(registry, principal.subject, events, lang)
        return {
            "identifier": licence.identifier,
            "type": lt.type,
            "type_name": type_name(lt, lang),
            "version": f"{licence.version:03d}",
            "status": status_view(status, lang),
            "holder_name": licence.holder_name,
            "holder_id": licence.holder_id_number,
            "holder_id_type": t(f"console.idtype.{licence.holder_id_type}", lang),
            "validity": validity_text(
                licence.valid_from.isoformat(), licence.valid_until.isoformat() if licence.valid_until else None, lang
            ),
            "issued_at": moment(licence.issued_at, lang),
            "previous": licence.previous_identifier,
            "newer": newer,
            "fields": [
                {
                    "label": spec.label_en if lang == "en" else spec.label,
                    "value": _field_value(spec, values[spec.name], lang),
                }
                for spec in lt.fields
                if spec.name in values
            ],
            "history": [
                {
                    "at": moment(e.at, lang),
                    "action": t(f"console.event.{e.action}", lang)
                    if f"console.event.{e.action}" in _EVENT_KEYS
                    else e.action,
                    "reason": _reason(e.reason, lang),
                    "actor": actors.get(e.actor, e.actor),
                    "status_after": status_view(e.status_after, lang) if e.status_after in STATUS_BADGE else None,
                    "related": e.related_identifier,
                }
                for e in reversed(events)  # newest first, like every list on the page
            ],
            "actions": allowed_actions(licence),
            "final_actions": FINAL_ACTIONS,
            "amend_fields": field_views(lt, lang, values),
            "years": lt.default_validity_years,
        }

    async def _batch_context(
        self, registry: Registry, principal: Principal, types: list[LicenseType], wanted: str | None, lang: Lang
    ) -> dict[str, Any]:
        chosen = next((lt for lt in types if lt.type == wanted), types[0] if types else None)
        jobs = await batch.list_jobs(registry, principal) if types else []
        return {
            "batch_type": chosen.type if chosen else None,
            "batch_type_name": type_name(chosen, lang) if chosen else "",
            "jobs": [
                {
                    "id": job.id,
                    "filename": job.filename,
                    "type_name": type_name(registry.catalog.get(job.license_type), lang)
                    if job.license_type in registry.catalog
                    else job.license_type,
                    "state": job.state,
                    "created_at": moment(job.created_at, lang),
                    "issued": job.issued,
                    "skipped": job.skipped,
                    "failed": job.failed,
                    "processed": job.processed,
                    "total": job.total,
                    "report": f"/api/v1/batches/{job.id}/errors.csv" if has_report else None,
                    "detail": localise(job.detail, lang) if job.detail else "",
                }
                for job, has_report in jobs
            ],
        }

    async def _keys_context(self, registry: Registry, org_code: str, lang: Lang) -> dict[str, Any]:
        async with registry.db.read() as session:
            keys: list[SigningKey] = await keys_of(session, org_code)
        return {
            "keys": [
                {
                    "ref": key.key_ref,
                    "state": key.state,
                    "created_at": moment(key.created_at, lang),
                    "ended_at": moment(key.compromised_at or key.retired_at, lang)
                    if (key.compromised_at or key.retired_at)
                    else t("date.none", lang),
                    "public": key.public_key_multibase,
                }
                for key in keys
            ]
        }


async def _actor_names(registry: Registry, org_code: str, events: list[LicenseEvent], lang: Lang) -> dict[str, str]:
    """Who acted, as officers know each other: a colleague by name, the department's own system as such."""
    names = {org_code: t("console.actor.system", lang)}
    prefix = f"{org_code}/"
    usernames = {e.actor.removeprefix(prefix) for e in events if e.actor.startswith(prefix)}
    if usernames:
        async with registry.db.read() as session:
            rows = await session.exec(select(StaffUser).where(col(StaffUser.username).in_(usernames)))
            for user in rows.all():
                shown = t("console.actor.staff", lang).format(
                    name=user.display_name or user.username, username=user.username
                )
                names[prefix + user.username] = shown
    return names


def _reason(text: str, lang: Lang) -> str:
    """The registry's own reasons read ``中文 / English``; an officer's reason is shown as typed."""
    _, sep, en = text.partition(" / ")
    return localise(text, lang) if sep and not _CJK.search(en) and _CJK.search(text) else text


_CJK: Final = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_EVENT_KEYS: Final = frozenset(
    f"console.event.{a}" for a in ("issue", "suspend", "reinstate", "revoke", "withdraw", "cancel", "renew", "amend")
)
