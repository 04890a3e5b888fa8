"""The window pull (DESIGN §3 flow 5): a case for a service item; a share code or a consent; for each required
material the holder's verified licence, or ``missing``. Every licence read lands in the holder's access log."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.auth.tokens import Principal
from registry.calendar import CHINA
from registry.cases.schemas import CaseCreate, CaseMaterialOut, CaseOut, CommitmentCreate, CommitmentOut
from registry.context import Registry
from registry.licenses.credentials import excerpt_credential, vc_time
from registry.models import Case, CaseMaterial, Holder, License, Organisation, ShareCode
from registry.orgs.service import active_key, signer_for
from registry.service_items import ServiceItem, default_service_catalog
from registry.sharing.service import log_entry, parse_code, redeem, usable_consent
from registry.verify.service import verify
from signing.data_integrity import add_proof
from signing.jcs import canonicalize

DELIVERED = ("pulled", "fulfilled")
DAY_LIST_MAX = 500  # a busy hall serves a few hundred applicants a day; the list stays one response


class CaseSummary(BaseModel):
    """One line of an agency's day list (the window's side panel): which item, when, for whom, how it stands.
    (Kept beside the query that fills it: schemas.py holds the request bodies and full views.)"""

    case_id: str
    service_code: str
    service_name: str
    service_name_en: str
    created_at: str
    applicant_name: str | None  # the holder whose licences came first; none before any pull
    exempted: int
    missing: int


async def open_case(reg: Registry, principal: Principal, body: CaseCreate) -> CaseOut:
    principal.require_scope("cases:write")
    item = default_service_catalog().get(body.service_code)
    async with reg.db.transaction() as session:
        agency = await _agency(session, principal.subject)
        case = Case(id=secrets.token_hex(16), agency_code=agency.code, service_code=item.code)
        session.add(case)
        materials = [
            CaseMaterial(
                case_id=case.id,
                position=i,
                license_type=m.license_type,
                party=m.party,
                requirement=m.requirement,
                group=m.group,
            )
            for i, m in enumerate(item.materials)
        ]
        if body.share_code is not None:
            await _pull_by_code(
                reg, session, case, item, agency, materials, body.share_code, party=None, staff=principal.user
            )
        elif body.consent_id is not None:
            consent = await usable_consent(session, body.consent_id, agency.code, item.code)
            case.consent_id, case.applicant_id_number = consent.id, consent.holder_id_number
            await _pull(
                reg, session, case, item, agency, materials,
                holder=consent.holder_id_number, types=set(consent.license_types), identifiers=set(),
                party=None, via="consent", purpose=consent.purpose, fields=consent.fields, agent=None,
                staff=principal.user,
            )  # fmt: skip
        for material in materials:
            session.add(material)
    return _view(reg, case, item, materials)


async def add_share_code(
    reg: Registry, principal: Principal, case_id: str, share_code: str, party: str | None
) -> CaseOut:
    """Another party's licences join the case: the other parent, the seller, a spouse."""
    principal.require_scope("cases:write")
    async with reg.db.transaction() as session:
        case = await own_case(session, principal, case_id, lock=True)
        item = default_service_catalog().get(case.service_code)
        agency = await _agency(session, principal.subject)
        materials = await case_materials(session, case.id)
        if party is not None and party not in {m.party for m in materials}:
            raise errors.ValidationFailed(f"此事项没有当事人「{party}」/ This service has no party {party!r}")
        await _pull_by_code(reg, session, case, item, agency, materials, share_code, party=party, staff=principal.user)
        for material in materials:
            session.add(material)
    return _view(reg, case, item, materials)


async def commit(reg: Registry, principal: Principal, case_id: str, body: CommitmentCreate) -> CaseOut:
    """告知承诺: the applicant promises a missing material by a date; the case goes on without it."""
    principal.require_scope("cases:write")
    today = datetime.now(CHINA).date()
    async with reg.db.transaction() as session:
        case = await own_case(session, principal, case_id, lock=True)
        item = default_service_catalog().get(case.service_code)
        try:
            due = date.fromisoformat(body.due_date) if body.due_date else today + timedelta(days=30)
        except ValueError as exc:
            raise errors.ValidationFailed(f"承诺期限不是有效日期 / due_date is not a date: {body.due_date}") from exc
        if not today <= due <= today + timedelta(days=366):
            raise errors.ValidationFailed("承诺期限须在今天至一年之内 / due_date must be within a year from today")
        materials = await case_materials(session, case.id)
        target = next(
            (
                m
                for m in materials
                if m.license_type == body.license_type
                and (body.party is None or m.party == body.party)
                and m.state == "missing"
            ),
            None,
        )
        if target is None:
            raise errors.InvalidTransition(
                f"此办件没有缺失的「{body.license_type}」可承诺 / No missing {body.license_type} to commit to",
                license_type=body.license_type,
            )
        target.state, target.due_date, target.committed_at = "committed", due, datetime.now(UTC)
        session.add(target)
    return _view(reg, case, item, materials)


