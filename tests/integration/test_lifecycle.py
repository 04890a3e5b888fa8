"""The licence lifecycle: an exhaustive state-machine matrix, issuer-only actions, renew/amend links, and
status lists that show every change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from registry.context import Registry
from signing.data_integrity import verify_proof
from tests.conftest import Org
from tests.integration.test_bad_input import assert_problem, licences_of
from tests.integration.test_issuance import example_body, issue, public_key_of
from verification.identifiers import LicenseIdentifier
from verification.status_list import bit_at, parse_status_list_credential

pytestmark = pytest.mark.integration

ACTIONS = ["suspend", "reinstate", "revoke", "withdraw", "cancel", "renew", "amend"]
# How to reach each starting state from a fresh (active) licence.
SETUP: dict[str, list[str]] = {
    "active": [],
    "suspended": ["suspend"],
    "revoked": ["revoke"],
    "withdrawn": ["withdraw"],
    "cancelled": ["cancel"],
    "superseded": ["renew"],
}
ALLOWED: dict[tuple[str, str], str] = {
    ("active", "suspend"): "suspended",
    ("active", "revoke"): "revoked",
    ("active", "withdraw"): "withdrawn",
    ("active", "cancel"): "cancelled",
    ("active", "renew"): "superseded",
    ("active", "amend"): "superseded",
    ("suspended", "reinstate"): "active",
    ("suspended", "revoke"): "revoked",
    ("suspended", "withdraw"): "withdrawn",
    ("suspended", "cancel"): "cancelled",
}
GB_CODES = {"active": "01", "suspended": "02", "revoked": "03", "cancelled": "04", "withdrawn": "07"}


async def act(client: httpx.AsyncClient, org: Org, identifier: str, action: str, **extra: Any) -> httpx.Response:
    path = "revoke" if action == "withdraw" else action
    body: dict[str, Any] = {"reason": f"依法{action}（测试）"} | extra
    if action == "withdraw":
        body["kind"] = "withdraw"
    return await client.post(f"/api/v1/licenses/{identifier}/{path}", json=body, headers=org.auth)


async def fresh(client: httpx.AsyncClient, registry: Registry, org: Org, license_type: str = "driving_license") -> str:
    resp = await issue(client, org, example_body(registry, license_type))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["identifier"])


@pytest.mark.parametrize("start", list(SETUP))
@pytest.mark.parametrize("action", ACTIONS)
async def test_state_machine(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, start: str, action: str
) -> None:
    ident = await fresh(client, registry, issuer)
    for step in SETUP[start]:
        assert (await act(client, issuer, ident, step)).status_code in (200, 201)
    before = (await client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth)).json()
    assert before["status"] == start
    resp = await act(client, issuer, ident, action)
    expected = ALLOWED.get((start, action))
    after = (await client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth)).json()
    if expected is None:
        problem = assert_problem(resp, 409, "invalid_transition")
        assert problem["status"] == 409
        assert after["status"] == start  # nothing changed
        return
    assert resp.status_code == (201 if action in ("renew", "amend") else 200), resp.text
    assert after["status"] == expected
    if expected in GB_CODES:
        assert after["status_code"] == GB_CODES[expected]


async def test_status_lists_follow_changes(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    ident = await fresh(client, registry, issuer)
    credential = (await client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth)).json()["credential"]
    entries = {e["statusPurpose"]: e for e in credential["credentialStatus"]}
    key = await public_key_of(client, credential["proof"]["verificationMethod"])

    async def bit(purpose: str) -> bool:
        entry = entries[purpose]
        path = entry["statusListCredential"].replace("http://testserver.local", "")
        resp = await client.get(path)
        assert resp.status_code == 200
        assert "max-age=" in resp.headers["cache-control"]
        document = resp.json()
        verify_proof(document, key)
        snapshot = parse_status_list_credential(document)
        assert snapshot.purpose == purpose
        assert snapshot.valid_until is not None
        return bit_at(snapshot.bits, int(entry["statusListIndex"]))

    assert (await bit("revocation"), await bit("suspension")) == (False, False)
    await act(client, issuer, ident, "suspend")
    assert (await bit("revocation"), await bit("suspension")) == (False, True)
    await act(client, issuer, ident, "reinstate")
    assert (await bit("revocation"), await bit("suspension")) == (False, False)
    await act(client, issuer, ident, "revoke")
    assert (await bit("revocation"), await bit("suspension")) == (True, False)
    # The same list through the API path.
    list_id = entries["revocation"]["statusListCredential"].rsplit("/", 1)[1]
    assert (await client.get(f"/api/v1/status-lists/{list_id}")).status_code == 200
    assert_problem(await client.get("/api/v1/status-lists/nope-revocation-1"), 404, "not_found")


async def test_renew_and_amend_link_versions(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    ident = await fresh(client, registry, issuer, "food_business_license")
    resp = await act(client, issuer, ident, "renew", valid_until="2036-01-01")
    assert resp.status_code == 201, resp.text
    renewed = resp.json()
    old_id, new_id = LicenseIdentifier.parse(ident), LicenseIdentifier.parse(renewed["identifier"])
    assert (new_id.serial, new_id.version) == (old_id.serial, old_id.version + 1)
    assert renewed["previous_identifier"] == ident
    assert renewed["credential"]["validUntil"] == "2036-01-01T00:00:00Z"
    old = (await client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth)).json()
    assert old["status"] == "superseded"

    field = registry.catalog.get("food_business_license").field("premises")
    resp = await act(client, issuer, renewed["identifier"], "amend", fields={field.name: "深圳市南山区科技园南区18号"})
    assert resp.status_code == 201, resp.text
    amended = resp.json()
    assert LicenseIdentifier.parse(amended["identifier"]).version == 3
    assert amended["credential"]["credentialSubject"]["fields"][field.name] == "深圳市南山区科技园南区18号"
    assert amended["previous_identifier"] == renewed["identifier"]
    # A bad amendment changes nothing.
    before = await licences_of(registry, issuer)
    resp = await act(client, issuer, amended["identifier"], "amend", fields={"no_such_field": "x"})
    assert_problem(resp, 422, "invalid_fields")
    assert await licences_of(registry, issuer) == before
    assert (await client.get(f"/api/v1/licenses/{amended['identifier']}", headers=issuer.auth)).json()[
        "status"
    ] == "active"

    history = (await client.get(f"/api/v1/licenses/{renewed['identifier']}/history", headers=issuer.auth)).json()
    assert [(e["action"], e["status_after"]) for e in history] == [("renew", "active"), ("amend", "superseded")]
    assert history[1]["related_identifier"] == amended["identifier"]


async def test_only_the_issuer_acts(client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any) -> None:
    ident = await fresh(client, registry, issuer)
    other = await make_org("issuer", name="深圳市另一部门")
    agency = await make_org("agency")
    for action in ACTIONS:
        assert_problem(await act(client, other, ident, action), 404, "license_not_found")
        assert_problem(await act(client, agency, ident, action), 403, "forbidden")
        resp = await client.post(f"/api/v1/licenses/{ident}/suspend", json={"reason": "x"})
        assert_problem(resp, 401, "not_authenticated")
    assert (await client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth)).json()["status"] == "active"


async def test_bad_lifecycle_requests(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    ident = await fresh(client, registry, issuer)
    url = f"/api/v1/licenses/{ident}/suspend"
    assert_problem(await client.post(url, json={}, headers=issuer.auth), 422, "validation_failed")
    assert_problem(await client.post(url, json={"reason": ""}, headers=issuer.auth), 422, "validation_failed")
    assert_problem(await client.post(url, json={"reason": "长" * 600}, headers=issuer.auth), 422, "validation_failed")
    resp = await client.post(
        f"/api/v1/licenses/{ident}/revoke", json={"reason": "x", "kind": "maybe"}, headers=issuer.auth
    )
    assert_problem(resp, 422, "validation_failed")
    wrong = ident[:-1] + ("0" if ident[-1] != "0" else "1")
    assert_problem(await act(client, issuer, wrong, "suspend"), 422, "invalid_identifier")
    unknown = str(LicenseIdentifier(LicenseIdentifier.parse(ident).type_code, issuer.code, "99999998", 1))
    assert_problem(await act(client, issuer, unknown, "suspend"), 404, "license_not_found")
    assert_problem(await act(client, issuer, "1.2.156", "suspend"), 422, "invalid_identifier")
    assert (await client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth)).json()["status"] == "active"
