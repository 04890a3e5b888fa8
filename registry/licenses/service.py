"""Issuing licences: validate against the template, number, reserve status slots, sign, store — atomically."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.db import insert_many
from registry.licence_types import LicenseType, validate_holder
from registry.licenses.bulk import Numbered, Signed, SigningContext, sign_row
from registry.licenses.credentials import StatusSlot, full_credential, sign_credential, vc_time
from registry.licenses.drafts import Draft, check_may_issue, validity_window
from registry.licenses.schemas import HolderOut, LicenseCreate, LicenseLinks, LicensePublic
from registry.log import entries as log_entries
from registry.models import IdempotencyRecord, License, LicenseEvent, Organisation, SigningKey, StatusList
from registry.orgs.service import active_key, seal_ref, signer_for
from signing.jcs import canonicalize
from signing.keys import Signer
from verification.identifiers import IdentifierError, LicenseIdentifier

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
log = logging.getLogger("registry.issuance")


@dataclass(frozen=True)
class Issued:
    license: License | NewLicence
    issuer_name: str
    replayed: bool


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

    # Validated first; whether the key was used already is settled by the group's transaction, in one query
    # for all its requests (a retry of an issued request is answered there, from its record).
    try:
        lt = reg.catalog.get(body.type)
        holder = validate_holder(body.holder.id_type, body.holder.id_number, body.holder.name, lt.holder_id_types)
        fields = lt.validate_fields(body.fields, holder)
        now = datetime.now(UTC)
        valid_from, valid_until = validity_window(lt, body.valid_from, body.valid_until, now)
    except errors.RegistryError:
        # A key already used says so before what is wrong with the body: the retry is the caller's mistake.
        async with reg.db.read() as session:
            record = await session.get(IdempotencyRecord, (org_code, key))
            if record is not None:
                return await _replay(session, record, digest)
        raise
    request = IssueRequest(org_code, key, digest, Draft(lt, holder, fields, valid_from, valid_until), principal.actor)
    issued: Issued = await reg.issue_group.submit(request, functools.partial(_write_group, reg))
    return issued


@dataclass(frozen=True)
class IssueRequest:
    """A validated ``POST /api/v1/licenses``, waiting for its group's transaction."""

    org_code: str
    key: str
    digest: str
    draft: Draft
    actor: str


async def _write_group(reg: Registry, group: list[tuple[IssueRequest, asyncio.Future[Issued]]]) -> None:
    """Issue a group of requests in one transaction; each request gets its licence or its own error. If the
    transaction fails as a whole (a key raced in from another worker, a database fault), each request is
    issued alone, as it would have been without grouping."""
    try:
        outcomes = await _issue_together(reg, [request for request, _ in group])
    except Exception:
        log.warning("group of %d issuances failed together; issuing them one by one", len(group), exc_info=True)
        for request, future in group:
            try:
                issued = await _issue_alone(reg, request)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(issued)
        return
    for (_, future), outcome in zip(group, outcomes, strict=True):
        if future.done():  # cancelled while the server shut down
            continue
        if isinstance(outcome, Issued):
            future.set_result(outcome)
        else:
            future.set_exception(outcome)