async def refresh(reg: Registry, principal: Principal, case_id: str) -> CaseOut:
    """Pull again under the case's consent: a committed material whose licence now exists becomes fulfilled."""
    principal.require_scope("cases:write")
    async with reg.db.transaction() as session:
        case = await own_case(session, principal, case_id, lock=True)
        item = default_service_catalog().get(case.service_code)
        agency = await _agency(session, principal.subject)
        materials = await case_materials(session, case.id)
        if case.consent_id is None:
            raise errors.InvalidTransition(
                "此办件未依授权办理，请持证人再次亮证 / This case has no standing consent; ask the holder for a "
                "new share code"
            )
        consent = await usable_consent(session, case.consent_id, agency.code, item.code)
        await _pull(
            reg, session, case, item, agency, materials,
            holder=consent.holder_id_number, types=set(consent.license_types), identifiers=set(), party=None,
            via="consent", purpose=consent.purpose, fields=consent.fields, agent=None, staff=principal.user,
        )  # fmt: skip
        for material in materials:
            session.add(material)
    return _view(reg, case, item, materials)


async def commitments(reg: Registry, principal: Principal, *, overdue_only: bool) -> list[CommitmentOut]:
    """The agency's open commitments (告知承诺), oldest due first; ``overdue_only`` for those past due."""
    principal.require_scope("cases:read")
    today = datetime.now(CHINA).date()
    catalog = default_service_catalog()
    async with reg.db.read() as session:
        query = (
            select(CaseMaterial, Case)
            .where(
                col(CaseMaterial.case_id) == col(Case.id),
                col(Case.agency_code) == principal.subject,
                col(CaseMaterial.state) == "committed",
            )
            .order_by(col(CaseMaterial.due_date), col(CaseMaterial.id))
        )
        if overdue_only:
            query = query.where(col(CaseMaterial.due_date) < today)
        rows = list((await session.exec(query)).all())
    return [
        CommitmentOut(
            case_id=case.id,
            service_code=case.service_code,
            service_name=catalog.get(case.service_code).name if case.service_code in catalog else case.service_code,
            license_type=m.license_type,
            license_type_name=reg.catalog.get(m.license_type).name,
            party=m.party,
            due_date=m.due_date.isoformat() if m.due_date else "",
            overdue=m.due_date is not None and m.due_date < today,
        )
        for m, case in rows
    ]


async def get_case(reg: Registry, principal: Principal, case_id: str) -> CaseOut:
    principal.require_scope("cases:read")
    async with reg.db.read() as session:
        case = await own_case(session, principal, case_id)
        materials = await case_materials(session, case.id)
    return _view(reg, case, default_service_catalog().get(case.service_code), materials)


