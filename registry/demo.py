"""``registry demo``: departments for every licence type, an agency, and one licence of every type.

Safe to run again: organisations that exist get a fresh client secret (only hashes are stored, so the old
one cannot be shown), licences are issued under fixed idempotency keys and so are not issued twice.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from registry.auth.tokens import ORG_SCOPES, Principal
from registry.context import Registry
from registry.licenses import service
from registry.licenses.schemas import HolderIn, LicenseCreate
from registry.models import Holder, Organisation, StaffUser
from registry.orgs.service import create_organisation, reset_client_secret
from verification.identifiers import uscc_check

_AGENCY_BASE = "11440304MB2C59870"  # 机关, 深圳市福田区
DEMO_AGENCY = {"code": _AGENCY_BASE + uscc_check(_AGENCY_BASE), "name": "深圳市福田区政务服务数据管理局"}


async def _ensure_org(reg: Registry, code: str, name: str, role: str, types: list[str]) -> dict[str, Any]:
    async with reg.db.read() as session:
        existing = (await session.exec(select(Organisation).where(Organisation.code == code))).first()
    if existing is None:
        created = await create_organisation(reg, code=code, name=name, role=role, license_types=types)
        secret = created.client_secret
    else:
        secret = await reset_client_secret(reg, code)
    return {
        "code": code,
        "name": name,
        "role": role,
        "license_types": types,
        "client_id": code,
        "client_secret": secret,
    }


async def seed_demo(reg: Registry) -> dict[str, Any]:
    departments: dict[str, tuple[str, list[str]]] = {}
    for lt in reg.catalog.all():
        _, types = departments.setdefault(lt.example_issuer.code, (lt.example_issuer.name, []))
        types.append(lt.type)
    orgs = [await _ensure_org(reg, code, name, "issuer", types) for code, (name, types) in departments.items()]
    orgs.append(await _ensure_org(reg, DEMO_AGENCY["code"], DEMO_AGENCY["name"], "agency", []))

    licences = []
    for lt in reg.catalog.all():
        issuer = lt.example_issuer.code
        principal = Principal(kind="org", subject=issuer, role="issuer", scopes=frozenset(ORG_SCOPES["issuer"]))
        holder = lt.example_holder
        body = LicenseCreate(
            type=lt.type,
            holder=HolderIn(id_type=holder.id_type, id_number=holder.id_number, name=holder.name),
            fields=lt.example_fields(),
        )
        issued = await service.issue(reg, principal, body, f"demo-{lt.type}")
        licences.append(
            {
                "type": lt.type,
                "type_name": lt.name,
                "identifier": issued.license.identifier,
                "holder_name": holder.name,
                "holder_id_number": holder.id_number,
                "issuer_code": issuer,
                "compact_qr": issued.license.compact_jcs is not None,
            }
        )
    holders = await _ensure_holders(reg)
    staff = await _ensure_staff(reg, departments)
    return {
        "base_url": reg.settings.base_url,
        "organisations": orgs,
        "licenses": licences,
        "holders": holders,
        "staff": staff,
    }


DEMO_PASSWORD = "Demo-2026!"  # noqa: S105 (printed by `registry demo`; demo data only)


async def _ensure_holders(reg: Registry) -> list[dict[str, str]]:
    """Every example holder gets a login, so the citizen app can be tried at once."""
    from registry.holders.service import create_holder

    seen: dict[str, dict[str, str]] = {}
    for lt in reg.catalog.all():
        h = lt.example_holder
        if h.id_number in seen:
            continue
        async with reg.db.read() as session:
            exists = await session.get(Holder, h.id_number) is not None
        if not exists:
            await create_holder(reg, id_number=h.id_number, name=h.name, password=DEMO_PASSWORD)
        seen[h.id_number] = {"id_number": h.id_number, "name": h.name, "password": DEMO_PASSWORD}
    return list(seen.values())


async def _ensure_staff(reg: Registry, departments: dict[str, tuple[str, list[str]]]) -> list[dict[str, str]]:
    """A window clerk for the agency and an officer per department, so /window and /console open at once."""
    from registry.staff.service import create_user

    wanted = [("window1", DEMO_AGENCY["code"], DEMO_AGENCY["name"], "窗口一号 张敏")]
    for code, (name, types) in departments.items():
        wanted.append((f"officer-{types[0].replace('_', '-')}", code, name, "签发员"))
    out = []
    for username, code, org_name, display in wanted:
        async with reg.db.read() as session:
            exists = await session.get(StaffUser, username) is not None
        if not exists:
            await create_user(reg, org_code=code, username=username, password=DEMO_PASSWORD, display_name=display)
        out.append({"username": username, "password": DEMO_PASSWORD, "org_code": code, "org_name": org_name})
    return out