async def _issue_together(reg: Registry, requests: list[IssueRequest]) -> list[Issued | Exception]:
    outcomes: list[Issued | Exception | None] = [None] * len(requests)
    first: dict[tuple[str, str], int] = {}  # (department, key) -> the request that issues under it
    repeats: list[tuple[int, int]] = []  # the same key twice in one group: answered as a retry of the first
    for i, request in enumerate(requests):
        if (request.org_code, request.key) in first:
            repeats.append((i, first[request.org_code, request.key]))
        else:
            first[request.org_code, request.key] = i
    async with reg.db.transaction() as session:
        # Keys already recorded (a retry of an issued request; another worker's): answered as replays.
        for org_code in {r.org_code for r in requests}:
            keys = [key for (org, key) in first if org == org_code]
            query = select(IdempotencyRecord).where(
                col(IdempotencyRecord.org_code) == org_code, col(IdempotencyRecord.key).in_(keys)
            )
            for record in (await session.exec(query)).all():
                i = first[org_code, record.key]
                try:
                    outcomes[i] = await _replay(session, record, requests[i].digest)
                except errors.RegistryError as exc:
                    outcomes[i] = exc
        # The rest, by department and type: one numbering statement, signing, one INSERT per table.
        todo: dict[tuple[str, str], list[int]] = {}
        for i in first.values():
            if outcomes[i] is None:
                todo.setdefault((requests[i].org_code, requests[i].draft.lt.type), []).append(i)
        for (org_code, _), indices in todo.items():
            lt = requests[indices[0]].draft.lt
            try:  # a department that may not issue this type, or has no key, numbers nothing
                key = await active_key(session, org_code)
                numbered, org_name = await reserve_numbers(
                    reg, session, org_code, lt, [requests[i].draft for i in indices]
                )
            except errors.RegistryError as exc:
                for i in indices:
                    outcomes[i] = exc
                continue
            assert key.id is not None
            context, signer = signing_context(reg, org_code, lt.type, org_name, key)
            items: list[Stored] = []
            stored_at: list[int] = []
            for i, number in zip(indices, numbered, strict=True):
                try:  # a credential too large for a QR code fails alone (its numbers stay unused)
                    signed = sign_row(context, number, signer)
                except errors.RegistryError as exc:
                    outcomes[i] = exc
                    continue
                items.append(Stored(requests[i].key, requests[i].digest, number, signed, requests[i].actor))
                stored_at.append(i)
            licences = await store_signed(session, context, key.id, items)
            for i, licence in zip(stored_at, licences, strict=True):
                outcomes[i] = Issued(licence, org_name, replayed=False)
    for i, j in repeats:
        earlier = outcomes[j]
        if isinstance(earlier, Issued) and requests[i].digest != requests[j].digest:
            outcomes[i] = errors.IdempotencyKeyReused(
                "此 Idempotency-Key 已用于内容不同的签发请求 / "
                "This Idempotency-Key was used for a different request; use a new key for a new licence",
                identifier=earlier.license.identifier,
            )
        elif isinstance(earlier, Issued):
            outcomes[i] = Issued(earlier.license, earlier.issuer_name, replayed=True)
        else:
            outcomes[i] = earlier
    return [outcome if outcome is not None else RuntimeError("not issued") for outcome in outcomes]


async def _issue_alone(reg: Registry, request: IssueRequest) -> Issued:
    """One request in its own transaction (what a group falls back to)."""
    org_code, key, digest = request.org_code, request.key, request.digest
    try:
        async with reg.db.transaction() as session:
            record = await session.get(IdempotencyRecord, (org_code, key))
            if record is not None:
                return await _replay(session, record, digest)
            licence, org_name = await sign_and_store(
                reg, session, org_code, request.draft, datetime.now(UTC), actor=request.actor
            )
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
    previous_identifier: str | None = None,
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
    check_may_issue(role, allowed, lt)

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
    signed = sign_credential(unsigned, signer, vc_time(now))
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
        credential_jcs=signed.credential_jcs,
        compact_jcs=signed.compact_jcs,
        qr_payload=signed.qr_payload,
        status_index=index,
        revocation_list_id=slots[0][1],
        suspension_list_id=slots[1][1],
        signing_key_id=key.id,
        # The version it replaces, or the licence it was transferred in from (another region's identifier).
        previous_identifier=replaces.identifier if replaces is not None else previous_identifier,
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


# --- many licences at once: the API's group commit and bulk issuance -------------------------------------