async def cases_of_day(reg: Registry, principal: Principal, day: date | None, *, limit: int) -> list[CaseSummary]:
    """The agency's cases opened on ``day`` (China time; default today), newest first, at most ``limit``."""
    principal.require_scope("cases:read")
    if not 1 <= limit <= DAY_LIST_MAX:
        raise errors.ValidationFailed(
            f"limit 须在 1 至 {DAY_LIST_MAX} 之间 / limit must be 1–{DAY_LIST_MAX}", field="limit"
        )
    day = day or datetime.now(CHINA).date()
    if not date(2000, 1, 1) <= day <= date(9998, 12, 31):  # the bounds keep the UTC arithmetic in range
        raise errors.ValidationFailed(f"日期超出范围 / date out of range: {day.isoformat()}", field="date")
    lo = datetime.combine(day, time(), tzinfo=CHINA)
    catalog = default_service_catalog()
    async with reg.db.read() as session:
        cases = list(
            (
                await session.exec(
                    select(Case)
                    .where(
                        col(Case.agency_code) == principal.subject,
                        col(Case.created_at) >= lo,
                        col(Case.created_at) < lo + timedelta(days=1),
                    )
                    .order_by(col(Case.created_at).desc(), col(Case.id))
                    .limit(limit)
                )
            ).all()
        )
        by_case: dict[str, list[CaseMaterial]] = {c.id: [] for c in cases}
        if cases:
            rows = await session.exec(
                select(CaseMaterial)
                .where(col(CaseMaterial.case_id).in_(list(by_case)))
                .order_by(col(CaseMaterial.case_id), col(CaseMaterial.position))
            )
            for m in rows.all():
                by_case[m.case_id].append(m)
        # Whose case it is: the first holder a licence was read for, else the consent's holder.
        applicants = {
            c.id: next((m.holder_id_number for m in by_case[c.id] if m.holder_id_number), c.applicant_id_number)
            for c in cases
        }
        wanted = {who for who in applicants.values() if who}
        names: dict[str, str] = {}
        if wanted:
            found = await session.exec(select(Holder.id_number, Holder.name).where(col(Holder.id_number).in_(wanted)))
            names = dict(found.all())
    out: list[CaseSummary] = []
    for c in cases:
        item = catalog.get(c.service_code) if c.service_code in catalog else None
        exempted, missing = _tally(by_case[c.id])
        who = applicants[c.id]
        out.append(
            CaseSummary(
                case_id=c.id,
                service_code=c.service_code,
                service_name=item.name if item else c.service_code,
                service_name_en=item.name_en if item else c.service_code,
                created_at=c.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                applicant_name=names.get(who) if who else None,
                exempted=exempted,
                missing=missing,
            )
        )
    return out


# --- internals -------------------------------------------------------------------------------------------


async def _agency(session: AsyncSession, code: str) -> Organisation:
    org = await session.get(Organisation, code)
    if org is None or org.role != "agency":
        raise errors.Forbidden("只有办事机构可以办件 / Only an agency opens cases")
    return org


async def own_case(session: AsyncSession, principal: Principal, case_id: str, *, lock: bool = False) -> Case:
    case = await session.get(Case, case_id[:32], with_for_update=lock)
    # Another agency's case does not exist for this one.
    if case is None or case.agency_code != principal.subject:
        raise errors.NotFound(f"办件 {case_id[:32]} 不存在 / No case {case_id[:32]}")
    return case


async def case_materials(session: AsyncSession, case_id: str) -> list[CaseMaterial]:
    rows = await session.exec(
        select(CaseMaterial).where(col(CaseMaterial.case_id) == case_id).order_by(col(CaseMaterial.position))
    )
    return list(rows.all())


def released_types(code: ShareCode, service_code: str, needed: set[str]) -> set[str]:
    """The licence types a share code releases to a case for ``service_code`` whose materials are ``needed``."""
    if code.service_code is not None and code.service_code != service_code:
        return set()  # a code made for another service item releases nothing here
    return set(needed) if code.service_code is not None else set(code.license_types)


async def candidate_licences(
    session: AsyncSession, holder: str, identifiers: set[str] | list[str], types: set[str]
) -> list[License]:
    """A holder's current licences a pull may take: the ones named, else those of ``types``; newest first."""
    query = select(License).where(col(License.holder_id_number) == holder, col(License.status) != "superseded")
    if identifiers:
        query = query.where(col(License.identifier).in_(identifiers))
    else:
        query = query.where(col(License.license_type).in_(types))
    return list((await session.exec(query.order_by(col(License.issued_at).desc()))).all())


async def _pull_by_code(
    reg: Registry,
    session: AsyncSession,
    case: Case,
    item: ServiceItem,
    agency: Organisation,
    materials: list[CaseMaterial],
    text: str,
    *,
    party: str | None,
    staff: str | None,
) -> None:
    if parse_code(text).registry_id != reg.settings.registry_id:
        # A code from another region: its home registry releases the licences (registry.federation.pulls).
        from registry.federation.pulls import pull_remote

        await pull_remote(reg, session, case, item, agency, materials, text, party=party, staff=staff)
        return
    code = await redeem(reg, session, text, agency.code)
    types = released_types(code, item.code, item.license_types())
    await _pull(
        reg, session, case, item, agency, materials,
        holder=code.holder_id_number, types=types, identifiers=set(code.license_ids), party=party, via="code",
        purpose=code.purpose, fields=code.fields,
        agent=code.created_by if code.created_by != code.holder_id_number else None, staff=staff, code_id=code.id,
    )  # fmt: skip


