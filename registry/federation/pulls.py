"""A share code redeemed in another region (跨省通办): the two halves of a remote pull.

At the window's registry (``pull_remote``): the code names its home registry (``SC1:<home id>.<token>``); the
window's registry asks the home registry, over a signed registry-to-registry call, for the licences its case
still misses, verifies each one itself (the home's pinned keys, the home's status lists), and fills the case
exactly as a local pull does.

At the home registry (``serve_pull``): the call is checked (registry.federation.calls), the code is redeemed
as for a local window — once, within its time, for the agency it may be bound to —, each licence released is
checked, excerpted when the holder limited its fields, and logged for the holder under the requesting agency
and region, in the same transaction as the call's nonce.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from registry import errors
from registry.federation.calls import accept_call, call_peer
from registry.sharing.service import log_entry, parse_code, redeem

if TYPE_CHECKING:
    from registry.context import Registry
    from registry.models import Case, CaseMaterial, Organisation
    from registry.service_items import ServiceItem

PULL_PATH = "/api/v1/federation/pulls"


class RemoteAgency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=18)
    name: str = Field(default="", max_length=200)


class PullRequest(BaseModel):
    """What a window's registry asks of a code's home registry."""

    model_config = ConfigDict(extra="forbid")
    share_code: str = Field(max_length=100)
    service_code: str = Field(max_length=64)
    service_name: str = Field(default="", max_length=200)
    wanted: list[str] = Field(max_length=32)  # licence types of the case's missing materials, one per material
    agency: RemoteAgency
    case_id: str = Field(max_length=32)
    staff: str | None = Field(default=None, max_length=64)


async def serve_pull(reg: Registry, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    from registry.cases.service import _delivered, candidate_licences, released_types  # as a local pull
    from registry.verify.service import verify

    async with reg.db.transaction() as session:
        caller = await accept_call(reg, session, "POST", PULL_PATH, headers, body)
        try:
            ask = PullRequest.model_validate_json(body)
        except ValueError as exc:
            raise errors.ValidationFailed(f"调取请求格式错误 / malformed pull request: {str(exc)[:300]}") from None
        code = await redeem(reg, session, ask.share_code, ask.agency.code)
        types = released_types(code, ask.service_code, set(ask.wanted)) & set(ask.wanted)
        candidates = await candidate_licences(session, code.holder_id_number, code.license_ids, types)
        agent = code.created_by if code.created_by != code.holder_id_number else None
        released: list[dict[str, Any]] = []
        taken: set[str] = set()
        now = datetime.now(UTC)
        for license_type in ask.wanted:
            licence = next(
                (c for c in candidates if c.license_type == license_type and c.identifier not in taken), None
            )
            if licence is None:
                continue
            taken.add(licence.identifier)
            full = json.loads(licence.credential_jcs)
            result = await verify(reg, credential=full, session=session)
            limited = code.fields.get(licence.license_type) if code.fields else None
            delivered = (
                await _delivered(reg, session, licence, full, limited, ask.case_id, now) if result["valid"] else None
            )
            released.append({"license_type": licence.license_type, "identifier": licence.identifier,
                             "verdict": result["verdict"], "fields": limited, "credential": delivered})  # fmt: skip
            session.add(
                log_entry(
                    holder_id_number=code.holder_id_number, actor_kind="agency", actor_code=ask.agency.code,
                    actor_name=ask.agency.name, via="agent" if agent else "code",
                    purpose=code.purpose or ask.service_name, service_code=ask.service_code, case_id=ask.case_id,
                    identifier=licence.identifier, license_type=licence.license_type, fields=limited,
                    region=caller, agent_id_number=agent, share_code_id=code.id, staff_username=ask.staff,
                )
            )  # fmt: skip
        return {"holder_id_number": code.holder_id_number, "agent": agent, "released": released}


async def pull_remote(
    reg: Registry,
    session: Any,
    case: Case,
    item: ServiceItem,
    agency: Organisation,
    materials: list[CaseMaterial],
    text: str,
    *,
    party: str | None,
    staff: str | None,
) -> None:
    from registry.verify.service import verify

    home = parse_code(text).registry_id
    wanted = [m for m in materials if m.state not in ("pulled", "fulfilled") and (party is None or m.party == party)]
    answer = await call_peer(
        reg,
        home,
        PULL_PATH,
        {"share_code": text.strip(), "service_code": item.code, "service_name": item.name,
         "wanted": [m.license_type for m in wanted], "agency": {"code": agency.code, "name": agency.name},
         "case_id": case.id, "staff": staff},
    )  # fmt: skip
    holder = answer.get("holder_id_number")
    released = answer.get("released")
    if not isinstance(holder, str) or not isinstance(released, list):
        raise errors.PeerUnavailable(f"{home} 的调取应答格式错误 / {home} answered a malformed pull")
    now = datetime.now(UTC)
    via = "agent" if answer.get("agent") else "code"
    for entry in released[: len(wanted)]:
        if not isinstance(entry, dict):
            continue
        material = next(
            (m for m in wanted if m.license_type == entry.get("license_type") and m.identifier is None), None
        )
        if material is None:
            continue
        credential = entry.get("credential")
        # Checked here, not taken on the home registry's word: its pinned keys, its status lists.
        try:
            doc = json.loads(credential) if isinstance(credential, str) else None
        except ValueError:
            doc = None
        result = await verify(reg, credential=doc, session=session) if doc is not None else None
        material.identifier = str(entry.get("identifier"))[:100]
        material.verdict = result["verdict"] if result is not None else str(entry.get("verdict"))[:32]
        material.holder_id_number, material.via = holder, via
        fields = entry.get("fields")
        material.fields = fields if isinstance(fields, list) else None
        if result is not None and result["valid"]:
            material.state = "fulfilled" if material.state == "committed" else "pulled"
            material.pulled_at = now
            material.credential_jcs = credential
