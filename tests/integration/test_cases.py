"""The paperless case: pulled / missing → committed → fulfilled, overdue commitments, and field-limited
sharing that releases nothing the holder left out."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, update

from registry.context import Registry
from registry.licenses.credentials import credential_digest
from registry.models import CaseMaterial
from tests.conftest import Org
from tests.integration.test_bad_input import assert_problem
from tests.integration.test_sharing import RENEW_DRIVING, code_of, give, open_case, states
from verification.payload import decode_payload

pytestmark = pytest.mark.integration


async def test_missing_committed_fulfilled(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("孙丽", male=False)
    agency = await make_org("agency", name="深圳市公安局交通警察支队车管所")
    await give(client, registry, issuer, holder, "resident_id_card")
    grant = {
        "agency_code": agency.code,
        "license_types": ["resident_id_card", "driving_license"],
        "purpose": "驾驶证期满换证",
        "valid_until": "2030-12-31",
    }
    consent = (await client.post("/api/v1/me/consents", json=grant, headers=holder.auth)).json()
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, consent_id=consent["id"])).json()
    assert states(case) == [("resident_id_card", "applicant", "pulled"), ("driving_license", "applicant", "missing")]
    assert (case["exempted"], case["missing"]) == (1, 1)
    url = f"/api/v1/cases/{case['case_id']}"

    due = (date.today() + timedelta(days=20)).isoformat()
    resp = await client.post(
        f"{url}/commitments", json={"license_type": "driving_license", "due_date": due}, headers=agency.auth
    )
    assert resp.status_code == 200, resp.text
    case = resp.json()
    assert case["materials"][1]["state"] == "committed"
    assert case["materials"][1]["due_date"] == due
    assert case["missing"] == 0  # a commitment lets the case go on
    listed = (await client.get("/api/v1/commitments", headers=agency.auth)).json()
    assert [(c["case_id"], c["license_type"], c["overdue"]) for c in listed] == [
        (case["case_id"], "driving_license", False)
    ]
    assert (await client.get("/api/v1/commitments?overdue=true", headers=agency.auth)).json() == []

    # Nothing to commit to twice; dates out of range; another agency's case.
    assert_problem(
        await client.post(f"{url}/commitments", json={"license_type": "driving_license"}, headers=agency.auth),
        409,
        "invalid_transition",
    )
    for bad_due in ("2001-01-01", "2026-02-30", "tomorrow"):
        resp = await client.post(
            f"{url}/commitments", json={"license_type": "resident_id_card", "due_date": bad_due}, headers=agency.auth
        )
        assert resp.status_code in (409, 422), resp.text
    other = await make_org("agency")
    assert_problem(
        await client.post(f"{url}/commitments", json={"license_type": "driving_license"}, headers=other.auth),
        404,
        "not_found",
    )

    # Overdue commitments are listed for the agency.
    async with registry.db.transaction() as session:
        await session.exec(
            update(CaseMaterial)
            .where(col(CaseMaterial.case_id) == case["case_id"], col(CaseMaterial.state) == "committed")
            .values(due_date=date.today() - timedelta(days=1))
        )
    overdue = (await client.get("/api/v1/commitments?overdue=true", headers=agency.auth)).json()
    assert [c["case_id"] for c in overdue] == [case["case_id"]]
    assert overdue[0]["overdue"] is True

    # The licence is issued later; under the standing consent the window pulls again: fulfilled.
    licence = await give(client, registry, issuer, holder, "driving_license")
    resp = await client.post(f"{url}/refresh", headers=agency.auth)
    assert resp.status_code == 200, resp.text
    case = resp.json()
    assert case["materials"][1]["state"] == "fulfilled"
    assert case["materials"][1]["identifier"] == licence
    assert (case["exempted"], case["missing"]) == (2, 0)
    assert (await client.get("/api/v1/commitments", headers=agency.auth)).json() == []


async def test_fulfilled_by_a_later_code(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("钱进")
    agency = await make_org("agency")
    await give(client, registry, issuer, holder, "resident_id_card")
    case = (
        await open_case(
            client,
            agency,
            service_code=RENEW_DRIVING,
            share_code=await code_of(client, holder, service_code=RENEW_DRIVING),
        )
    ).json()
    url = f"/api/v1/cases/{case['case_id']}"
    await client.post(f"{url}/commitments", json={"license_type": "driving_license"}, headers=agency.auth)
    assert_problem(await client.post(f"{url}/refresh", headers=agency.auth), 409, "invalid_transition")
    await give(client, registry, issuer, holder, "driving_license")
    code = await code_of(client, holder, license_types=["driving_license"])
    case = (await client.post(f"{url}/share-codes", json={"share_code": code}, headers=agency.auth)).json()
    assert [m["state"] for m in case["materials"]] == ["pulled", "fulfilled"]


async def test_field_limits_hold(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("郑晓明")
    agency = await make_org("agency")
    ident = await give(client, registry, issuer, holder, "resident_id_card")
    full = (await client.get(f"/api/v1/licenses/{ident}", headers=holder.auth)).json()["credential"]
    released = ["name", "citizen_id"]
    code = await code_of(client, holder, license_types=["resident_id_card"], fields={"resident_id_card": released})
    resp = await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)
    assert resp.status_code == 201, resp.text
    material = resp.json()["materials"][0]
    assert material["state"] == "pulled"
    assert material["fields"] == sorted(released)
    excerpt = material["credential"]
    assert set(excerpt["credentialSubject"]["fields"]) == set(released)
    assert "ElectronicLicenseExcerpt" in excerpt["type"]
    assert excerpt["credentialSubject"]["sourceCredential"] == full["id"]
    assert excerpt["credentialSubject"]["sourceCredentialDigest"] == credential_digest(full)
    assert excerpt["credentialStatus"] == full["credentialStatus"]

    withheld = [str(v) for k, v in full["credentialSubject"]["fields"].items() if k not in released]
    bodies = [resp.text, (await client.get(f"/api/v1/cases/{resp.json()['case_id']}", headers=agency.auth)).text]
    for body in bodies:
        text = json.loads(body)
        flat = json.dumps(text, ensure_ascii=False)
        for value in withheld:
            assert value not in flat, f"withheld value {value!r} reached the window"

    # The excerpt verifies on its own.
    verdict = (await client.post("/api/v1/verifications", json={"credential": excerpt})).json()
    assert verdict["verdict"] == "valid", verdict["checks"]
    # And it is revoked with the licence.
    assert (
        await client.post(f"/api/v1/licenses/{ident}/revoke", json={"reason": "测试"}, headers=issuer.auth)
    ).status_code == 200
    registry.caches._last_poll = 0
    verdict = (await client.post("/api/v1/verifications", json={"credential": excerpt})).json()
    assert verdict["verdict"] == "revoked"


async def test_preview_is_what_the_window_receives(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("冯雪", male=False)
    agency = await make_org("agency", name="深圳市福田区政务服务中心")
    ident = await give(client, registry, issuer, holder, "resident_id_card")
    body = {
        "license_types": ["resident_id_card"],
        "fields": {"resident_id_card": ["name", "birth_date"]},
        "audience": agency.code,
        "purpose": "驾驶证期满换证",
    }
    resp = await client.post("/api/v1/me/share-codes/preview", json=body, headers=holder.auth)
    assert resp.status_code == 200, resp.text
    preview = resp.json()
    assert preview["audience"] == {"code": agency.code, "name": "深圳市福田区政务服务中心"}
    [item] = preview["licenses"]
    assert item["identifier"] == ident
    assert item["limited"] is True
    shown = {f["name"]: f["value"] for f in item["fields"]}
    assert set(shown) == {"name", "birth_date"}
    # Nothing was created by previewing: the code is made only on confirmation.
    assert (await client.get("/api/v1/me/share-codes", headers=holder.auth)).json() == []
    code = (await client.post("/api/v1/me/share-codes", json=body, headers=holder.auth)).json()["code"]
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).json()
    assert case["materials"][0]["credential"]["credentialSubject"]["fields"] == shown
    # Consents preview the same way.
    grant = {
        "agency_code": agency.code,
        "license_types": ["resident_id_card"],
        "purpose": "公积金贷款",
        "valid_until": "2030-01-01",
    }
    preview = (await client.post("/api/v1/me/consents/preview", json=grant, headers=holder.auth)).json()
    assert preview["licenses"][0]["limited"] is False
    assert (await client.get("/api/v1/me/consents", headers=holder.auth)).json() == []


async def test_statistics_move_by_the_spared_papers(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("褚英")
    agency = await make_org("agency", name="统计测试窗口")
    await give(client, registry, issuer, holder, "resident_id_card")
    await give(client, registry, issuer, holder, "driving_license")

    async def stats() -> dict[str, Any]:
        resp = await client.get("/api/v1/stats", headers=agency.auth)
        assert resp.status_code == 200, resp.text
        out: dict[str, Any] = resp.json()
        return out

    def row(data: dict[str, Any], key: str, value: str) -> dict[str, Any]:
        return next(
            (r for r in data[key] if r[value.split("=")[0]] == value.split("=")[1]),
            {"cases": 0, "spared": 0, "materials": 0},
        )

    before = await stats()
    case = (
        await open_case(
            client,
            agency,
            service_code=RENEW_DRIVING,
            share_code=await code_of(client, holder, service_code=RENEW_DRIVING),
        )
    ).json()
    assert case["exempted"] == 2
    lic = (await client.get("/api/v1/me/licenses", headers=holder.auth)).json()[0]
    for _ in range(3):
        await client.post("/api/v1/verifications", json={"payload": lic["qr_payload"]})
    after = await stats()
    assert after["totals"]["spared"] - before["totals"]["spared"] == 2
    assert after["totals"]["cases"] - before["totals"]["cases"] == 1
    assert after["totals"]["verified"] - before["totals"]["verified"] == 3
    mine = row(after, "by_agency", f"agency_code={agency.code}")
    assert (mine["cases"], mine["spared"], mine["materials"], mine["free_of_paper_rate"]) == (1, 2, 2, 1.0)
    service_before = row(before, "by_service", f"service_code={RENEW_DRIVING}")
    service_after = row(after, "by_service", f"service_code={RENEW_DRIVING}")
    assert service_after["spared"] - service_before["spared"] == 2
    monthly = (await client.get("/api/v1/stats?period=month", headers=agency.auth)).json()
    assert all(len(s["period"]) == 7 for s in monthly["series"])
    assert_problem(await client.get("/api/v1/stats?period=week", headers=agency.auth), 422, "validation_failed")
    assert_problem(await client.get("/api/v1/stats?start=yesterday", headers=agency.auth), 422, "validation_failed")
    assert_problem(await client.get("/api/v1/stats", headers=holder.auth), 403, "forbidden")
    assert_problem(await client.get("/api/v1/stats"), 401, "not_authenticated")


def _pages(pdf: bytes) -> list[str]:
    import io

    from pypdf import PdfReader

    return ["".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def _qr_codes(pdf: bytes) -> list[str]:
    import io

    import pypdfium2

    from registry.rendering.qr import decode_qr_image

    found: list[str] = []
    for page in pypdfium2.PdfDocument(pdf):
        buf = io.BytesIO()
        page.render(scale=4).to_pil().save(buf, format="PNG")
        found += decode_qr_image(buf.getvalue())
    return found


async def test_annotated_copies(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("蒋华")
    agency = await make_org("agency", name="深圳市公安局交通警察支队车管所")
    ident = await give(client, registry, issuer, holder, "resident_id_card")
    full = (await client.get(f"/api/v1/licenses/{ident}", headers=holder.auth)).json()
    code = await code_of(client, holder, license_types=["resident_id_card"])
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).json()
    url = f"/api/v1/cases/{case['case_id']}"
    await client.post(f"{url}/commitments", json={"license_type": "driving_license"}, headers=agency.auth)
    resp = await client.get(f"{url}/materials.pdf", headers=agency.auth)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    pages = _pages(resp.content)
    text = "".join(pages)
    assert "仅供深圳市公安局交通警察支队车管所办理机动车驾驶证期满换证使用" in text
    assert "深圳市公安局交通警察支队车管所" in pages[0]
    assert "已承诺" in pages[0]
    assert ident in text
    assert holder.name in text
    # The copy's QR verifies.
    codes = _qr_codes(resp.content)
    assert full["qr_payload"] in codes
    verdict = (await client.post("/api/v1/verifications", json={"payload": full["qr_payload"]})).json()
    assert verdict["verdict"] == "valid"
    # Only the agency that opened the case.
    other = await make_org("agency")
    assert_problem(await client.get(f"{url}/materials.pdf", headers=other.auth), 404, "not_found")
    assert_problem(await client.get(f"{url}/materials.pdf", headers=holder.auth), 403, "forbidden")


async def test_field_limited_copy_prints_only_the_released_fields(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    holder = await make_holder("沈悦", male=False)
    agency = await make_org("agency")
    ident = await give(client, registry, issuer, holder, "resident_id_card")
    full = (await client.get(f"/api/v1/licenses/{ident}", headers=holder.auth)).json()["credential"]
    code = await code_of(
        client, holder, license_types=["resident_id_card"], fields={"resident_id_card": ["name", "citizen_id"]}
    )
    case = (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).json()
    pdf = (await client.get(f"/api/v1/cases/{case['case_id']}/materials.pdf", headers=agency.auth)).content
    text = "".join(_pages(pdf))
    for name, value in full["credentialSubject"]["fields"].items():
        if name not in ("name", "citizen_id") and len(str(value)) >= 4:
            assert "".join(str(value).split()) not in text, name
    [qr] = [c for c in _qr_codes(pdf) if c.startswith("LC1:")]
    verdict = (await client.post("/api/v1/verifications", json={"payload": qr})).json()
    assert verdict["verdict"] == "valid"
    assert "ElectronicLicenseExcerpt" in decode_payload(qr)["type"]
