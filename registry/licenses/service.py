"""Issuing licences: validate against the template, number, reserve status slots, sign, store — atomically."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licence_types import HolderRef, LicenseType, validate_holder
from registry.licenses.credentials import StatusSlot, compact_credential, full_credential, vc_time
from registry.licenses.schemas import HolderOut, LicenseCreate, LicenseLinks, LicensePublic
from registry.models import IdempotencyRecord, License, LicenseEvent, Organisation, StatusList
from registry.orgs.service import active_key, signer_for
from signing.data_integrity import add_proof
from signing.jcs import canonicalize
from verification.identifiers import IdentifierError, LicenseIdentifier
from verification.payload import MAX_PAYLOAD_CHARS, encode_payload

STATUS_CODES = {
    "active": "01",
    "suspended": "02",
    "revoked": "03",
    "cancelled": "04",
    "expired": "05",
    "transferred": "06",
    "withdrawn": "07",
    "superseded": "99",
}
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class Issued:
    license: License
    issuer_name: str
    replayed: bool


def parse_time(value: str, field: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an RFC 3339 timestamp with a zone; whole seconds are kept."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.ValidationFailed(
            f"{field} 日期格式错误，应为 YYYY-MM-DD / {field} must be YYYY-MM-DD or RFC 3339", field=field
        ) from exc
    if parsed.tzinfo is None:
        raise errors.ValidationFailed(f"{field} 须带时区 / {field} needs a time zone", field=field)
    return parsed.astimezone(UTC).replace(microsecond=0)


def add_years(value: datetime, years: int) -> datetime:
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February into a common year
        return value.replace(year=value.year + years, day=28)


def check_window(valid_from: datetime, valid_until: datetime | None) -> None:
    if not 1900 <= valid_from.year <= 9000 or (valid_until is not None and valid_until.year > 9000):
        raise errors.ValidationFailed("有效期超出范围 / Validity out of range", field="valid_from")
    if valid_until is not None and valid_until <= valid_from:
        raise errors.ValidationFailed(
            "有效期截止须晚于起始 / valid_until must be after valid_from", field="valid_until"
        )


def validity_window(
    lt: LicenseType, valid_from_text: str | None, valid_until_text: str | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """From the given date (default: today) until the given date (default: the template's validity)."""
    valid_from = parse_time(valid_from_text, "valid_from") if valid_from_text else today(now)
    check_window(valid_from, None)
    if valid_until_text:
        valid_until: datetime | None = parse_time(valid_until_text, "valid_until")
    elif lt.default_validity_years:
        valid_until = add_years(valid_from, lt.default_validity_years)
    else:
        valid_until = None
    check_window(valid_from, valid_until)
    return valid_from, valid_until


def today(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(), tzinfo=UTC)


def request_hash(body: LicenseCreate) -> str:
    return hashlib.sha256(canonicalize(body.model_dump(mode="json"))).hexdigest()


def check_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise errors.IdempotencyKeyRequired(
            "签发请求须带 Idempotency-Key 请求头，重试时沿用同一值 / "
            "Send an Idempotency-Key header and reuse it when retrying"
        )
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise errors.BadRequest(
            "Idempotency-Key 须为 1–255 个可见 ASCII 字符 / Idempotency-Key must be 1–255 visible ASCII characters"
        )
    return key


async def _replay(session: AsyncSession, record: IdempotencyRecord, digest: str) -> Issued:
    if record.request_hash != digest:
        raise errors.IdempotencyKeyReused(
            "此 Idempotency-Key 已用于内容不同的签发请求 / "
            "This Idempotency-Key was used for a different request; use a new key for a new licence",
            identifier=record.identifier,
        )
    licence = await session.get(License, record.identifier)
    org = await session.get(Organisation, record.org_code)
    assert licence is not None
    assert org is not None
    return Issued(licence, org.name, replayed=True)


async def issue(reg: Registry, principal: Principal, body: LicenseCreate, idempotency_key: str | None) -> Issued:
    principal.require_scope("licenses:issue")
    key = check_idempotency_key(idempotency_key)
    digest = request_hash(body)
    org_code = principal.subject

    async with reg.db.read() as session:
        record = await session.get(IdempotencyRecord, (org_code, key))
        if record is not None:
            return await _replay(session, record, digest)

    lt = reg.catalog.get(body.type)
    holder = validate_holder(body.holder.id_type, body.holder.id_number, body.holder.name, lt.holder_id_types)
    fields = lt.validate_fields(body.fields, holder)
    now = datetime.now(UTC)  # exact in the record; credentials show whole seconds
    valid_from, valid_until = validity_window(lt, body.valid_from, body.valid_until, now)

    try:
        async with reg.db.transaction() as session:
            draft = Draft(lt, holder, fields, valid_from, valid_until)
            licence, org_name = await sign_and_store(reg, session, org_code, draft, now, actor=principal.actor)
            session.add(
                IdempotencyRecord(org_code=org_code, key=key, request_hash=digest, identifier=licence.identifier)
            )
    except IntegrityError:
        # Another request with the same key committed first: answer as it was answered.
        async with reg.db.read() as session:
            record = await session.get(IdempotencyRecord, (org_code, key))
            if record is None:
                raise
            return await _replay(session, record, digest)
    return Issued(licence, org_name, replayed=False)


@dataclass(frozen=True)
class Draft:
    """A validated licence to sign: its type, holder, fields and validity window."""

    lt: LicenseType
    holder: HolderRef
    fields: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None


async def sign_and_store(
    reg: Registry,
    session: AsyncSession,
    org_code: str,
    draft: Draft,
    now: datetime,
    *,
    replaces: License | None = None,
    actor: str | None = None,
    action: str = "issue",
    reason: str = "",
) -> tuple[License, str]:
    """Number, reserve status slots, sign and store one licence version inside the caller's transaction.

    A new licence takes the department's next serial (version 001); a renewal or amendment (``replaces``)
    keeps the serial and takes the next version, linked to the one it replaces.
    """
    lt, holder, fields, valid_from, valid_until = (
        draft.lt,
        draft.holder,
        draft.fields,
        draft.valid_from,
        draft.valid_until,
    )
    # Taking the next serial and status slot locks the department's row, so numbering and slots are
    # race-free on PostgreSQL and on SQLite (one writer at a time) alike.
    serial_step = 0 if replaces is not None else 1
    row = (
        await session.exec(
            update(Organisation)
            .where(col(Organisation.code) == org_code)
            .values(
                next_serial=Organisation.next_serial + serial_step,
                next_status_index=Organisation.next_status_index + 1,
            )
            .returning(
                col(Organisation.next_serial),
                col(Organisation.next_status_index),
                col(Organisation.license_types),
                col(Organisation.name),
                col(Organisation.role),
            )
        )
    ).one_or_none()
    if row is None:
        raise errors.OrganisationNotFound(f"机构 {org_code} 不存在 / No organisation {org_code}")
    serial_no, status_no, allowed, org_name, role = row
    if role != "issuer" or lt.type not in allowed.split(","):
        raise errors.LicenseTypeNotAllowed(
            f"本部门无权签发「{lt.name}」/ This department may not issue {lt.name_en}", license_type=lt.type
        )

    if replaces is None:
        parsed = LicenseIdentifier(lt.type_code, org_code, f"{serial_no:08d}", 1)
    else:
        parsed = LicenseIdentifier.parse(replaces.identifier).next_version()
    identifier = str(parsed)
    slot_index = status_no - 1
    list_seq, index = divmod(slot_index, reg.settings.status_list_size)
    slots = [
        await _status_slot(reg, session, org_code, purpose, list_seq + 1, index)
        for purpose in ("revocation", "suspension")
    ]

    key = await active_key(session, org_code)
    signer = signer_for(reg, key)
    base = reg.settings.base_url
    unsigned = full_credential(
        credential_id=f"{base}/licenses/{identifier}",
        issuer_did=reg.settings.department_did(org_code),
        issuer_name=org_name,
        holder=holder,
        license_type=lt.type,
        fields=fields,
        valid_from=valid_from,
        valid_until=valid_until,
        status=[slot for slot, _ in slots],
    )
    signed = add_proof(unsigned, signer, created=vc_time(now))
    payload = encode_payload(signed)
    compact_json: str | None = None
    if len(payload) > MAX_PAYLOAD_CHARS:
        compact = add_proof(compact_credential(signed), signer, created=vc_time(now))
        payload = encode_payload(compact)
        compact_json = canonicalize(compact).decode()
        if len(payload) > MAX_PAYLOAD_CHARS:
            raise errors.PayloadTooLarge(
                f"简版凭证仍超出二维码容量（{len(payload)} 字符）/ Even the compact credential does not fit "
                f"the QR budget ({len(payload)} > {MAX_PAYLOAD_CHARS} characters)"
            )
    assert key.id is not None
    licence = License(
        identifier=identifier,
        issuer_code=org_code,
        serial=parsed.serial,
        version=parsed.version,
        license_type=lt.type,
        holder_id_type=holder.id_type,
        holder_id_number=holder.id_number,
        holder_name=holder.name,
        valid_from=valid_from,
        valid_until=valid_until,
        credential_jcs=canonicalize(signed).decode(),
        compact_jcs=compact_json,
        qr_payload=payload,
        status_index=index,
        revocation_list_id=slots[0][1],
        suspension_list_id=slots[1][1],
        signing_key_id=key.id,
        previous_identifier=replaces.identifier if replaces is not None else None,
        issued_at=now,
    )
    session.add(licence)
    session.add(
        LicenseEvent(
            identifier=identifier,
            action=action,
            reason=reason,
            actor=actor or org_code,
            status_after="active",
            related_identifier=licence.previous_identifier,
            at=now,
        )
    )
    await session.flush()
    return licence, org_name


async def _status_slot(
    reg: Registry, session: AsyncSession, org_code: str, purpose: str, seq: int, index: int
) -> tuple[StatusSlot, str]:
    list_id = f"{org_code}-{purpose}-{seq}"
    # Slots are handed out in order under the department's row lock, so a list is new exactly when its
    # first slot is taken (a rolled-back first slot rolls its counter back too and is handed out again).
    if index == 0:
        size = reg.settings.status_list_size
        session.add(
            StatusList(id=list_id, org_code=org_code, purpose=purpose, seq=seq, size=size, bits=bytes(size // 8))
        )
        await session.flush()
    url = f"{reg.settings.base_url}/status-lists/{list_id}"
    return StatusSlot(purpose, url, index), list_id


def effective_status(licence: License, now: datetime | None = None) -> str:
    """The stored status, except that an active licence past its validity reads as expired (05 失效)."""
    now = now or datetime.now(UTC)
    if licence.status == "active" and licence.valid_until is not None and now >= licence.valid_until:
        return "expired"
    return licence.status


# --- reading ----------------------------------------------------------------------------------------------


def parse_identifier(text: str) -> LicenseIdentifier:
    try:
        return LicenseIdentifier.parse(text)
    except IdentifierError as exc:
        raise errors.InvalidIdentifier(str(exc), identifier=text[:120]) from exc


async def get_for_issuer(reg: Registry, principal: Principal, identifier: str) -> License:
    """The licence, for the department that issued it; to anyone else it does not exist."""
    principal.require_scope("licenses:read")
    parsed = parse_identifier(identifier)
    async with reg.db.read() as session:
        licence = await session.get(License, str(parsed))
    # Another department's licence answers 404 like a missing one: holding it is not theirs to learn.
    if licence is None or licence.issuer_code != principal.subject:
        raise errors.LicenseNotFound(f"证照 {parsed} 不存在 / No licence {parsed}")
    return licence


async def get_for_reader(reg: Registry, principal: Principal, identifier: str) -> License:
    """The licence, for the department that issued it or the holder it was issued to."""
    if principal.kind != "holder":
        return await get_for_issuer(reg, principal, identifier)
    parsed = parse_identifier(identifier)
    async with reg.db.read() as session:
        licence = await session.get(License, str(parsed))
    if licence is None or licence.holder_id_number != principal.subject:
        raise errors.LicenseNotFound(f"证照 {parsed} 不存在 / No licence {parsed}")
    return licence


def credential_of(licence: License) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(licence.credential_jcs)
    return loaded


def to_public(reg: Registry, licence: License, issuer_name: str) -> LicensePublic:
    lt = reg.catalog.get(licence.license_type)
    status = effective_status(licence)
    base = f"{reg.settings.base_url}/api/v1/licenses/{licence.identifier}"
    return LicensePublic(
        identifier=licence.identifier,
        type=licence.license_type,
        type_name=lt.name,
        version=licence.version,
        status=status,
        status_code=STATUS_CODES[status],
        holder=HolderOut(id_type=licence.holder_id_type, id_number=licence.holder_id_number, name=licence.holder_name),
        issuer_code=licence.issuer_code,
        issuer_name=issuer_name,
        valid_from=vc_time(licence.valid_from),
        valid_until=vc_time(licence.valid_until) if licence.valid_until else None,
        issued_at=vc_time(licence.issued_at),
        previous_identifier=licence.previous_identifier,
        compact_qr=licence.compact_jcs is not None,
        credential=credential_of(licence),
        compact_credential=json.loads(licence.compact_jcs) if licence.compact_jcs else None,
        qr_payload=licence.qr_payload,
        links=LicenseLinks(
            self=base,
            credential=f"{base}/credential",
            qr_png=f"{base}/qr.png",
            qr_svg=f"{base}/qr.svg",
            pdf=f"{base}/pdf",
        ),
    )


async def issuer_name(reg: Registry, code: str) -> str:
    async with reg.db.read() as session:
        org = await session.get(Organisation, code)
    return org.name if org else code
