"""Concurrent issuance: distinct identifiers and status slots; idempotent retries give one licence.

Twenty requests run at once through the app against the real database (on PostgreSQL when
REGISTRY_TEST_DATABASE_URL names one — CI runs this file on both engines)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from registry.context import Registry
from registry.licenses import service
from tests.conftest import Org
from tests.factories import new_resident_id
from tests.integration.test_bad_input import licences_of
from tests.integration.test_issuance import example_body, issue

pytestmark = pytest.mark.integration
N = 20


async def test_concurrent_issuance_distinct(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    bodies = []
    for _ in range(N):
        body = example_body(registry, "social_security_card")
        rid = new_resident_id()
        body["holder"]["id_number"] = rid
        for name, value in list(body["fields"].items()):
            if value == registry.catalog.get("social_security_card").example_holder.id_number:
                body["fields"][name] = rid
        bodies.append(body)
    responses = await asyncio.gather(*(issue(client, issuer, b) for b in bodies))
    assert [r.status_code for r in responses] == [201] * N, [r.text for r in responses if r.status_code != 201]
    identifiers = {r.json()["identifier"] for r in responses}
    assert len(identifiers) == N
    slots = {
        (e["statusPurpose"], e["statusListCredential"], e["statusListIndex"])
        for r in responses
        for e in r.json()["credential"]["credentialStatus"]
    }
    assert len(slots) == 2 * N
    assert await licences_of(registry, issuer) == N


async def test_concurrent_idempotent_retries(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    body = example_body(registry, "residence_permit")
    key = str(uuid.uuid4())
    responses = await asyncio.gather(*(issue(client, issuer, body, key) for _ in range(N)))
    assert [r.status_code for r in responses] == [201] * N, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["identifier"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == N - 1
    assert await licences_of(registry, issuer) == 1


# --- group commit: requests in flight together share one transaction, each keeps its own answer ---------------


def ssc_bodies(registry: Registry, n: int) -> list[dict[str, Any]]:
    example = registry.catalog.get("social_security_card").example_holder.id_number
    bodies = []
    for _ in range(n):
        body = example_body(registry, "social_security_card")
        rid = new_resident_id()
        body["holder"]["id_number"] = rid
        body["fields"] = {k: rid if v == example else v for k, v in body["fields"].items()}
        bodies.append(body)
    return bodies


@pytest.fixture
def group_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every group written (to show the requests did go together)."""
    sizes: list[int] = []
    real = service._issue_together

    async def spy(reg: Registry, requests: list[service.IssueRequest]) -> list[Any]:
        sizes.append(len(requests))
        return await real(reg, requests)

    monkeypatch.setattr(service, "_issue_together", spy)
    return sizes


async def test_a_group_numbers_consecutively_and_every_licence_verifies(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, group_sizes: list[int]
) -> None:
    responses = await asyncio.gather(*(issue(client, issuer, b) for b in ssc_bodies(registry, 30)))
    assert [r.status_code for r in responses] == [201] * 30, [r.text for r in responses if r.status_code != 201]
    assert max(group_sizes) > 1 and sum(group_sizes) == 30
    serials = sorted(int(r.json()["identifier"].split(".")[-3]) for r in responses)
    assert serials == list(range(serials[0], serials[0] + 30))
    for r in responses[:5]:
        check = await client.post("/api/v1/verifications", json={"payload": r.json()["qr_payload"]})
        assert check.json()["verdict"] == "valid", check.json()
    # The history names the caller, as for a licence issued alone.
    history = await client.get(f"/api/v1/licenses/{responses[0].json()['identifier']}/history", headers=issuer.auth)
    assert [(e["action"], e["actor"]) for e in history.json()] == [("issue", issuer.code)]


async def test_one_key_twice_in_a_group(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, group_sizes: list[int]
) -> None:
    same, other = ssc_bodies(registry, 2)
    key = str(uuid.uuid4())
    first, retry = await asyncio.gather(issue(client, issuer, same, key), issue(client, issuer, same, key))
    assert (first.status_code, retry.status_code) == (201, 201)
    assert first.json()["identifier"] == retry.json()["identifier"]
    assert "true" in (first.headers.get("idempotent-replayed"), retry.headers.get("idempotent-replayed"))
    key = str(uuid.uuid4())
    one, clash = await asyncio.gather(issue(client, issuer, same, key), issue(client, issuer, other, key))
    assert sorted([one.status_code, clash.status_code])[0] == 201
    refused = one if one.status_code != 201 else clash
    assert refused.json()["code"] == "idempotency_key_reused", refused.text


async def test_a_department_refused_in_a_group_takes_no_numbers(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, group_sizes: list[int]
) -> None:
    narrow = await make_org("issuer", types=["business_license"])
    bodies = ssc_bodies(registry, 6)
    responses = await asyncio.gather(
        *(issue(client, org, b) for org, b in zip([issuer, narrow] * 3, bodies, strict=True))
    )
    assert [r.status_code for r in responses[0::2]] == [201] * 3
    assert {r.json()["code"] for r in responses[1::2]} == {"license_type_not_allowed"}
    # The refused department's next licence still takes serial 1.
    business = example_body(registry, "business_license")
    done = await issue(client, narrow, business)
    assert done.status_code == 201, done.text
    assert done.json()["identifier"].split(".")[-3] == "00000001"


async def test_a_group_that_fails_whole_is_issued_one_by_one(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction of the group rolled back (here: the INSERT fails as if another worker had stored a key
    first): every request is then issued alone, and each still gets its licence."""
    real = service.store_signed
    failures = iter([True])

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(failures, False):
            raise IntegrityError("INSERT", {}, Exception("simulated race"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "store_signed", flaky)
    before = await licences_of(registry, issuer)
    responses = await asyncio.gather(*(issue(client, issuer, b) for b in ssc_bodies(registry, 8)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["identifier"] for r in responses}) == 8
    assert await licences_of(registry, issuer) == before + 8
