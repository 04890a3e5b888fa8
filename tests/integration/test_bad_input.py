"""Every kind of bad request gets a clear RFC 9457 problem with a stable code — never a 500, never a
half-written licence."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import select

from registry.auth.tokens import LEEWAY, mint_org_token
from registry.context import Registry
from registry.models import License
from tests.conftest import Org
from tests.factories import corrupt_check, new_resident_id, new_uscc
from tests.integration.test_issuance import example_body, issue

pytestmark = pytest.mark.integration


def assert_problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["code"] == code, body
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in resp.text
    return body


async def licences_of(registry: Registry, org: Org) -> int:
    async with registry.db.read() as session:
        count = (
            await session.exec(select(func.count()).select_from(License).where(License.issuer_code == org.code))
        ).one()
    return int(count)


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    target = out
    for p in parents:
        target = target[p]
    if value is _DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return out


_DELETE = object()

# (case, license type, path in body, new value, status, code)
BAD_BODIES = [
    ("unknown type", "resident_id_card", "type", "hunting_licence", 422, "unknown_license_type"),
    (
        "resident id wrong check",
        "resident_id_card",
        "holder.id_number",
        "CORRUPT_RID",
        422,
        "invalid_holder_id",
    ),
    ("uscc wrong check", "business_license", "holder.id_number", "CORRUPT_USCC", 422, "invalid_holder_id"),
    ("unknown id type", "resident_id_card", "holder.id_type", "library_card", 422, "invalid_holder_id"),
    ("company holds an ID card", "resident_id_card", "holder.id_type", "uscc", 422, "invalid_holder_id"),
    ("empty holder name", "resident_id_card", "holder.name", "", 422, "invalid_holder_id"),
    ("missing required field", "driving_license", "fields.FIRST_REQUIRED", _DELETE, 422, "invalid_fields"),
    ("extra field", "driving_license", "fields.favourite_colour", "蓝", 422, "invalid_fields"),
    ("oversized field", "driving_license", "fields.FIRST_STRING", "长" * 5000, 422, "invalid_fields"),
    ("float in a field", "real_estate_certificate", "fields.FIRST_STRING", 89.56, 422, "invalid_fields"),
    ("object in a field", "social_security_card", "fields.FIRST_STRING", {"a": 1}, 422, "invalid_fields"),
    ("fields not an object", "resident_id_card", "fields", ["张伟"], 422, "validation_failed"),
    ("holder missing", "resident_id_card", "holder", _DELETE, 422, "validation_failed"),
    ("unknown top-level key", "resident_id_card", "signature", "z3xyz", 422, "validation_failed"),
    ("type not a string", "resident_id_card", "type", 7, 422, "validation_failed"),
    ("oversized holder name", "resident_id_card", "holder.name", "张" * 500, 422, "validation_failed"),
]


@pytest.mark.parametrize(
    ("case", "license_type", "path", "value", "status", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
async def test_bad_bodies(
    client: httpx.AsyncClient,
    registry: Registry,
    issuer: Org,
    case: str,
    license_type: str,
    path: str,
    value: Any,
    status: int,
    code: str,
) -> None:
    body = example_body(registry, license_type)
    lt = registry.catalog.get(license_type)
    if "FIRST_REQUIRED" in path:
        path = path.replace("FIRST_REQUIRED", next(f.name for f in lt.fields if f.required))
    if "FIRST_STRING" in path:
        path = path.replace("FIRST_STRING", next(f.name for f in lt.fields if f.type == "string"))
    if value == "CORRUPT_RID":
        value = corrupt_check(new_resident_id())
    if value == "CORRUPT_USCC":
        value = corrupt_check(new_uscc("91"))
    before = await licences_of(registry, issuer)
    resp = await issue(client, issuer, _with(body, path, value))
    problem = assert_problem(resp, status, code)
    if code == "invalid_fields":
        assert problem["errors"] and all({"field", "code", "message"} <= e.keys() for e in problem["errors"])
    assert await licences_of(registry, issuer) == before


async def test_all_field_errors_reported_at_once(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    body = example_body(registry, "driving_license")
    required = [f.name for f in registry.catalog.get("driving_license").fields if f.required]
    for name in required[:2]:
        del body["fields"][name]
    body["fields"]["nickname"] = "小伟"
    problem = assert_problem(await issue(client, issuer, body), 422, "invalid_fields")
    assert {e["field"] for e in problem["errors"]} >= {*required[:2], "nickname"}


async def test_idempotency(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    body = example_body(registry, "social_security_card")
    key = str(uuid.uuid4())
    first = await issue(client, issuer, body, key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = await issue(client, issuer, body, key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["identifier"] == first.json()["identifier"]
    assert again.json()["credential"] == first.json()["credential"]
    other = _with(body, "holder.name", "李娜")
    assert_problem(await issue(client, issuer, other, key), 422, "idempotency_key_reused")
    before = await licences_of(registry, issuer)
    resp = await client.post("/api/v1/licenses", json=body, headers=issuer.auth)
    assert_problem(resp, 400, "idempotency_key_required")
    resp = await client.post("/api/v1/licenses", json=body, headers={**issuer.auth, "Idempotency-Key": "键".encode()})
    assert_problem(resp, 400, "bad_request")
    resp = await client.post("/api/v1/licenses", json=body, headers={**issuer.auth, "Idempotency-Key": "k" * 300})
    assert_problem(resp, 400, "bad_request")
    assert await licences_of(registry, issuer) == before


async def test_wrong_roles(client: httpx.AsyncClient, registry: Registry, make_org: Any) -> None:
    agency = await make_org("agency")
    assert_problem(await issue(client, agency, example_body(registry, "resident_id_card")), 403, "forbidden")
    id_office = await make_org("issuer", types=["resident_id_card"])
    resp = await issue(client, id_office, example_body(registry, "business_license"))
    assert_problem(resp, 403, "license_type_not_allowed")
    assert await licences_of(registry, id_office) == 0


async def test_tokens(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    body = example_body(registry, "resident_id_card")
    url = "/api/v1/licenses"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert_problem(await client.post(url, json=body, headers=key), 401, "not_authenticated")
    for header in ("Bearer", "Bearer garbage", "Basic abc", "Bearer a.b.c", "Token x"):
        resp = await client.post(url, json=body, headers={**key, "Authorization": header})
        assert_problem(resp, 401, "not_authenticated")
    old, _ = mint_org_token(registry, issuer.code, "issuer", now=datetime.now(UTC) - timedelta(hours=2))
    resp = await client.post(url, json=body, headers={**key, "Authorization": f"Bearer {old}"})
    assert_problem(resp, 401, "token_expired")
    # Right claims, wrong key; and the unsigned "none" algorithm: both refused.
    claims = jwt.decode(issuer.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-key-" * 4, algorithm="HS256")
    resp = await client.post(url, json=body, headers={**key, "Authorization": f"Bearer {forged}"})
    assert_problem(resp, 401, "not_authenticated")
    unsigned = jwt.encode(claims, None, algorithm="none")
    resp = await client.post(url, json=body, headers={**key, "Authorization": f"Bearer {unsigned}"})
    assert_problem(resp, 401, "not_authenticated")
    wrong_aud = jwt.encode(
        claims | {"aud": "https://elsewhere"},
        registry.master_key.derive(b"registry-jwt-hs256"),
        algorithm="HS256",
    )
    resp = await client.post(url, json=body, headers={**key, "Authorization": f"Bearer {wrong_aud}"})
    assert_problem(resp, 401, "not_authenticated")


async def test_a_remembered_token_still_expires(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verified tokens are remembered per worker (auth.tokens.read_token); one used a moment ago is refused
    once its time is up, exactly as a fresh decode would refuse it."""
    token, ttl = mint_org_token(registry, issuer.code, "issuer")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/licenses?limit=1", headers=headers)).status_code == 200
    assert token in registry.verified_tokens
    later = time.time() + ttl + LEEWAY + 1  # past exp by more than the clock-skew leeway
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", _later_datetime(later))  # PyJWT's own clock, the same way
    assert_problem(await client.get("/api/v1/licenses?limit=1", headers=headers), 401, "token_expired")


