"""Holder-authorised sharing and the window pull: login, 亮码, consents, agents, cases, the access log —
with a role × owner matrix, races on single-use codes, and bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, update

from registry.auth.tokens import mint_holder_token
from registry.context import Registry
from registry.models import AgentGrant, Consent, ShareCode
from registry.sharing.service import code_hash
from tests.conftest import HolderAccount, Org
from tests.integration.test_bad_input import assert_problem

pytestmark = pytest.mark.integration

NEWBORN = "440300-GA-XSRH-001"
RENEW_DRIVING = "440300-GAJJ-JSZHZ-001"


def body_for(registry: Registry, license_type: str, holder: HolderAccount) -> dict[str, Any]:
    """The template's realistic example, re-addressed to this holder."""
    lt = registry.catalog.get(license_type)
    ex = lt.example_holder
    fields = {
        k: (holder.id_number if v == ex.id_number else holder.name if v == ex.name else v)
        for k, v in lt.example_fields().items()
    }
    return {
        "type": license_type,
        "holder": {"id_type": "resident_id", "id_number": holder.id_number, "name": holder.name},
        "fields": fields,
    }


async def give(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, holder: HolderAccount, license_type: str
) -> str:
    import uuid

    resp = await client.post(
        "/api/v1/licenses",
        json=body_for(registry, license_type, holder),
        headers={**issuer.auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["identifier"])


async def share(client: httpx.AsyncClient, holder: HolderAccount, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/me/share-codes", json=body, headers=holder.auth)


async def code_of(client: httpx.AsyncClient, holder: HolderAccount, **body: Any) -> str:
    resp = await share(client, holder, **body)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["code"])


async def open_case(client: httpx.AsyncClient, agency: Org, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/cases", json=body, headers=agency.auth)


def states(case: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(m["license_type"], m["party"], m["state"]) for m in case["materials"]]


# --- login --------------------------------------------------------------------------------------------------


async def test_holder_login_and_throttling(client: httpx.AsyncClient, make_holder: Any) -> None:
    holder = await make_holder("王芳", male=False)
    url = "/api/v1/auth/holder-token"
    ok = await client.post(url, json={"id_number": holder.id_number, "password": holder.password})
    assert ok.status_code == 200
    assert ok.json()["scope"] == "me"
    assert_problem(
        await client.post(url, json={"id_number": "44030419900101001X", "password": "whatever1"}),
        401,
        "not_authenticated",
    )
    assert_problem(await client.post(url, json={"id_number": holder.id_number}), 422, "validation_failed")
    for _ in range(5):
        resp = await client.post(url, json={"id_number": holder.id_number, "password": "wrong-password"})
        assert resp.status_code == 401
    locked = await client.post(url, json={"id_number": holder.id_number, "password": holder.password})
    assert_problem(locked, 429, "rate_limited")
    assert int(locked.headers["retry-after"]) >= 1


# --- the role × owner matrix ----------------------------------------------------------------------------------


async def test_role_and_owner_matrix(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    alice = await make_holder("李娜", male=False)
    bob = await make_holder("张伟")
    agency = await make_org("agency", name="深圳市福田区政务服务中心")
    ident = await give(client, registry, issuer, alice, "resident_id_card")

    # Holder endpoints: only holders; each sees only their own.
    mine = (await client.get("/api/v1/me/licenses", headers=alice.auth)).json()
    assert [lic["identifier"] for lic in mine] == [ident]
    assert (await client.get("/api/v1/me/licenses", headers=bob.auth)).json() == []
    for org in (agency, issuer):
        for path in ("/api/v1/me/licenses", "/api/v1/me/consents", "/api/v1/me/access-log", "/api/v1/me/agents"):
            assert_problem(await client.get(path, headers=org.auth), 403, "forbidden")
        assert_problem(await share(client, org, license_types=["resident_id_card"]), 403, "forbidden")
    assert_problem(await client.get("/api/v1/me/licenses"), 401, "not_authenticated")
    old, _ = mint_holder_token(registry, alice.id_number, now=datetime.now(UTC) - timedelta(hours=1))
    expired = {"Authorization": f"Bearer {old}"}
    assert_problem(await client.get("/api/v1/me/licenses", headers=expired), 401, "token_expired")

    # A holder reads their own licence (and its PDF); nobody else's.
    assert (await client.get(f"/api/v1/licenses/{ident}", headers=alice.auth)).status_code == 200
    assert (await client.get(f"/api/v1/licenses/{ident}/pdf", headers=alice.auth)).status_code == 200
    assert_problem(await client.get(f"/api/v1/licenses/{ident}", headers=bob.auth), 404, "license_not_found")
    # Holders cannot issue or act on licences.
    assert_problem(
        await client.post(f"/api/v1/licenses/{ident}/suspend", json={"reason": "x"}, headers=alice.auth),
        403,
        "forbidden",
    )

    # Window endpoints: only agencies; a case exists only for the agency that opened it.
    code = await code_of(client, alice, license_types=["resident_id_card"])
    for who in (alice, issuer):
        assert_problem(await open_case(client, who, service_code=RENEW_DRIVING, share_code=code), 403, "forbidden")
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).json()
    other_agency = await make_org("agency", name="深圳市南山区政务服务中心")
    assert (await client.get(f"/api/v1/cases/{case['case_id']}", headers=agency.auth)).status_code == 200
    assert_problem(await client.get(f"/api/v1/cases/{case['case_id']}", headers=other_agency.auth), 404, "not_found")
    assert_problem(await client.get(f"/api/v1/cases/{case['case_id']}", headers=alice.auth), 403, "forbidden")
    # Someone else's share code or consent cannot be withdrawn.
    row = (await share(client, alice, license_types=["resident_id_card"])).json()
    assert_problem(await client.delete(f"/api/v1/me/share-codes/{row['id']}", headers=bob.auth), 404, "not_found")


# --- codes and the pull ----------------------------------------------------------------------------------------


async def test_code_pull_and_access_log(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("张伟")
    other = await make_holder("刘洋")
    agency = await make_org("agency", name="深圳市公安局交通警察支队车管所")
    id_card = await give(client, registry, issuer, holder, "resident_id_card")
    licence = await give(client, registry, issuer, holder, "driving_license")
    resp = await share(client, holder, service_code=RENEW_DRIVING, purpose="驾驶证期满换证")
    assert resp.status_code == 201
    created = resp.json()
    code = created["code"]
    assert code.startswith("SC1:440300.")
    assert len(code.split(".", 1)[1]) >= 26  # ≥ 128 random bits
    assert created["qr_svg"].lstrip().startswith(("<?xml", "<svg"))
    assert created["max_uses"] == 1
    expires = datetime.fromisoformat(created["expires_at"].replace("Z", "+00:00"))
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    # Only the hash is stored.
    async with registry.db.read() as session:
        row = await session.get(ShareCode, created["id"])
    assert row is not None
    assert row.code_hash == code_hash(code)
    assert code not in str(row.model_dump())

    resp = await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)
    assert resp.status_code == 201, resp.text
    case = resp.json()
    assert states(case) == [("resident_id_card", "applicant", "pulled"), ("driving_license", "applicant", "pulled")]
    assert {m["identifier"] for m in case["materials"]} == {id_card, licence}
    assert all(m["verdict"] == "valid" for m in case["materials"])
    assert (case["exempted"], case["missing"]) == (2, 0)
    # Used once: the second window is refused.
    assert_problem(await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code), 409, "share_code_used")

    log = (await client.get("/api/v1/me/access-log", headers=holder.auth)).json()
    assert {e["identifier"] for e in log} == {id_card, licence}
    assert all(e["actor_code"] == agency.code and e["via"] == "code" and e["purpose"] == "驾驶证期满换证" for e in log)
    assert all(e["case_id"] == case["case_id"] and e["service_code"] == RENEW_DRIVING for e in log)
    assert (await client.get("/api/v1/me/access-log", headers=other.auth)).json() == []
    # The issuing department reading the licence is logged for the holder; the holder's own reads are not.
    assert (await client.get(f"/api/v1/licenses/{licence}", headers=issuer.auth)).status_code == 200
    assert (await client.get(f"/api/v1/licenses/{licence}", headers=holder.auth)).status_code == 200
    log = (await client.get("/api/v1/me/access-log", headers=holder.auth)).json()
    assert [(e["actor_kind"], e["identifier"]) for e in log[:1]] == [("issuer", licence)]
    assert len(log) == 3


async def test_missing_and_unsuitable_licences(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("陈静", male=False)
    agency = await make_org("agency")
    await give(client, registry, issuer, holder, "resident_id_card")
    expired = body_for(registry, "driving_license", holder) | {"valid_from": "2010-01-01", "valid_until": "2016-01-01"}
    import uuid

    resp = await client.post(
        "/api/v1/licenses", json=expired, headers={**issuer.auth, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert resp.status_code == 201
    code = await code_of(client, holder, license_types=["resident_id_card", "driving_license"])
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).json()
    assert states(case) == [("resident_id_card", "applicant", "pulled"), ("driving_license", "applicant", "missing")]
    assert case["materials"][1]["verdict"] == "expired"
    assert (case["exempted"], case["missing"]) == (1, 1)
    # A code that releases only the ID card leaves the rest missing, whatever else the holder has.
    code = await code_of(client, holder, license_types=["resident_id_card"])
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).json()
    assert [m["state"] for m in case["materials"]] == ["pulled", "missing"]


async def test_two_parties_join_one_case(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    mother = await make_holder("李娜", male=False)
    father = await make_holder("张伟")
    agency = await make_org("agency", name="深圳市公安局福田分局户政科")
    await give(client, registry, issuer, mother, "birth_certificate")
    await give(client, registry, issuer, mother, "resident_id_card")
    await give(client, registry, issuer, mother, "marriage_certificate")
    await give(client, registry, issuer, father, "resident_id_card")
    case = (
        await open_case(
            client, agency, service_code=NEWBORN, share_code=await code_of(client, mother, service_code=NEWBORN)
        )
    ).json()
    assert states(case) == [
        ("birth_certificate", "mother", "pulled"),
        ("resident_id_card", "mother", "pulled"),
        ("resident_id_card", "father", "missing"),
        ("marriage_certificate", "mother", "pulled"),
        ("marriage_certificate", "father", "missing"),
    ]
    assert case["missing"] == 1  # the father's ID card; the marriage group is satisfied
    father_code = await code_of(client, father, license_types=["resident_id_card"])
    resp = await client.post(
        f"/api/v1/cases/{case['case_id']}/share-codes",
        json={"share_code": father_code, "party": "father"},
        headers=agency.auth,
    )
    assert resp.status_code == 200, resp.text
    case = resp.json()
    assert [m["state"] for m in case["materials"]][:3] == ["pulled", "pulled", "pulled"]
    assert (case["exempted"], case["missing"]) == (4, 0)
    assert (await client.get(f"/api/v1/cases/{case['case_id']}", headers=agency.auth)).json() == case
    # A party the service does not have, another agency's case: refused.
    other_code = await code_of(client, father, license_types=["resident_id_card"])
    resp = await client.post(
        f"/api/v1/cases/{case['case_id']}/share-codes",
        json={"share_code": other_code, "party": "landlord"},
        headers=agency.auth,
    )
    assert_problem(resp, 422, "validation_failed")


async def test_parallel_redemptions_one_winner(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("周敏", male=False)
    agencies = [await make_org("agency", name=f"窗口{i}") for i in range(4)]
    await give(client, registry, issuer, holder, "resident_id_card")
    code = await code_of(client, holder, license_types=["resident_id_card"])
    responses = await asyncio.gather(
        *(open_case(client, agencies[i % 4], service_code=RENEW_DRIVING, share_code=code) for i in range(20))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert all(r.json()["code"] == "share_code_used" for r in responses if r.status_code == 409)
    log = (await client.get("/api/v1/me/access-log", headers=holder.auth)).json()
    assert len(log) == 1


async def test_audience_expiry_and_bad_codes(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("吴刚")
    agency, stranger = await make_org("agency", name="指定窗口"), await make_org("agency", name="其他窗口")
    await give(client, registry, issuer, holder, "resident_id_card")
    bound = await code_of(client, holder, license_types=["resident_id_card"], audience=agency.code)
    assert_problem(
        await open_case(client, stranger, service_code=RENEW_DRIVING, share_code=bound),
        403,
        "share_code_wrong_audience",
    )
    assert (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=bound)).status_code == 201

    stale = await code_of(client, holder, license_types=["resident_id_card"], ttl_seconds=60)
    async with registry.db.transaction() as session:
        await session.exec(
            update(ShareCode)
            .where(col(ShareCode.code_hash) == code_hash(stale))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_problem(
        await open_case(client, agency, service_code=RENEW_DRIVING, share_code=stale), 410, "share_code_expired"
    )
    withdrawn = (await share(client, holder, license_types=["resident_id_card"])).json()
    assert (await client.delete(f"/api/v1/me/share-codes/{withdrawn['id']}", headers=holder.auth)).status_code == 204
    assert_problem(
        await open_case(client, agency, service_code=RENEW_DRIVING, share_code=withdrawn["code"]),
        410,
        "share_code_expired",
    )

    for bad in ("hello", "SC1:440300.short", "SC1:ABCDEF.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "SC2:440300.x"):
        assert_problem(
            await open_case(client, agency, service_code=RENEW_DRIVING, share_code=bad), 422, "invalid_share_code"
        )
    unknown = "SC1:440300." + "A" * 32
    assert_problem(
        await open_case(client, agency, service_code=RENEW_DRIVING, share_code=unknown), 404, "share_code_not_found"
    )
    foreign = "SC1:310000." + "A" * 32  # a region this registry has not pinned (federation: #9)
    assert_problem(
        await open_case(client, agency, service_code=RENEW_DRIVING, share_code=foreign), 404, "peer_not_found"
    )
    assert_problem(await open_case(client, agency, service_code="NO-SUCH-ITEM", share_code=unknown), 404, "not_found")
    # Share requests the holder cannot make.
    assert_problem(await share(client, holder), 422, "validation_failed")
    assert_problem(
        await share(client, holder, license_types=["resident_id_card"], ttl_seconds=3600), 422, "validation_failed"
    )
    assert_problem(await share(client, holder, license_ids=["1.2.156.3005.2.x"]), 422, "invalid_identifier")
    assert_problem(
        await share(client, holder, license_types=["resident_id_card"], audience=issuer.code), 422, "validation_failed"
    )
    assert_problem(
        await share(client, holder, license_types=["resident_id_card"], fields={"resident_id_card": ["x"]}),
        422,
        "validation_failed",
    )


# --- consents -----------------------------------------------------------------------------------------------------


async def test_consent_grant_use_withdraw(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("黄磊")
    agency, other = await make_org("agency", name="深圳市住房公积金管理中心"), await make_org("agency", name="别处")
    await give(client, registry, issuer, holder, "resident_id_card")
    await give(client, registry, issuer, holder, "driving_license")
    grant = {
        "agency_code": agency.code,
        "license_types": ["resident_id_card", "driving_license"],
        "purpose": "异地办理驾驶证换证",
        "valid_until": "2030-12-31",
        "service_code": RENEW_DRIVING,
    }
    resp = await client.post("/api/v1/me/consents", json=grant, headers=holder.auth)
    assert resp.status_code == 201, resp.text
    consent = resp.json()
    assert consent["active"] is True
    assert consent["agency_name"] == "深圳市住房公积金管理中心"
    listed = (await client.get("/api/v1/me/consents", headers=holder.auth)).json()
    assert [c["id"] for c in listed] == [consent["id"]]

    case = (await open_case(client, agency, service_code=RENEW_DRIVING, consent_id=consent["id"])).json()
    assert [m["state"] for m in case["materials"]] == ["pulled", "pulled"]
    log = (await client.get("/api/v1/me/access-log", headers=holder.auth)).json()
    assert {e["via"] for e in log} == {"consent"}
    # Another agency, another service item: refused.
    assert_problem(
        await open_case(client, other, service_code=RENEW_DRIVING, consent_id=consent["id"]), 404, "not_found"
    )
    assert_problem(
        await open_case(client, agency, service_code=NEWBORN, consent_id=consent["id"]), 403, "consent_not_usable"
    )
    # Withdrawn: refused; expired: refused.
    assert (await client.delete(f"/api/v1/me/consents/{consent['id']}", headers=holder.auth)).status_code == 204
    assert_problem(
        await open_case(client, agency, service_code=RENEW_DRIVING, consent_id=consent["id"]), 403, "consent_not_usable"
    )
    again = (await client.post("/api/v1/me/consents", json=grant, headers=holder.auth)).json()
    async with registry.db.transaction() as session:
        await session.exec(
            update(Consent)
            .where(col(Consent.id) == again["id"])
            .values(valid_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_problem(
        await open_case(client, agency, service_code=RENEW_DRIVING, consent_id=again["id"]), 403, "consent_not_usable"
    )
    # Bad grants.
    for bad in (
        {**grant, "valid_until": "2020-01-01"},
        {**grant, "agency_code": issuer.code},
        {**grant, "license_types": []},
        {**grant, "license_types": ["no_such"]},
        {**grant, "valid_until": "x"},
    ):
        resp = await client.post("/api/v1/me/consents", json=bad, headers=holder.auth)
        assert resp.status_code == 422, (bad, resp.text)


# --- agents (代办) ---------------------------------------------------------------------------------------------------


async def test_agents_act_for_principals(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    parent = await make_holder("张建国")
    child = await make_holder("张伟")
    stranger = await make_holder("赵敏", male=False)
    agency = await make_org("agency")
    ident = await give(client, registry, issuer, parent, "resident_id_card")
    on = {"on_behalf_of": parent.id_number}

    # Without a grant the child can do nothing for the parent.
    assert_problem(await client.get("/api/v1/me/licenses", params=on, headers=child.auth), 403, "forbidden")
    resp = await client.post(
        "/api/v1/me/agents",
        json={"id_number": child.id_number, "scope": "share", "valid_until": "2030-01-01"},
        headers=parent.auth,
    )
    assert resp.status_code == 201, resp.text
    grant = resp.json()
    agents = (await client.get("/api/v1/me/agents", headers=child.auth)).json()
    assert [g["principal"] for g in agents["principals"]] == [parent.id_number]

    listed = (await client.get("/api/v1/me/licenses", params=on, headers=child.auth)).json()
    assert [lic["identifier"] for lic in listed] == [ident]
    code = await code_of(client, child, license_types=["resident_id_card"], **on)
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).json()
    assert case["materials"][0]["state"] == "pulled"
    log = (await client.get("/api/v1/me/access-log", headers=parent.auth)).json()
    pull = next(e for e in log if e["actor_kind"] == "agency")
    assert (pull["via"], pull["agent_id_number"], pull["identifier"]) == ("agent", child.id_number, ident)
    # The agent's own acts — listing, sharing — are in the principal's log too, as the agent's.
    acts = [e for e in log if e["actor_kind"] == "agent"]
    assert len(acts) == 2
    assert all(e["actor_code"] == child.id_number for e in acts)
    # "share" is not "all": no consents, no log for the agent.
    assert_problem(await client.get("/api/v1/me/access-log", params=on, headers=child.auth), 403, "forbidden")
    assert_problem(await client.get("/api/v1/me/licenses", params=on, headers=stranger.auth), 403, "forbidden")
    # Expired or revoked grants stop working.
    async with registry.db.transaction() as session:
        await session.exec(
            update(AgentGrant)
            .where(col(AgentGrant.id) == grant["id"])
            .values(valid_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_problem(await client.get("/api/v1/me/licenses", params=on, headers=child.auth), 403, "forbidden")
    full = (
        await client.post(
            "/api/v1/me/agents",
            json={"id_number": child.id_number, "scope": "all", "valid_until": "2030-01-01"},
            headers=parent.auth,
        )
    ).json()
    assert (await client.get("/api/v1/me/access-log", params=on, headers=child.auth)).status_code == 200
    assert (await client.delete(f"/api/v1/me/agents/{full['id']}", headers=parent.auth)).status_code == 204
    assert_problem(await client.get("/api/v1/me/licenses", params=on, headers=child.auth), 403, "forbidden")
    # Bad grants.
    for bad in (
        {"id_number": parent.id_number, "scope": "all", "valid_until": "2030-01-01"},
        {"id_number": child.id_number, "scope": "everything", "valid_until": "2030-01-01"},
        {"id_number": child.id_number, "scope": "all", "valid_until": "2001-01-01"},
    ):
        resp = await client.post("/api/v1/me/agents", json=bad, headers=parent.auth)
        assert resp.status_code == 422, (bad, resp.text)
    resp = await client.post(
        "/api/v1/me/agents",
        json={"id_number": "110101199003077777", "scope": "all", "valid_until": "2030-01-01"},
        headers=parent.auth,
    )
    assert resp.status_code == 404
