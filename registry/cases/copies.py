"""Annotated copies (加注件) of a case: a cover listing every material and its state, then each licence the window
received, stamped "仅供〈机构〉办理〈事项〉使用" with the date and the copy's own expiry, watermarked, with a QR that
verifies what was released — so nothing is photocopied."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import anyio.to_thread
from sqlmodel import col, select

from registry.auth.tokens import Principal
from registry.calendar import CHINA
from registry.cases.service import DELIVERED, case_materials, own_case
from registry.context import Registry
from registry.licenses.renditions import cn_date, printable
from registry.models import License, Organisation
from registry.rendering.pdf import AnnotatedCopy, CaseCover, CoverLine, render_annotated_copies
from registry.service_items import PARTIES, default_service_catalog
from verification.payload import encode_payload

COPY_VALID_DAYS = 30
REQUIREMENT_TEXT = {"required": "必需", "optional": "可选", "one_of": "任选其一"}
VERDICT_TEXT = {
    "valid": "核验有效",
    "revoked": "证照已撤销",
    "suspended": "证照已暂扣",
    "expired": "证照已过期",
    "not_yet_valid": "证照尚未生效",
    "key_revoked": "签名密钥已吊销",
}


def _state_text(state: str, due: str | None) -> str:
    return {"pulled": "已调取", "missing": "缺失", "fulfilled": "已补齐"}.get(state, f"已承诺（{due}前）")


async def materials_pdf(reg: Registry, principal: Principal, case_id: str) -> tuple[bytes, str]:
    principal.require_scope("cases:read")
    async with reg.db.read() as session:
        case = await own_case(session, principal, case_id)
        materials = await case_materials(session, case.id)
        agency = await session.get(Organisation, case.agency_code)
        identifiers = [m.identifier for m in materials if m.state in DELIVERED and m.identifier]
        rows = await session.exec(
            select(License, Organisation).where(
                col(License.identifier).in_(identifiers), col(License.issuer_code) == col(Organisation.code)
            )
        )
        licences = {lic.identifier: (lic, org.name) for lic, org in rows.all()}
    item = default_service_catalog().get(case.service_code)
    agency_name = agency.name if agency else case.agency_code
    today = datetime.now(UTC)
    cover = CaseCover(
        agency_name=agency_name,
        service_name=item.name,
        service_code=item.code,
        case_id=case.id,
        created_on=cn_date(case.created_at.astimezone(CHINA)),
        lines=tuple(
            CoverLine(
                material=reg.catalog.get(m.license_type).name,
                party=PARTIES.get(m.party, m.party),
                requirement=REQUIREMENT_TEXT.get(m.requirement, m.requirement),
                state=_state_text(m.state, m.due_date.isoformat() if m.due_date else None),
                identifier=m.identifier if m.state in DELIVERED else None,
                note=VERDICT_TEXT.get(m.verdict or "", "") if m.verdict else "",
            )
            for m in materials
        ),
        offline_materials=tuple(o.name for o in item.offline_materials),
        exempted=sum(1 for m in materials if m.state in DELIVERED),
        missing=sum(1 for m in materials if m.state == "missing" and m.requirement == "required"),
    )
    copies = []
    for m in materials:
        if m.state not in DELIVERED or m.identifier not in licences or m.credential_jcs is None:
            continue
        licence, issuer_name = licences[m.identifier]
        delivered = json.loads(m.credential_jcs)
        doc = printable(
            reg.catalog.get(licence.license_type), licence, issuer_name, delivered["credentialSubject"]["fields"]
        )
        if m.fields is not None:
            # Field-limited: the copy's QR carries the excerpt, never the full licence the holder withheld.
            doc = dataclasses.replace(doc, qr_payload=encode_payload(delivered), compact_qr=False)
        copies.append(
            AnnotatedCopy(
                licence=doc,
                annotation=f"仅供{agency_name}办理{item.name}使用",
                copy_date=cn_date(today.astimezone(CHINA)),
                copy_expires=cn_date((today + timedelta(days=COPY_VALID_DAYS)).astimezone(CHINA)),
            )
        )
    pdf = await anyio.to_thread.run_sync(render_annotated_copies, cover, copies)
    return pdf, f"{case.id}-materials.pdf"
