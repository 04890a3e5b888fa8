"""Issuing through the API, for every template: the credential verifies, the QR and the PDF read back."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from typing import Any

import httpx
import pypdfium2
import pytest
from pypdf import PdfReader

from registry.context import Registry
from registry.licenses.credentials import credential_digest
from registry.rendering.qr import decode_qr_image
from signing.data_integrity import verify_proof
from signing.errors import ProofError
from signing.multikey import multikey_to_public_key
from tests.conftest import Org
from verification.identifiers import LicenseIdentifier
from verification.payload import MAX_PAYLOAD_CHARS, decode_payload

pytestmark = pytest.mark.integration

ALL_TYPES = [
    "resident_id_card",
    "business_license",
    "driving_license",
    "real_estate_certificate",
    "food_business_license",
    "birth_certificate",
    "marriage_certificate",
    "social_security_card",
    "residence_permit",
]


def example_body(registry: Registry, license_type: str) -> dict[str, Any]:
    lt = registry.catalog.get(license_type)
    h = lt.example_holder
    return {
        "type": lt.type,
        "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
        "fields": lt.example_fields(),
    }


async def issue(client: httpx.AsyncClient, org: Org, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**org.auth, "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post("/api/v1/licenses", json=body, headers=headers)


async def public_key_of(client: httpx.AsyncClient, verification_method: str) -> bytes:
    did = verification_method.split("#")[0]
    code = did.rsplit(":", 1)[1]
    resp = await client.get(f"/departments/{code}/did.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["id"] == did
    vm = next(m for m in doc["verificationMethod"] if m["id"] == verification_method)
    assert vm["type"] == "Multikey"
    assert verification_method in doc["assertionMethod"]
    return multikey_to_public_key(vm["publicKeyMultibase"])


def pdf_page_qr(pdf: bytes) -> list[str]:
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=4).to_pil()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return decode_qr_image(buf.getvalue())


def test_every_shipped_type_is_covered(registry: Registry) -> None:
    assert sorted(lt.type for lt in registry.catalog.all()) == sorted(ALL_TYPES)


@pytest.mark.parametrize("license_type", ALL_TYPES)
async def test_issue_verify_render(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, license_type: str
) -> None:
    body = example_body(registry, license_type)
    resp = await issue(client, issuer, body)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    ident = LicenseIdentifier.parse(out["identifier"])
    assert ident.issuer_code == issuer.code and ident.version == 1
    assert out["status"] == "active" and out["status_code"] == "01"
    assert resp.headers["location"].endswith(out["identifier"])

    credential = out["credential"]
    assert credential["id"] == f"http://testserver.local/licenses/{out['identifier']}"
    assert credential["issuer"]["id"] == f"did:web:testserver.local:departments:{issuer.code}"
    assert credential["credentialSubject"]["holder"]["idNumber"] == body["holder"]["id_number"]
    assert credential["credentialSubject"]["fields"] == registry.catalog.get(license_type).example_fields()
    purposes = sorted(e["statusPurpose"] for e in credential["credentialStatus"])
    assert purposes == ["revocation", "suspension"]
    key = await public_key_of(client, credential["proof"]["verificationMethod"])
    verify_proof(credential, key)
    tampered = json.loads(json.dumps(credential))
    tampered["credentialSubject"]["holder"]["name"] += "甲"
    with pytest.raises(ProofError):
        verify_proof(tampered, key)

    # The QR payload carries the whole credential, or (too long) the compact one bound to it by digest.
    payload = out["qr_payload"]
    assert payload.startswith("LC1:") and len(payload) <= MAX_PAYLOAD_CHARS
    carried = decode_payload(payload)
    if out["compact_qr"]:
        assert "ElectronicLicenseCompact" in carried["type"]
        assert carried["credentialSubject"]["fullCredentialDigest"] == credential_digest(credential)
        assert carried["id"] == credential["id"] and carried["credentialStatus"] == credential["credentialStatus"]
        verify_proof(carried, key)
    else:
        assert carried == credential

    # The stored credential is served byte for byte as signed.
    raw = await client.get(f"/api/v1/licenses/{out['identifier']}/credential", headers=issuer.auth)
    assert raw.status_code == 200 and json.loads(raw.content) == credential

    png = await client.get(f"/api/v1/licenses/{out['identifier']}/qr.png", headers=issuer.auth)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert decode_qr_image(png.content) == [payload]
    svg = await client.get(f"/api/v1/licenses/{out['identifier']}/qr.svg", headers=issuer.auth)
    assert svg.status_code == 200 and svg.content.lstrip().startswith((b"<?xml", b"<svg"))

    pdf = await client.get(f"/api/v1/licenses/{out['identifier']}/pdf", headers=issuer.auth)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert body["holder"]["name"] in text
    assert "".join(registry.catalog.get(license_type).print.title.split()) in "".join(text.split())
    assert pdf_page_qr(pdf.content) == [payload]
    # Second fetch comes from the cache and is the same document.
    again = await client.get(f"/api/v1/licenses/{out['identifier']}/pdf", headers=issuer.auth)
    assert again.content == pdf.content


async def test_business_license_uses_compact_qr(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    resp = await issue(client, issuer, example_body(registry, "business_license"))
    assert resp.status_code == 201
    assert resp.json()["compact_qr"] is True
    assert resp.json()["compact_credential"] is not None


async def test_get_license(client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any) -> None:
    made = (await issue(client, issuer, example_body(registry, "resident_id_card"))).json()
    ident = made["identifier"]
    got = await client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth)
    assert got.status_code == 200 and got.json()["credential"] == made["credential"]

    other = await make_org("issuer", name="深圳市另一部门")
    for suffix in ("", "/credential", "/qr.png", "/pdf"):
        resp = await client.get(f"/api/v1/licenses/{ident}{suffix}", headers=other.auth)
        assert resp.status_code == 404, suffix
        assert resp.json()["code"] == "license_not_found"
    agency = await make_org("agency", name="深圳市福田区政务服务中心")
    resp = await client.get(f"/api/v1/licenses/{ident}", headers=agency.auth)
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
    resp = await client.get(f"/api/v1/licenses/{ident}")
    assert resp.status_code == 401

    # A malformed identifier is a 422; a well-formed one we do not hold is a 404.
    wrong_check = ident[:-1] + ("0" if ident[-1] != "0" else "1")
    resp = await client.get(f"/api/v1/licenses/{wrong_check}", headers=issuer.auth)
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_identifier"
    missing = str(LicenseIdentifier(LicenseIdentifier.parse(ident).type_code, issuer.code, "99999999", 1))
    resp = await client.get(f"/api/v1/licenses/{missing}", headers=issuer.auth)
    assert resp.status_code == 404


async def test_dates_and_validity(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    body = example_body(registry, "resident_id_card") | {
        "valid_from": "2020-03-07",
        "valid_until": "2040-03-07",
    }
    out = (await issue(client, issuer, body)).json()
    assert out["credential"]["validFrom"] == "2020-03-07T00:00:00Z"
    assert out["credential"]["validUntil"] == "2040-03-07T00:00:00Z"
    # Without dates: from today, for the template's default validity.
    out = (await issue(client, issuer, example_body(registry, "food_business_license"))).json()
    years = registry.catalog.get("food_business_license").default_validity_years
    assert years is not None
    assert int(out["credential"]["validUntil"][:4]) - int(out["credential"]["validFrom"][:4]) == years
    # No expiry for a marriage certificate.
    out = (await issue(client, issuer, example_body(registry, "marriage_certificate"))).json()
    assert "validUntil" not in out["credential"]
    bad = example_body(registry, "resident_id_card") | {
        "valid_from": "2030-01-01",
        "valid_until": "2020-01-01",
    }
    resp = await issue(client, issuer, bad)
    assert resp.status_code == 422 and resp.json()["code"] == "validation_failed"
    bad = example_body(registry, "resident_id_card") | {"valid_from": "07/03/2020"}
    resp = await issue(client, issuer, bad)
    assert resp.status_code == 422


async def test_license_types_endpoint(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/license-types")
    assert resp.status_code == 200
    types = resp.json()
    assert {t["type"] for t in types} == set(ALL_TYPES)
    for t in types:
        assert t["name"] and t["name_en"] and t["holder_id_type"] in ("resident_id", "uscc")
        for f in t["fields"]:
            assert {"name", "label", "label_en", "type", "required", "example"} <= f.keys()
            assert f["example"] not in ("", None)
    one = await client.get("/api/v1/license-types/business_license")
    assert one.status_code == 200 and one.json()["name"] == "营业执照"
    missing = await client.get("/api/v1/license-types/no_such_type")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_did_document(client: httpx.AsyncClient, issuer: Org, make_org: Any) -> None:
    resp = await client.get(f"/departments/{issuer.code}/did.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["id"] == f"did:web:testserver.local:departments:{issuer.code}"
    assert doc["verificationMethod"][0]["id"] == doc["id"] + "#key-1"
    assert doc["verificationMethod"][0]["publicKeyMultibase"].startswith("z6Mk")
    agency = await make_org("agency")
    assert (await client.get(f"/departments/{agency.code}/did.json")).status_code == 404
    assert (await client.get("/departments/nonsense/did.json")).status_code == 404


async def test_health_and_openapi(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status_code == 200 and resp.json()["status"] == "ok"
    spec = await client.get("/schema/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/licenses" in spec.json()["paths"]


async def test_concurrent_first_prints_render_once(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight windows ask for a new licence's PDF at the same moment: one rendering (in the process pool),
    eight identical answers, one cached copy; the next asks are served from the cache."""
    out = (await issue(client, issuer, example_body(registry, "driving_license"))).json()
    url = f"/api/v1/licenses/{out['identifier']}/pdf"
    renders = 0
    real_run = registry.render_pool.run

    async def counting_run(fn: Any, *args: object) -> Any:
        nonlocal renders
        renders += 1
        return await real_run(fn, *args)

    monkeypatch.setattr(registry.render_pool, "run", counting_run)
    answers = await asyncio.gather(*(client.get(url, headers=issuer.auth) for _ in range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.content for a in answers}) == 1
    assert renders == 1
    again = await client.get(url, headers=issuer.auth)
    assert again.content == answers[0].content and renders == 1