def _later_datetime(at: float) -> type[datetime]:
    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.fromtimestamp(at, tz)

    return Later


async def test_token_endpoint(client: httpx.AsyncClient, issuer: Org) -> None:
    url = "/api/v1/auth/token"
    good = {
        "grant_type": "client_credentials",
        "client_id": issuer.client_id,
        "client_secret": issuer.client_secret,
    }
    resp = await client.post(url, data=good)
    assert resp.status_code == 200
    token = resp.json()
    assert token["token_type"] == "Bearer" and 0 < token["expires_in"] <= 900
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["sub"] == issuer.code and "licenses:issue" in claims["scope"].split()
    # HTTP Basic client authentication (RFC 6749 §2.3.1) works too.
    resp = await client.post(
        url, data={"grant_type": "client_credentials"}, auth=(issuer.client_id, issuer.client_secret)
    )
    assert resp.status_code == 200
    assert_problem(await client.post(url, data=good | {"client_secret": "wrong"}), 401, "invalid_client")
    assert_problem(await client.post(url, data=good | {"client_id": new_uscc()}), 401, "invalid_client")
    assert_problem(await client.post(url, data=good | {"client_id": "x" * 5000}), 401, "invalid_client")
    assert_problem(await client.post(url, data={"grant_type": "client_credentials"}), 401, "invalid_client")
    assert_problem(await client.post(url, data=good | {"grant_type": "password"}), 400, "unsupported_grant_type")
    assert_problem(await client.post(url, json=good), 415, "unsupported_media_type")


