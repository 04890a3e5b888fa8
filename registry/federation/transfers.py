"""Transfer out / in (办理转出 / 转入): a licence moves to another region's registry.

The receiving department (at the window's registry) issues its own licence from the holder's current one —
which must verify here as a pinned peer's valid licence — linked to the old identifier. Before that issuance
commits, the receiving registry tells the home registry over a signed registry-to-registry call; the home
registry marks the old licence transferred (GB/T status 06: its revocation bit is set, so every verifier sees it
end) with an event naming the new identifier and region, and verifying it there says where it moved. If the home
registry refuses or cannot be reached, nothing is issued.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from registry import errors
from registry.federation.calls import accept_call, call_peer
from registry.licence_types import validate_holder
from registry.licenses.drafts import Draft, validity_window
from registry.models import License, LicenseEvent

if TYPE_CHECKING:
    from registry.auth.tokens import Principal
    from registry.context import Registry

TRANSFER_PATH = "/api/v1/federation/transfers"


class TransferNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifier: str = Field(max_length=100)
    holder_id_number: str = Field(max_length=32)
    new_identifier: str = Field(max_length=100)
    department: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=500)


class TransferIn(BaseModel):
    """The holder's current licence from another region, as its full credential (e.g. from a case's pull)."""

    model_config = ConfigDict(extra="forbid")
    credential: dict[str, Any]
    reason: str = Field(default="", max_length=500)


async def serve_transfer(reg: Registry, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """At the home registry: mark the licence transferred, for the pinned peer that now holds it."""
    from registry.licenses.lifecycle import apply_status

    now = datetime.now(UTC)
    async with reg.db.transaction() as session:
        caller = await accept_call(reg, session, "POST", TRANSFER_PATH, headers, body)
        try:
            notice = TransferNotice.model_validate_json(body)
        except ValueError as exc:
            raise errors.ValidationFailed(f"转出通知格式错误 / malformed transfer notice: {str(exc)[:300]}") from None
        licence = (
            await session.exec(select(License).where(col(License.identifier) == notice.identifier).with_for_update())
        ).first()
        if licence is None or licence.holder_id_number != notice.holder_id_number:
            raise errors.LicenseNotFound(f"证照 {notice.identifier} 不存在 / No licence {notice.identifier}")
        if licence.status not in ("active", "suspended"):
            raise errors.InvalidTransition(
                f"证照状态为 {licence.status}，不能转出 / a {licence.status} licence cannot be transferred",
                status=licence.status,
            )
        licence.status = "transferred"
        session.add(licence)
        session.add(
            LicenseEvent(
                identifier=licence.identifier,
                action="transfer",
                reason=notice.reason or f"转出至 {caller} {notice.department} / transferred to registry {caller}",
                actor=f"registry:{caller}",
                status_after="transferred",
                related_identifier=notice.new_identifier,
                at=now,
            )
        )
        await apply_status(session, licence, now)
    reg.caches.expire()
    return {
        "identifier": licence.identifier,
        "status": "transferred",
        "moved_to": moved_to(caller, notice.new_identifier),
    }


def moved_to(registry_id: str, identifier: str | None) -> dict[str, Any]:
    return {"registry_id": registry_id, "identifier": identifier}


async def where_moved(reg: Registry, session: Any, identifier: str) -> dict[str, Any] | None:
    """For a transferred licence: the region and licence it became (from its transfer event)."""
    ev = (
        await session.exec(
            select(LicenseEvent)
            .where(col(LicenseEvent.identifier) == identifier, col(LicenseEvent.action) == "transfer")
            .order_by(col(LicenseEvent.id).desc())
        )
    ).first()
    return moved_to(ev.actor.removeprefix("registry:"), ev.related_identifier) if ev is not None else None


async def transfer_in(reg: Registry, principal: Principal, body: TransferIn) -> tuple[License, str]:
    """At the receiving registry: issue our own licence from a peer's, linked to it, once the home registry
    has marked the old one transferred."""
    from registry.licenses.service import sign_and_store
    from registry.verify.service import verify

    principal.require_scope("licenses:issue")
    result = await verify(reg, credential=body.credential)
    home = result.get("issuing_registry") or {}
    if home.get("id") in (None, reg.settings.registry_id):
        raise errors.ValidationFailed(
            "只能转入其他地区登记库签发的证照 / only a licence from another region transfers in"
        )
    if not result["valid"]:
        raise errors.ValidationFailed(
            f"原证照核验未通过（{result['verdict']}）/ the licence to transfer does not verify: {result['verdict']}",
            verdict=result["verdict"],
        )
    subject = body.credential.get("credentialSubject")
    old_identifier = (result.get("license") or {}).get("identifier")
    if not isinstance(subject, dict) or not isinstance(subject.get("holder"), dict) or not old_identifier:
        raise errors.ValidationFailed("凭证缺少持证人或证照信息 / the credential names no holder or licence")
    lt = reg.catalog.get(str(subject.get("licenseType")))
    raw = subject["holder"]
    holder = validate_holder(raw.get("idType"), raw.get("idNumber"), raw.get("name"), lt.holder_id_types)
    fields = lt.validate_fields(subject.get("fields") or {}, holder)
    now = datetime.now(UTC)
    until = body.credential.get("validUntil")
    valid_from, valid_until = validity_window(lt, None, until if isinstance(until, str) else None, now)
    async with reg.db.transaction() as session:
        licence, org_name = await sign_and_store(
            reg, session, principal.subject, Draft(lt, holder, fields, valid_from, valid_until), now,
            actor=principal.actor, action="transfer_in", reason=body.reason or f"自 {home['id']} 转入",
            previous_identifier=old_identifier,
        )  # fmt: skip
        # Last, inside the transaction: if the home registry refuses or is unreachable, nothing is issued here.
        await call_peer(reg, str(home["id"]), TRANSFER_PATH, {
            "identifier": old_identifier, "holder_id_number": holder.id_number, "new_identifier": licence.identifier,
            "department": org_name, "reason": body.reason,
        })  # fmt: skip
    return licence, org_name


def credential_json(licence: License) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(licence.credential_jcs)
    return loaded
