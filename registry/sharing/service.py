"""Sharing (DESIGN §3 flow 4, §5 share code): one-time codes (亮码) and standing consents, and the holder's
view of who accessed their data."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.context import Registry
from registry.holders.service import Acting
from registry.licenses.service import parse_identifier
from registry.models import AccessLog, Consent, Holder, License, Organisation, ShareCode
from registry.service_items import default_service_catalog
from registry.sharing.schemas import ConsentCreate, ShareCodeCreate, ShareCodeState

MAX_TTL = 600  # DESIGN §5: a share code lives at most ten minutes
DEFAULT_TTL = 300
_TOKEN = re.compile(r"[A-Z2-7]{26,64}")
_REGISTRY_ID = re.compile(r"[0-9]{6}")


def new_code(registry_id: str) -> str:
    """``SC1:<registry id>.<token>``; the token is 160 random bits in Base32, all in the QR alphanumeric set."""
    token = base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")
    return f"SC1:{registry_id}.{token}"


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True)
class ParsedCode:
    registry_id: str
    code: str


def parse_code(text: str) -> ParsedCode:
    text = text.strip()
    prefix, _, rest = text.partition(":")
    registry_id, dot, token = rest.partition(".")
    if prefix != "SC1" or not dot or not _REGISTRY_ID.fullmatch(registry_id) or not _TOKEN.fullmatch(token):
        raise errors.InvalidShareCode(
            "亮证码格式不正确，应为 SC1:<地区代码>.<令牌> / A share code looks like SC1:<region>.<token>"
        )
    return ParsedCode(registry_id, text)


def _fields(reg: Registry, fields: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    """Field limits: licence type → the field names released (every name must exist in its template)."""
    if fields is None:
        return None
    for license_type, names in fields.items():
        lt = reg.catalog.get(license_type)
        unknown = [n for n in names if n not in {f.name for f in lt.fields}]
        if unknown:
            raise errors.ValidationFailed(
                f"「{lt.name}」没有字段 {', '.join(unknown)} / {lt.name_en} has no field {', '.join(unknown)}",
                field="fields",
            )
    return {t: sorted(set(names)) for t, names in fields.items()}


async def _own_licences(session: AsyncSession, holder: str, identifiers: list[str]) -> None:
    rows = await session.exec(
        select(License.identifier, License.holder_id_number).where(col(License.identifier).in_(identifiers))
    )
    owned = {ident for ident, who in rows.all() if who == holder}
    missing = [i for i in identifiers if i not in owned]
    if missing:
        raise errors.LicenseNotFound(f"您没有证照 {missing[0]} / You hold no licence {missing[0]}")


async def _agency(session: AsyncSession, code: str) -> Organisation:
    org = await session.get(Organisation, code[:18])
    if org is None or org.role != "agency":
        raise errors.ValidationFailed(f"办事机构 {code[:18]} 不存在 / No agency {code[:18]}", field="audience")
    return org


async def create_share_code(reg: Registry, acting: Acting, body: ShareCodeCreate) -> tuple[ShareCode, str]:
    ttl = body.ttl_seconds or DEFAULT_TTL
    if body.service_code is not None:
        default_service_catalog().get(body.service_code)
    for t in body.license_types or []:
        reg.catalog.get(t)
    # A malformed 证照标识 is a 422; a well-formed one the holder does not hold, a 404.
    license_ids = [str(parse_identifier(i)) for i in body.license_ids or []]
    code = new_code(reg.settings.registry_id)
    now = datetime.now(UTC)
    async with reg.db.transaction() as session:
        if license_ids:
            await _own_licences(session, acting.holder_id_number, license_ids)
        if body.audience is not None:
            await _agency(session, body.audience)
        row = ShareCode(
            id=secrets.token_hex(16),
            code_hash=code_hash(code),
            holder_id_number=acting.holder_id_number,
            created_by=acting.actor_id_number,
            license_ids=license_ids,
            license_types=body.license_types or [],
            service_code=body.service_code,
            audience=body.audience,
            fields=_fields(reg, body.fields),
            purpose=body.purpose or "",
            expires_at=now + timedelta(seconds=min(ttl, MAX_TTL)),
            max_uses=body.max_uses or 1,
        )
        session.add(row)
    return row, code


async def list_share_codes(reg: Registry, acting: Acting) -> list[ShareCode]:
    async with reg.db.read() as session:
        rows = await session.exec(
            select(ShareCode)
            .where(col(ShareCode.holder_id_number) == acting.holder_id_number)
            .order_by(col(ShareCode.created_at).desc())
            .limit(50)
        )
        return list(rows.all())


async def share_code_status(
    reg: Registry, acting: Acting, code_id: str
) -> tuple[ShareCode, ShareCodeState, list[AccessLog]]:
    """A code its holder follows on the 亮证 screen: its state, and the pulls made with it (who took what)."""
    async with reg.db.read() as session:
        row = await session.get(ShareCode, code_id[:32])
        # Another holder's code does not exist for this one (nor for an agent who did not make it).
        if (
            row is None
            or row.holder_id_number != acting.holder_id_number
            or (acting.by_agent and row.created_by != acting.actor_id_number)
        ):
            raise errors.NotFound(f"亮证码 {code_id[:32]} 不存在 / No share code {code_id[:32]}")
        query = select(AccessLog).where(col(AccessLog.share_code_id) == row.id).order_by(col(AccessLog.id))
        accesses = list((await session.exec(query.limit(200))).all()) if row.uses > 0 else []
    now = datetime.now(UTC)
    state: ShareCodeState
    if row.revoked_at is not None and row.uses < row.max_uses:
        state = "withdrawn"
    elif row.uses >= row.max_uses:
        state = "used"
    elif row.expires_at <= now:
        state = "expired"
    else:
        state = "active"
    return row, state, accesses


async def revoke_share_code(reg: Registry, acting: Acting, code_id: str) -> None:
    async with reg.db.transaction() as session:
        row = await session.get(ShareCode, code_id[:32])
        if row is None or row.holder_id_number != acting.holder_id_number:
            raise errors.NotFound(f"亮证码 {code_id[:32]} 不存在 / No share code {code_id[:32]}")
        row.revoked_at = row.revoked_at or datetime.now(UTC)
        session.add(row)


async def redeem(reg: Registry, session: AsyncSession, text: str, agency_code: str) -> ShareCode:
    """Use a share code once, atomically: under a race exactly one window wins each remaining use.

    The checks live in the UPDATE's WHERE clause, so the database decides, on SQLite and PostgreSQL alike;
    a failed redemption is then explained from a plain read.
    """
    parsed = parse_code(text)
    if parsed.registry_id != reg.settings.registry_id:  # a window's registry asks the home one (federation.pulls)
        raise errors.InvalidShareCode(
            f"此亮证码由 {parsed.registry_id} 地区签发 / This code belongs to registry {parsed.registry_id}",
            registry_id=parsed.registry_id,
        )
    digest = code_hash(parsed.code)
    now = datetime.now(UTC)
    used = (
        await session.exec(
            update(ShareCode)
            .where(
                col(ShareCode.code_hash) == digest,
                col(ShareCode.uses) < col(ShareCode.max_uses),
                col(ShareCode.expires_at) > now,
                col(ShareCode.revoked_at).is_(None),
                (col(ShareCode.audience).is_(None)) | (col(ShareCode.audience) == agency_code),
            )
            .values(uses=ShareCode.uses + 1)
            .returning(col(ShareCode.id))
        )
    ).first()
    row = (await session.exec(select(ShareCode).where(col(ShareCode.code_hash) == digest))).first()
    if used is not None and row is not None:
        return row
    if row is None:
        raise errors.ShareCodeNotFound("亮证码无效或不存在 / Unknown share code")
    if row.audience is not None and row.audience != agency_code:
        raise errors.ShareCodeRefused("此亮证码仅限指定机构使用 / This code is bound to another agency")
    if row.revoked_at is not None:
        raise errors.ShareCodeGone("持证人已撤回此亮证码 / The holder withdrew this code")
    if row.expires_at <= now:
        raise errors.ShareCodeGone("亮证码已过期，请持证人刷新 / The code has expired; ask the holder to refresh it")
    raise errors.ShareCodeUsed("亮证码已被使用 / The code has already been used")


# --- what the holder sees -------------------------------------------------------------------------------------


async def holder_licences(reg: Registry, acting: Acting) -> list[tuple[License, Organisation]]:
    """The holder's licences with their issuers, newest first (every version: the caller filters)."""
    async with reg.db.read() as session:
        rows = await session.exec(
            select(License, Organisation)
            .where(
                col(License.holder_id_number) == acting.holder_id_number,
                col(License.issuer_code) == col(Organisation.code),
            )
            .order_by(col(License.issued_at).desc())
        )
        return list(rows.all())