async def test_malformed_and_oversized_bodies(client: httpx.AsyncClient, issuer: Org, registry: Registry) -> None:
    headers = {**issuer.auth, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    for raw in (b"{", b"not json", b'{"type": "resident_id_card",}', b"\xff\xfe", b""):
        resp = await client.post("/api/v1/licenses", content=raw, headers=headers)
        assert resp.status_code in (400, 422), (raw, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await client.post("/api/v1/licenses", content=b"{", headers=headers)
    assert_problem(resp, 400, "invalid_json")
    big = b'{"type": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    resp = await client.post("/api/v1/licenses", content=big, headers=headers)
    assert_problem(resp, 413, "body_too_large")
    assert await licences_of(registry, issuer) == 0


async def test_unknown_routes_and_methods(client: httpx.AsyncClient, issuer: Org) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(await client.delete("/api/v1/license-types", headers=issuer.auth), 405, "method_not_allowed")


async def test_problem_types_resolve(client: httpx.AsyncClient) -> None:
    problem = (await client.get("/api/v1/license-types/none_such")).json()
    described = await client.get(problem["type"].replace("http://testserver.local", ""))
    assert described.status_code == 200
    assert described.json()["code"] == "not_found"
    assert (await client.get("/problems/no_such_code")).status_code == 404


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def _mutated_bodies() -> st.SearchStrategy[Any]:
    base = st.fixed_dictionaries(
        {
            "type": st.sampled_from([*ALL_TYPES_FOR_FUZZ, "x"]) | JSON_VALUES,
            "holder": st.fixed_dictionaries({"id_type": JSON_VALUES, "id_number": JSON_VALUES, "name": JSON_VALUES})
            | JSON_VALUES,
            "fields": st.dictionaries(st.text(max_size=20), JSON_VALUES, max_size=8) | JSON_VALUES,
        },
        optional={"valid_from": JSON_VALUES, "valid_until": JSON_VALUES},
    )
    return base | JSON_VALUES


ALL_TYPES_FOR_FUZZ = ["resident_id_card", "business_license", "marriage_certificate"]


async def test_no_500_for_any_body(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    """Hypothesis drives random and half-right bodies at the issuing endpoint: each gets a 4xx problem."""
    seen: list[int] = []

    # Hypothesis drives a sync function; run it in a worker thread with its own view of our loop.
    loop = asyncio.get_running_loop()

    def in_thread() -> None:
        @hyp_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(body=_mutated_bodies())
        def check(body: Any) -> None:
            resp = asyncio.run_coroutine_threadsafe(issue(client, issuer, body), loop).result(timeout=30)
            seen.append(resp.status_code)
            assert resp.status_code < 500, resp.text
            if resp.status_code >= 400:
                assert resp.headers["content-type"].startswith("application/problem+json")

        check()

    await asyncio.to_thread(in_thread)
    assert len(seen) >= 100
    assert await licences_of(registry, issuer) == seen.count(201)
