"""Verification through the API: a test for every verdict, photos of printed codes, the compact form, and
bad request shapes. Real signatures, real status lists, real images."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFilter

from registry.app import create_app
from registry.context import Registry
from registry.licenses.credentials import vc_time
from registry.orgs.service import keys_of, revoke_key, rotate_key, signer_for
from registry.rendering.qr import render_qr_png
from signing.data_integrity import add_proof
from signing.keys import Ed25519Signer
from tests.conftest import BASE_URL, Org
from tests.factories import corrupt_check
from tests.integration.test_bad_input import assert_problem
from tests.integration.test_issuance import ALL_TYPES, example_body, issue
from tests.integration.test_lifecycle import act
from verification.payload import encode_payload

pytestmark = pytest.mark.integration
VECTOR = Path(__file__).resolve().parents[1] / "vectors/eddsa-jcs-2022/signedJCS.json"
VERDICTS = {
    "valid",
    "revoked",
    "suspended",
    "expired",
    "not_yet_valid",
    "bad_signature",
    "unknown_issuer",
    "key_revoked",
    "malformed",
    "unsupported",
}


async def verify(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/verifications", json=body)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    assert out["verdict"] in VERDICTS
    assert out["valid"] is (out["verdict"] == "valid")
    assert {"name", "ok", "detail"} <= out["checks"][0].keys()
    assert out["checked_at"].endswith("Z")
    return out


async def issued(
    client: httpx.AsyncClient, registry: Registry, org: Org, license_type: str = "driving_license", **extra: Any
) -> dict[str, Any]:
    resp = await issue(client, org, example_body(registry, license_type) | extra)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def failed_check(result: dict[str, Any]) -> str:
    return next(c["name"] for c in result["checks"] if c["ok"] is False)


@pytest.mark.parametrize("license_type", ALL_TYPES)
async def test_valid_for_every_type(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, license_type: str
) -> None:
    lic = await issued(client, registry, issuer, license_type)
    by_payload = await verify(client, payload=lic["qr_payload"])
    assert by_payload["verdict"] == "valid", by_payload["checks"]
    summary = by_payload["license"]
    assert summary["identifier"] == lic["identifier"]
    assert summary["type"] == license_type
    assert summary["type_name"] == registry.catalog.get(license_type).name
    assert summary["holder_name"] == lic["holder"]["name"]
    assert summary["issuer_code"] == issuer.code
    assert summary["issuer_name"] == issuer.name
    assert summary["status"] == "active"
    assert by_payload["compact"] is lic["compact_qr"]
    if lic["compact_qr"]:
        full_check = next(c for c in by_payload["checks"] if c["name"] == "full_credential")
        assert full_check["ok"] is True
        assert "full_credential" not in by_payload
    by_credential = await verify(client, credential=lic["credential"])
    assert by_credential["verdict"] == "valid"
    # Scanners add a line ending; it does not matter.
    assert (await verify(client, payload=lic["qr_payload"] + "\r\n"))["verdict"] == "valid"


async def test_revoked_and_suspended(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    lic = await issued(client, registry, issuer)
    await act(client, issuer, lic["identifier"], "suspend")
    registry.caches._last_poll = 0  # the same worker: no need to wait for the poll interval
    result = await verify(client, payload=lic["qr_payload"])
    assert (result["verdict"], failed_check(result)) == ("suspended", "status")
    await act(client, issuer, lic["identifier"], "reinstate")
    registry.caches._last_poll = 0
    assert (await verify(client, payload=lic["qr_payload"]))["verdict"] == "valid"
    await act(client, issuer, lic["identifier"], "cancel")
    registry.caches._last_poll = 0
    assert (await verify(client, payload=lic["qr_payload"]))["verdict"] == "revoked"


async def test_superseded_version_is_revoked(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    lic = await issued(client, registry, issuer, "residence_permit")
    renewed = (await act(client, issuer, lic["identifier"], "renew")).json()
    registry.caches._last_poll = 0
    old = await verify(client, payload=lic["qr_payload"])
    assert old["verdict"] == "revoked"
    assert old["license"]["status"] == "superseded"
    assert (await verify(client, payload=renewed["qr_payload"]))["verdict"] == "valid"


async def test_expired_and_not_yet_valid(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    old = await issued(client, registry, issuer, valid_from="2010-01-01", valid_until="2016-01-01")
    result = await verify(client, payload=old["qr_payload"])
    assert (result["verdict"], failed_check(result)) == ("expired", "validity")
    assert old["status"] == "expired"
    assert old["status_code"] == "05"
    future = await issued(client, registry, issuer, valid_from="2099-01-01", valid_until="2105-01-01")
    result = await verify(client, payload=future["qr_payload"])
    assert (result["verdict"], failed_check(result)) == ("not_yet_valid", "validity")


async def test_bad_signature_and_unknown_issuer(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    lic = await issued(client, registry, issuer)
    tampered = copy.deepcopy(lic["credential"])
    tampered["credentialSubject"]["fields"][next(iter(tampered["credentialSubject"]["fields"]))] = "伪造"
    result = await verify(client, payload=encode_payload(tampered))
    assert (result["verdict"], failed_check(result)) == ("bad_signature", "signature")
    assert (await verify(client, credential=tampered))["verdict"] == "bad_signature"

    # A look-alike department the registry never registered, signing with its own key.
    forged = copy.deepcopy(lic["credential"])
    del forged["proof"]
    fake_did = f"did:web:testserver.local:departments:{corrupt_check(issuer.code)}"  # never the real one
    forged["issuer"]["id"] = fake_did
    signed = add_proof(forged, Ed25519Signer.generate(f"{fake_did}#key-1"), created=vc_time(datetime.now(UTC)))
    result = await verify(client, payload=encode_payload(signed))
    assert (result["verdict"], failed_check(result)) == ("unknown_issuer", "issuer")
    # The real department's key id, but signed with another key.
    forged["issuer"]["id"] = lic["credential"]["issuer"]["id"]
    vm = lic["credential"]["proof"]["verificationMethod"]
    signed = add_proof(forged, Ed25519Signer.generate(vm), created=vc_time(datetime.now(UTC)))
    assert (await verify(client, credential=signed))["verdict"] == "bad_signature"


async def test_key_revoked_judged_by_issuance_record(
    client: httpx.AsyncClient, registry: Registry, make_org: Any
) -> None:
    org = await make_org("issuer", types=["driving_license"], name="深圳市公安局交通警察支队")
    before = await issued(client, registry, org)
    await asyncio.sleep(1.1)  # issuance times are kept to the second
    compromise = datetime.now(UTC)
    await asyncio.sleep(1.1)
    after = await issued(client, registry, org)
    await revoke_key(registry, org.code, "key-1", compromise)
    registry.caches._last_poll = 0
    assert (await verify(client, payload=before["qr_payload"]))["verdict"] == "valid"
    result = await verify(client, payload=after["qr_payload"])
    assert (result["verdict"], failed_check(result)) == ("key_revoked", "key")
    # A thief with key-1 backdates `created` and borrows the id of a licence issued before the compromise:
    # the registry's record vouches only for the credential it signed, so this is key_revoked.
    async with registry.db.read() as session:
        stolen = signer_for(registry, (await keys_of(session, org.code))[0])
    forged = copy.deepcopy(before["credential"])
    del forged["proof"]
    forged["credentialSubject"]["holder"]["name"] = "王五"
    backdated = add_proof(forged, stolen, created=before["credential"]["proof"]["created"])
    result = await verify(client, payload=encode_payload(backdated))
    assert (result["verdict"], failed_check(result)) == ("key_revoked", "key")
    # Issuing continues with the replacement key.
    fresh = await issued(client, registry, org)
    assert fresh["credential"]["proof"]["verificationMethod"].endswith("#key-2")
    assert (await verify(client, payload=fresh["qr_payload"]))["verdict"] == "valid"


async def test_rotation_keeps_old_credentials_valid(
    client: httpx.AsyncClient, registry: Registry, make_org: Any
) -> None:
    org = await make_org("issuer", types=["social_security_card"], name="深圳市人力资源和社会保障局")
    old = await issued(client, registry, org, "social_security_card")
    await rotate_key(registry, org.code)
    registry.caches._last_poll = 0
    new = await issued(client, registry, org, "social_security_card")
    assert new["credential"]["proof"]["verificationMethod"].endswith("#key-2")
    assert (await verify(client, payload=old["qr_payload"]))["verdict"] == "valid"
    assert (await verify(client, payload=new["qr_payload"]))["verdict"] == "valid"
    did = (await client.get(f"/departments/{org.code}/did.json")).json()
    assert [m["id"].rsplit("#", 1)[1] for m in did["verificationMethod"]] == ["key-1", "key-2"]


HOSTILE = [
    "",
    "   ",
    "hello world",
    "LC1:",
    "lc1:ABC",
    "LC2:ABCDEF",
    "LC1:%%%%",
    "LC1:" + "A" * 5000,
    "https://example.com/licenses/1.2.156",
    '{"not": "a payload"}',
    "LC1:" + "0" * 999,
    "x" * 1_000_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
async def test_any_scan_gets_a_verdict(client: httpx.AsyncClient, text: str) -> None:
    result = await verify(client, payload=text)
    assert result["verdict"] == "malformed"
    assert failed_check(result) == "decode"
    assert result["license"] is None


async def test_unsupported_and_w3c_vector(client: httpx.AsyncClient) -> None:
    vector = json.loads(VECTOR.read_text())
    # Signed by a did:key this registry does not trust: a verdict, not an error.
    assert (await verify(client, credential=vector))["verdict"] == "unknown_issuer"
    other_suite = copy.deepcopy(vector)
    other_suite["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    assert (await verify(client, credential=other_suite))["verdict"] == "unsupported"
    assert (await verify(client, credential={"just": "json"}))["verdict"] in ("malformed", "unsupported")


async def test_request_shapes(client: httpx.AsyncClient) -> None:
    url = "/api/v1/verifications"
    assert_problem(await client.post(url, json={}), 422, "validation_failed")
    assert_problem(await client.post(url, json={"payload": "LC1:x", "credential": {}}), 422, "validation_failed")
    assert_problem(await client.post(url, json={"payload": 7}), 422, "validation_failed")
    assert_problem(await client.post(url, json={"credential": "LC1:x"}), 422, "validation_failed")
    assert_problem(await client.post(url, json=["LC1:x"]), 422, "validation_failed")
    resp = await client.post(url, content=b"{", headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "invalid_json")


def _photo(png: bytes, *, angle: float, blur: float, quality: int) -> bytes:
    """A phone photo of a printed page: the code on paper, some text, rotated, soft, JPEG-compressed."""
    code = Image.open(io.BytesIO(png)).convert("L")
    page = Image.new("L", (code.width + 400, code.height + 500), 235)
    ImageDraw.Draw(page).text((40, 30), "Licence — scan to verify", fill=60)
    page.paste(code, (200, 250))
    photo = page.rotate(angle, expand=True, fillcolor=120, resample=Image.Resampling.BICUBIC)
    photo = photo.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    photo.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


async def test_verify_by_image(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    lic = await issued(client, registry, issuer, "resident_id_card")
    png = render_qr_png(lic["qr_payload"])
    url = "/api/v1/verifications/image"
    result = (await client.post(url, files={"file": ("qr.png", png, "image/png")})).json()
    assert result["verdict"] == "valid"
    assert result["decoded_from_image"] is True
    photo = _photo(png, angle=17, blur=1.2, quality=55)
    result = (await client.post(url, files={"file": ("photo.jpg", photo, "image/jpeg")})).json()
    assert result["verdict"] == "valid", result["checks"]
    # Not an image; an image with no code: verdicts, not errors.
    result = (await client.post(url, files={"file": ("x.jpg", b"not an image", "image/jpeg")})).json()
    assert result["verdict"] == "malformed"
    blank = io.BytesIO()
    Image.new("L", (300, 300), 255).save(blank, format="PNG")
    result = (await client.post(url, files={"file": ("blank.png", blank.getvalue(), "image/png")})).json()
    assert result["verdict"] == "malformed"
    assert "未找到二维码" in result["checks"][0]["detail"]
    assert_problem(await client.post(url, json={"payload": "x"}), 400, "bad_request")


async def test_rate_limited(registry: Registry) -> None:
    from registry.http.ratelimit import RateLimiter

    limited = Registry(registry.settings, registry.db, registry.master_key, registry.key_provider, registry.catalog)
    limited.verify_limiter = RateLimiter(3)
    app = create_app(registry=limited)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        for _ in range(3):
            assert (await c.post("/api/v1/verifications", json={"payload": "x"})).status_code == 200
        resp = await c.post("/api/v1/verifications", json={"payload": "x"})
        problem = assert_problem(resp, 429, "rate_limited")
        assert int(resp.headers["retry-after"]) >= 1
        assert problem["retry_after"] >= 1


def test_token_bucket_refills() -> None:
    from registry import errors
    from registry.http.ratelimit import RateLimiter

    limiter = RateLimiter(60)
    for _ in range(60):
        limiter.take("a", now=100.0)
    with pytest.raises(errors.RateLimited):
        limiter.take("a", now=100.0)
    limiter.take("b", now=100.0)  # another client has its own bucket
    limiter.take("a", now=101.1)  # a second later, one more token


async def test_this_worker_sees_its_own_revocation_at_once(
    client: httpx.AsyncClient, registry: Registry, issuer: Org
) -> None:
    """Between polls a worker answers scans from memory; a change it committed itself is never one poll late,
    while scans that arrive during another request's poll do not queue behind it."""
    lic = await issued(client, registry, issuer)
    assert (await verify(client, payload=lic["qr_payload"]))["verdict"] == "valid"
    registry.caches._last_poll = time.monotonic() + 3600  # no periodic poll during this test
    try:
        resp = await client.post(
            f"/api/v1/licenses/{lic['identifier']}/revoke", json={"reason": "测试"}, headers=issuer.auth
        )
        assert resp.status_code == 200, resp.text
        assert (await verify(client, payload=lic["qr_payload"]))["verdict"] == "revoked"
    finally:
        registry.caches._last_poll = 0.0