async def consents_with_agencies(reg: Registry, acting: Acting) -> list[tuple[Consent, str]]:
    """The holder's consents, newest first, each with the name of the agency it was granted to."""
    consents = await list_consents(reg, acting)
    names = await org_names(reg, {c.agency_code for c in consents})
    return [(c, names.get(c.agency_code, c.agency_code)) for c in consents]


async def org_names(reg: Registry, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    async with reg.db.read() as session:
        rows = await session.exec(select(Organisation).where(col(Organisation.code).in_(codes)))
        return {o.code: o.name for o in rows.all()}


async def holder_names(reg: Registry, id_numbers: set[str]) -> dict[str, str]:
    """Names of holders with an account, for the agent lists (who acts for whom)."""
    if not id_numbers:
        return {}
    async with reg.db.read() as session:
        rows = await session.exec(select(Holder).where(col(Holder.id_number).in_(id_numbers)))
        return {h.id_number: h.name for h in rows.all()}


async def agencies(reg: Registry) -> list[Organisation]:
    """The agencies a holder may bind a code to or consent to (public bodies, by name)."""
    async with reg.db.read() as session:
        rows = await session.exec(
            select(Organisation).where(col(Organisation.role) == "agency").order_by(col(Organisation.name))
        )
        return list(rows.all())


# --- consents ----------------------------------------------------------------------------------------------


async def grant_consent(reg: Registry, acting: Acting, body: ConsentCreate) -> Consent:
    now = datetime.now(UTC)
    if body.service_code is not None:
        default_service_catalog().get(body.service_code)
    for t in body.license_types:
        reg.catalog.get(t)
    valid_until = body.valid_until_at()
    if valid_until <= now:
        raise errors.ValidationFailed("授权截止时间须在将来 / valid_until must be in the future", field="valid_until")
    if valid_until > now + timedelta(days=366 * 5):
        raise errors.ValidationFailed("授权最长五年 / A consent lasts at most five years", field="valid_until")
    async with reg.db.transaction() as session:
        await _agency(session, body.agency_code)
        consent = Consent(
            id=secrets.token_hex(16),
            holder_id_number=acting.holder_id_number,
            created_by=acting.actor_id_number,
            agency_code=body.agency_code,
            service_code=body.service_code,
            license_types=sorted(set(body.license_types)),
            fields=_fields(reg, body.fields),
            purpose=body.purpose,
            valid_until=valid_until,
        )
        session.add(consent)
    return consent


async def list_consents(reg: Registry, acting: Acting) -> list[Consent]:
    async with reg.db.read() as session:
        rows = await session.exec(
            select(Consent)
            .where(col(Consent.holder_id_number) == acting.holder_id_number)
            .order_by(col(Consent.created_at).desc())
        )
        return list(rows.all())


async def withdraw_consent(reg: Registry, acting: Acting, consent_id: str) -> Consent:
    async with reg.db.transaction() as session:
        consent = await session.get(Consent, consent_id[:32])
        if consent is None or consent.holder_id_number != acting.holder_id_number:
            raise errors.NotFound(f"授权 {consent_id[:32]} 不存在 / No consent {consent_id[:32]}")
        consent.withdrawn_at = consent.withdrawn_at or datetime.now(UTC)
        session.add(consent)
    return consent


async def usable_consent(session: AsyncSession, consent_id: str, agency_code: str, service_code: str) -> Consent:
    consent = await session.get(Consent, consent_id[:32])
    now = datetime.now(UTC)
    if consent is None or consent.agency_code != agency_code:
        # Another agency's consent does not exist for this one.
        raise errors.NotFound(f"授权 {consent_id[:32]} 不存在 / No consent {consent_id[:32]}")
    if consent.withdrawn_at is not None:
        raise errors.ConsentNotUsable("持证人已撤回此授权 / The holder withdrew this consent")
    if consent.valid_until <= now:
        raise errors.ConsentNotUsable("此授权已过期 / This consent has expired")
    if consent.service_code is not None and consent.service_code != service_code:
        raise errors.ConsentNotUsable(
            f"此授权仅用于事项 {consent.service_code} / This consent covers service {consent.service_code} only"
        )
    return consent


# --- the access log ------------------------------------------------------------------------------------------


async def access_log(reg: Registry, acting: Acting, limit: int = 200) -> list[AccessLog]:
    async with reg.db.read() as session:
        rows = await session.exec(
            select(AccessLog)
            .where(col(AccessLog.holder_id_number) == acting.holder_id_number)
            .order_by(col(AccessLog.id).desc())
            .limit(limit)
        )
        return list(rows.all())


def log_entry(**values: Any) -> AccessLog:
    return AccessLog(at=datetime.now(UTC), **values)


async def log_agent_act(reg: Registry, acting: Acting, what: str, **values: Any) -> None:
    """An agent's own act for a principal (listing, sharing, consenting) lands in the principal's log."""
    if not acting.by_agent:
        return
    async with reg.db.transaction() as session:
        session.add(
            log_entry(
                holder_id_number=acting.holder_id_number,
                actor_kind="agent",
                actor_code=acting.actor_id_number,
                via="agent",
                purpose=what,
                agent_id_number=acting.actor_id_number,
                region=reg.settings.registry_id,
                **values,
            )
        )


async def log_issuer_read(reg: Registry, licence: License, org_code: str, what: str) -> None:
    """A department reading a licence it issued is a read by someone other than the holder: logged."""
    async with reg.db.transaction() as session:
        org = await session.get(Organisation, org_code)
        session.add(
            log_entry(
                holder_id_number=licence.holder_id_number,
                actor_kind="issuer",
                actor_code=org_code,
                actor_name=org.name if org else org_code,
                via="issuer",
                purpose=what,
                identifier=licence.identifier,
                license_type=licence.license_type,
                region=reg.settings.registry_id,
            )
        )


# --- preview ---------------------------------------------------------------------------------------------------


async def preview(
    reg: Registry,
    acting: Acting,
    *,
    license_ids: list[str] | None,
    license_types: list[str] | None,
    service_code: str | None,
    fields: dict[str, list[str]] | None,
    audience: str | None,
    purpose: str,
) -> dict[str, Any]:
    """Exactly what a window would receive under this code or consent: which licences, which field values."""
    limits = _fields(reg, fields)
    ids = [str(parse_identifier(i)) for i in license_ids or []]
    if service_code is not None:
        item = default_service_catalog().get(service_code)
        types, service = item.license_types(), {"code": item.code, "name": item.name}
    else:
        types, service = {reg.catalog.get(t).type for t in license_types or []}, None
    async with reg.db.read() as session:
        if ids:
            await _own_licences(session, acting.holder_id_number, ids)
        agency = await _agency(session, audience) if audience is not None else None
        query = select(License, Organisation).where(
            col(License.holder_id_number) == acting.holder_id_number,
            col(License.status) != "superseded",
            col(License.issuer_code) == col(Organisation.code),
        )
        query = (
            query.where(col(License.identifier).in_(ids)) if ids else query.where(col(License.license_type).in_(types))
        )
        rows = list((await session.exec(query.order_by(col(License.issued_at).desc()))).all())
    released: list[dict[str, Any]] = []
    seen_types: set[str] = set()
    for licence, org in rows:
        if not ids and licence.license_type in seen_types:
            continue  # a window takes the newest licence of each type
        seen_types.add(licence.license_type)
        lt = reg.catalog.get(licence.license_type)
        values = json.loads(licence.credential_jcs)["credentialSubject"]["fields"]
        names = limits.get(licence.license_type) if limits else None
        released.append(
            {
                "identifier": licence.identifier,
                "license_type": licence.license_type,
                "type_name": lt.name,
                "issuer_name": org.name,
                "holder": {
                    "id_type": licence.holder_id_type,
                    "id_number": licence.holder_id_number,
                    "name": licence.holder_name,
                },
                "limited": names is not None,
                "fields": [
                    {"name": f.name, "label": f.label, "label_en": f.label_en, "value": values[f.name]}
                    for f in lt.fields
                    if f.name in values and (names is None or f.name in names)
                ],
            }
        )
    return {
        "audience": {"code": agency.code, "name": agency.name} if agency else None,
        "service": service,
        "purpose": purpose,
        "licenses": released,
        "notice": "窗口将收到且仅收到以下内容 / The window will receive exactly this, and nothing else",
    }
