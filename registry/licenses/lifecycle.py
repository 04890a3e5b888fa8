"""The licence lifecycle (DESIGN §3.3): suspend (暂扣) ↔ reinstate (发还), revoke (撤销) / withdraw (吊销),
cancel (注销), and renew (延续) / amend (变更), which sign a new version linked to the one they replace.

Every change happens in one transaction with the status-list bits it implies and an event saying who did
it, why and when. Only the issuing department may act.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import counters, errors
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licence_types import HolderRef
from registry.licenses.drafts import Draft, check_window, parse_time, today, validity_window
from registry.licenses.schemas import AmendBody, RenewBody
from registry.licenses.service import credential_of, effective_status, get_for_issuer, parse_identifier, sign_and_store
from registry.models import License, LicenseEvent, Organisation, Rendition, StatusList
from verification.status_list import with_bit

# action → (statuses it may start from, status it leaves)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "suspend": (frozenset({"active"}), "suspended"),
    "reinstate": (frozenset({"suspended"}), "active"),
    "revoke": (frozenset({"active", "suspended"}), "revoked"),
    "withdraw": (frozenset({"active", "suspended"}), "withdrawn"),
    "cancel": (frozenset({"active", "suspended"}), "cancelled"),
    "renew": (frozenset({"active"}), "superseded"),
    "amend": (frozenset({"active"}), "superseded"),
}
# Statuses that set the revocation bit: nothing brings a licence back from these.
FINAL = frozenset({"revoked", "withdrawn", "cancelled", "superseded", "transferred"})
ACTION_NAMES = {
    "suspend": "暂扣",
    "reinstate": "暂扣发还",
    "revoke": "撤销",
    "withdraw": "吊销",
    "cancel": "注销",
    "renew": "延续",
    "amend": "变更",
}


@dataclass(frozen=True)
class Changed:
    license: License
    issuer_name: str
    new_version: License | None = None


async def _locked(session: AsyncSession, principal: Principal, identifier: str) -> License:
    parsed = parse_identifier(identifier)
    licence = (
        await session.exec(select(License).where(License.identifier == str(parsed)).with_for_update())
    ).one_or_none()
    if licence is None or licence.issuer_code != principal.subject:
        raise errors.LicenseNotFound(f"证照 {parsed} 不存在 / No licence {parsed}")
    return licence


def _check_transition(licence: License, action: str, now: datetime) -> str:
    allowed, after = TRANSITIONS[action]
    current = effective_status(licence, now)
    # An expired licence may still be renewed (延续 after expiry), and suspended or revoked like any other.
    if current == "expired" and action != "amend":
        current = "active"
    if current not in allowed:
        raise errors.InvalidTransition(
            f"证照当前状态为「{current}」，不能{ACTION_NAMES[action]} / "
            f"A licence that is {current} cannot be {action}d",
            status=current,
            action=action,
        )
    return after


def status_bits(licence: License) -> dict[str, bool]:
    """What the licence's status says its bits are: status list id -> bit at its ``status_index``."""
    return {
        licence.revocation_list_id: licence.status in FINAL,
        licence.suspension_list_id: licence.status == "suspended",
    }


async def apply_status(session: AsyncSession, licence: License, now: datetime) -> None:
    """Set the licence's revocation and suspension bits to match its status, and bump the status counter
    so every worker reloads those lists."""
    version = await counters.bump(session, counters.STATUS)
    for list_id, value in status_bits(licence).items():
        status_list = (await session.exec(select(StatusList).where(StatusList.id == list_id).with_for_update())).one()
        bits = with_bit(status_list.bits, licence.status_index, value)
        if bits != status_list.bits:
            status_list.bits = bits
            status_list.version = version
            status_list.updated_at = now
            session.add(status_list)
    # The PDF prints the status: drop cached renditions so the next print is current.
    await session.exec(delete(Rendition).where(col(Rendition.identifier) == licence.identifier))


async def change_status(reg: Registry, principal: Principal, identifier: str, action: str, reason: str) -> Changed:
    principal.require_scope("licenses:manage")
    now = datetime.now(UTC)
    async with reg.db.transaction() as session:
        licence = await _locked(session, principal, identifier)
        licence.status = _check_transition(licence, action, now)
        session.add(licence)
        session.add(
            LicenseEvent(
                identifier=licence.identifier,
                action=action,
                reason=reason,
                actor=principal.actor,
                status_after=licence.status,
                at=now,
            )
        )
        await apply_status(session, licence, now)
        name = await _issuer_name(session, licence.issuer_code)
    reg.caches.expire()  # this worker's next scan sees the change at once
    return Changed(licence, name)


async def new_version(
    reg: Registry, principal: Principal, identifier: str, action: str, body: RenewBody | AmendBody
) -> Changed:
    """Renew or amend: the old version is superseded (revocation bit set) and a new one is signed."""
    principal.require_scope("licenses:manage")
    now = datetime.now(UTC)
    async with reg.db.transaction() as session:
        old = await _locked(session, principal, identifier)
        _check_transition(old, action, now)
        lt = reg.catalog.get(old.license_type)
        fields: dict[str, Any] = dict(credential_of(old)["credentialSubject"]["fields"])
        holder = HolderRef(old.holder_id_type, old.holder_id_number, old.holder_name)
        if isinstance(body, AmendBody):
            # An amendment changes content, not term: the new version runs from today to the old expiry.
            if body.holder_name is not None:
                holder = lt.validate_holder(holder.id_type, holder.id_number, body.holder_name)
            fields = lt.validate_fields({**fields, **body.fields}, holder)
            valid_from = today(now)
            valid_until = parse_time(body.valid_until, "valid_until") if body.valid_until else old.valid_until
            check_window(valid_from, valid_until)
        else:
            valid_from, valid_until = validity_window(lt, body.valid_from, body.valid_until, now)
        draft = Draft(lt, holder, fields, valid_from, valid_until)
        new, name = await sign_and_store(
            reg,
            session,
            old.issuer_code,
            draft,
            now,
            replaces=old,
            actor=principal.actor,
            action=action,
            reason=body.reason,
        )
        old.status = "superseded"
        session.add(old)
        session.add(
            LicenseEvent(
                identifier=old.identifier,
                action=action,
                reason=body.reason,
                actor=principal.actor,
                status_after="superseded",
                related_identifier=new.identifier,
                at=now,
            )
        )
        await apply_status(session, old, now)
    reg.caches.expire()
    return Changed(old, name, new_version=new)


async def history(reg: Registry, principal: Principal, identifier: str) -> list[LicenseEvent]:
    licence = await get_for_issuer(reg, principal, identifier)
    async with reg.db.read() as session:
        rows = await session.exec(
            select(LicenseEvent).where(LicenseEvent.identifier == licence.identifier).order_by(col(LicenseEvent.id))
        )
        return list(rows.all())


async def _issuer_name(session: AsyncSession, code: str) -> str:
    org = await session.get(Organisation, code)
    return org.name if org is not None else code
