"""Concurrent issuance: distinct identifiers and status slots; idempotent retries give one licence.

Twenty requests run at once through the app against the real database (on PostgreSQL when
REGISTRY_TEST_DATABASE_URL names one — CI runs this file on both engines)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from registry.context import Registry
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