async def reserve_numbers(
    reg: Registry, session: AsyncSession, org_code: str, lt: LicenseType, drafts: list[Draft]
) -> tuple[list[Numbered], str]:
    """Take the next ``len(rows)`` serials and status slots in one statement (it locks the department's row,
    as one issuance does), create the status lists the slots open, and number the drafts in order."""
    count = len(drafts)
    reserved = (
        await session.exec(
            update(Organisation)
            .where(col(Organisation.code) == org_code)
            .values(
                next_serial=Organisation.next_serial + count,
                next_status_index=Organisation.next_status_index + count,
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
    if reserved is None:
        raise errors.OrganisationNotFound(f"机构 {org_code} 不存在 / No organisation {org_code}")
    last_serial, last_slot, allowed, org_name, role = reserved
    try:
        check_may_issue(role, allowed, lt)
    except errors.LicenseTypeNotAllowed:
        # Given back in the same transaction, under the same row lock: as if never taken (cheaper than a
        # savepoint around every group's numbering, for what is a caller's mistake).
        await session.exec(
            update(Organisation)
            .where(col(Organisation.code) == org_code)
            .values(
                next_serial=Organisation.next_serial - count,
                next_status_index=Organisation.next_status_index - count,
            )
        )
        raise
    size = reg.settings.status_list_size
    first_serial, first_slot = last_serial - count + 1, last_slot - count  # slots count from 0
    numbered: list[Numbered] = []
    new_lists: list[dict[str, Any]] = []
    for i, (d, (serial, identifier)) in enumerate(
        zip(drafts, LicenseIdentifier.series(lt.type_code, org_code, first_serial, count), strict=True)
    ):
        seq, index = divmod(first_slot + i, size)
        lists = [f"{org_code}-{purpose}-{seq + 1}" for purpose in ("revocation", "suspension")]
        if index == 0:  # the list's first slot: it is new (as in service._status_slot)
            for list_id, purpose in zip(lists, ("revocation", "suspension"), strict=True):
                new_lists.append(
                    {"id": list_id, "org_code": org_code, "purpose": purpose, "seq": seq + 1, "size": size}
                )
        numbered.append(Numbered(identifier, serial, d.holder, d.fields, d.valid_from, d.valid_until, index, *lists))
    for values in new_lists:
        session.add(StatusList(**values, bits=bytes(size // 8)))
    if new_lists:
        await session.flush()
    return numbered, org_name


def signing_context(
    reg: Registry, org_code: str, license_type: str, org_name: str, key: SigningKey
) -> tuple[SigningContext, Signer]:
    """What every licence of a group shares when signed with ``key`` (the signer stays in this process; the
    context carries the sealed key, for bulk workers that unseal it themselves)."""
    signer = signer_for(reg, key)
    now = datetime.now(UTC)
    context = SigningContext(
        license_type=license_type,
        issuer_code=org_code,
        issuer_did=reg.settings.department_did(org_code),
        issuer_name=org_name,
        base_url=reg.settings.base_url,
        issued_at=now,
        created=vc_time(now),
        seal_ref=seal_ref(org_code, key.key_ref),
        verification_method=signer.verification_method,
        sealed=key.sealed_secret,
        public_key=signer.public_key,
    )
    return context, signer


class NewLicence(NamedTuple):
    """A licence just stored by :func:`store_signed`: its columns, in the table's order. Reads like a
    :class:`License` for :func:`to_public` without the cost of an ORM object per licence."""

    identifier: str
    issuer_code: str
    serial: str
    version: int
    license_type: str
    holder_id_type: str
    holder_id_number: str
    holder_name: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    credential_jcs: str
    compact_jcs: str | None
    qr_payload: str
    status_index: int
    revocation_list_id: str
    suspension_list_id: str
    signing_key_id: int
    previous_identifier: str | None
    issued_at: datetime


class Stored(NamedTuple):
    """One licence of a group, signed, with the idempotency record it is stored under."""

    key: str
    request_hash: str
    number: Numbered
    signed: Signed
    actor: str


async def store_signed(
    session: AsyncSession, context: SigningContext, key_id: int, items: list[Stored], reason: str = ""
) -> list[NewLicence]:
    """Store a group's licences, their history, idempotency records and log entries: executemany INSERTs at the
    driver (the ORM's unit of work, or even Core's per-row parameter handling, costs more per row than SQLite
    does). They are recorded as issued when they were signed (``context.issued_at``), as their log entries say."""
    org_code, now = context.issuer_code, context.issued_at
    licences = [
        NewLicence(
            item.number.identifier,
            org_code,
            item.number.serial,
            1,
            context.license_type,
            item.number.holder.id_type,
            item.number.holder.id_number,
            item.number.holder.name,
            "active",
            item.number.valid_from,
            item.number.valid_until,
            item.signed.credential.credential_jcs,
            item.signed.credential.compact_jcs,
            item.signed.credential.qr_payload,
            item.number.status_index,
            item.number.revocation_list_id,
            item.number.suspension_list_id,
            key_id,
            None,
            now,
        )
        for item in items
    ]
    await insert_many(session, License.__table__, NewLicence._fields, licences)  # type: ignore[attr-defined]
    await insert_many(
        session,
        LicenseEvent.__table__,  # type: ignore[attr-defined]
        ("identifier", "action", "reason", "actor", "status_after", "related_identifier", "at"),
        [(item.number.identifier, "issue", reason, item.actor, "active", None, now) for item in items],
    )
    await insert_many(
        session,
        IdempotencyRecord.__table__,  # type: ignore[attr-defined]
        ("org_code", "key", "request_hash", "identifier", "created_at"),
        [(org_code, item.key, item.request_hash, item.number.identifier, now) for item in items],
    )
    # Written at the driver, so the ORM's flush does not see them: their log entries (built when they were
    # signed, see ``bulk.sign_row``) are handed over here.
    log_entries.pending(session.sync_session, [item.signed.entry for item in items])
    return licences


def effective_status(licence: License | NewLicence, now: datetime | None = None) -> str:
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


def credential_of(licence: License | NewLicence) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(licence.credential_jcs)
    return loaded


def to_public(reg: Registry, licence: License | NewLicence, issuer_name: str) -> LicensePublic:
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