async def _pull(
    reg: Registry,
    session: AsyncSession,
    case: Case,
    item: ServiceItem,
    agency: Organisation,
    materials: list[CaseMaterial],
    *,
    holder: str,
    types: set[str],
    identifiers: set[str],
    party: str | None,
    via: str,
    purpose: str,
    fields: dict[str, list[str]] | None,
    agent: str | None,
    staff: str | None,
    code_id: str | None = None,
) -> None:
    """Fill still-missing materials from one holder's licences; each licence fills at most one material."""
    candidates = await candidate_licences(session, holder, identifiers, types)
    taken = {m.identifier for m in materials if m.identifier}
    now = datetime.now(UTC)
    for material in materials:
        if material.state in ("pulled", "fulfilled") or (party is not None and material.party != party):
            continue
        licence = next(
            (c for c in candidates if c.license_type == material.license_type and c.identifier not in taken), None
        )
        if licence is None:
            continue
        full = json.loads(licence.credential_jcs)
        result = await verify(reg, credential=full, session=session)
        limited = fields.get(licence.license_type) if fields else None
        material.identifier, material.verdict = licence.identifier, result["verdict"]
        material.holder_id_number, material.via, material.fields = holder, via, limited
        if result["valid"]:
            material.state = "fulfilled" if material.state == "committed" else "pulled"
            material.pulled_at = now
            material.credential_jcs = await _delivered(reg, session, licence, full, limited, case.id, now)
            taken.add(licence.identifier)
        session.add(
            log_entry(
                holder_id_number=holder,
                actor_kind="agency",
                actor_code=agency.code,
                actor_name=agency.name,
                via="agent" if agent else via,
                purpose=purpose or item.name,
                service_code=item.code,
                case_id=case.id,
                identifier=licence.identifier,
                license_type=licence.license_type,
                fields=limited,
                region=reg.settings.registry_id,
                agent_id_number=agent,
                share_code_id=code_id,
                staff_username=staff,
            )
        )


async def _delivered(
    reg: Registry,
    session: AsyncSession,
    licence: License,
    full: dict[str, Any],
    limited: list[str] | None,
    case_id: str,
    now: datetime,
) -> str:
    """What the window receives: the credential as issued, or — when the holder limited the fields — an
    excerpt with only those, signed now by the issuing department's key for this case."""
    if limited is None:
        return licence.credential_jcs
    key = await active_key(session, licence.issuer_code)
    excerpt = excerpt_credential(full, limited, f"{full['id']}/excerpts/{case_id}")
    signed = add_proof(excerpt, signer_for(reg, key), created=vc_time(now))
    return canonicalize(signed).decode()


def _tally(materials: list[CaseMaterial]) -> tuple[int, int]:
    """(exempted, missing): materials delivered — paper not brought —, and required materials or one-of groups
    still unsatisfied (a commitment satisfies one)."""
    pulled_groups = {m.group for m in materials if m.group and m.state in DELIVERED}

    def satisfied(m: CaseMaterial) -> bool:
        return m.state in ("pulled", "committed", "fulfilled") or (bool(m.group) and m.group in pulled_groups)

    groups = {m.group for m in materials if m.requirement == "one_of" and m.group}
    missing = sum(1 for m in materials if m.requirement == "required" and not satisfied(m)) + len(
        groups - pulled_groups
    )
    return sum(1 for m in materials if m.state in DELIVERED), missing


def _view(reg: Registry, case: Case, item: ServiceItem, materials: list[CaseMaterial]) -> CaseOut:
    out: list[CaseMaterialOut] = []
    for m in materials:
        out.append(
            CaseMaterialOut(
                license_type=m.license_type,
                license_type_name=reg.catalog.get(m.license_type).name,
                party=m.party,
                requirement=m.requirement,
                required=m.requirement == "required",
                group=m.group or None,
                state=m.state,
                identifier=m.identifier if m.state in DELIVERED else None,
                verdict=m.verdict,
                fields=m.fields,
                credential=json.loads(m.credential_jcs) if m.credential_jcs and m.state in DELIVERED else None,
                due_date=m.due_date.isoformat() if m.due_date else None,
            )
        )
    exempted, missing = _tally(materials)
    extra: dict[str, Any] = {"offline_materials": [o.name for o in item.offline_materials]}
    return CaseOut(
        case_id=case.id,
        service_code=item.code,
        service_name=item.name,
        agency_code=case.agency_code,
        created_at=case.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        materials=out,
        exempted=exempted,
        missing=missing,
        **extra,
    )
