"""Access tokens and sessions (issue #8 item 4): every forged, stale, rotated-out, revoked or misplaced token is
refused with the right RFC 9457 problem, and the good ones keep working — across key rotation and across workers.

Tokens are forged with PyJWT directly (RS256/ES256 by hand: without the `cryptography` package PyJWT cannot sign
them, and the registry must refuse them by their `alg` before any signature is looked at anyway)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlmodel import col, select

from registry.app import create_app
from registry.auth import tokens
from registry.auth.tokens import LEEWAY, REQUIRED, mint_holder_token, mint_org_token, token_key
from registry.context import Registry
from registry.http.ratelimit import RateLimiter
from registry.models import RevokedToken, WebSession
from tests.conftest import BASE_URL, HolderAccount, Org, csrf_of, page_login
from tests.factories import new_resident_id
from tests.integration.test_bad_input import assert_problem
from tests.integration.test_issuance import example_body
from tests.integration.test_sharing import RENEW_DRIVING

pytestmark = pytest.mark.integration

ISSUER_PROBE = "/api/v1/licenses?limit=1"  # needs licenses:read (an issuer)
AGENCY_PROBE = "/api/v1/cases"  # needs cases:read (an agency)
HOLDER_PROBE = "/api/v1/me/licenses"  # a holder only


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_for(registry: Registry, subject: str, typ: str = "org", role: str = "issuer", **over: Any) -> dict[str, Any]:
    """The claims the registry mints, for ``subject``; ``over`` replaces some (None drops one)."""
    now = int(time.time())
    scope = " ".join(tokens.ORG_SCOPES[role] if typ == "org" and role in tokens.ORG_SCOPES else tokens.HOLDER_SCOPES)
    claims: dict[str, Any] = {
        "iss": registry.settings.token_issuer,
        "aud": registry.settings.token_audience,
        "sub": subject,
        "typ": typ,
        "role": role,
        "scope": scope,
        "iat": now,
        "nbf": now,
        "exp": now + registry.settings.token_ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def forge(
    registry: Registry, claims: dict[str, Any], *, generation: int = 1, kid: Any = "jwt-1", alg: str = "HS256"
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, token_key(registry, generation), algorithm=alg, headers=headers)


def by_hand(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWS assembled without PyJWT's help: any ``alg`` label, signed (HMAC-SHA256) with ``key`` or not at all."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{b64(signature)}"


def short_key_encode(claims: dict[str, Any], key: bytes, alg: str) -> str:
    """Our 32-byte key under HS384/HS512 (PyJWT warns that it is short for those: that is the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": "jwt-1"})


async def refused(client: httpx.AsyncClient, token: str, code: str, path: str = ISSUER_PROBE) -> dict[str, Any]:
    return assert_problem(await client.get(path, headers=bearer(token)), 401, code)


async def accepted(client: httpx.AsyncClient, token: str, path: str = ISSUER_PROBE) -> None:
    resp = await client.get(path, headers=bearer(token))
    assert resp.status_code == 200, resp.text


@pytest.fixture
def at_generation(registry: Registry, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run this worker at another token-key generation (as after a restart with REGISTRY_TOKEN_KEY_GENERATION)."""

    def switch(generation: int) -> None:
        monkeypatch.setattr(
            registry, "settings", dataclasses.replace(registry.settings, token_key_generation=generation)
        )

    return switch


@pytest.fixture
async def other_worker(registry: Registry) -> AsyncIterator[tuple[Registry, httpx.AsyncClient]]:
    """A second worker: its own memory (verified tokens), the same database and master key."""
    worker = Registry(registry.settings, registry.db, registry.master_key, registry.key_provider, registry.catalog)
    transport = httpx.ASGITransport(app=create_app(registry=worker))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield worker, c


# --- what is minted ------------------------------------------------------------------------------------------


async def test_minted_tokens_carry_kid_nbf_and_a_short_life(registry: Registry, issuer: Org) -> None:
    header = jwt.get_unverified_header(issuer.token)
    assert header == {"alg": "HS256", "kid": "jwt-1", "typ": "JWT"}
    claims = jwt.decode(issuer.token, options={"verify_signature": False})
    assert set(REQUIRED) <= set(claims)
    assert claims["nbf"] == claims["iat"] and claims["exp"] - claims["iat"] == registry.settings.token_ttl_seconds
    assert registry.settings.token_ttl_seconds <= 900
    # Generation 1 is the key every token was signed with before generations existed.
    assert token_key(registry, 1) == registry.master_key.derive(b"registry-jwt-hs256")
    assert len({token_key(registry, g) for g in (1, 2, 3)}) == 3


# --- forged and broken tokens ----------------------------------------------------------------------------------


async def test_unsigned_wrong_key_and_algorithm_confusion_are_refused(
    client: httpx.AsyncClient, registry: Registry, issuer: Org
) -> None:
    claims = claims_for(registry, issuer.code)
    await accepted(client, forge(registry, claims))  # the forger's helper itself makes good tokens
    key = token_key(registry, 1)
    forgeries = {
        "alg none (PyJWT)": jwt.encode(claims, None, algorithm="none", headers={"kid": "jwt-1"}),
        "alg none, no kid": jwt.encode(claims, None, algorithm="none"),
        "alg None, by hand": by_hand({"alg": "None", "kid": "jwt-1"}, claims, None),
        "HS256, signature stripped": forge(registry, claims).rsplit(".", 1)[0] + ".",
        "HS256, wrong key": jwt.encode(claims, b"k" * 32, algorithm="HS256", headers={"kid": "jwt-1"}),
        "HS256, a key for another purpose": jwt.encode(claims, registry.master_key.derive(b"x"), algorithm="HS256"),
        "HS512, the right key": short_key_encode(claims, key, "HS512"),
        "HS384, the right key": short_key_encode(claims, key, "HS384"),
        # A right HMAC-SHA256 under a label that names another algorithm: only the label differs.
        "RS256 label, right HMAC": by_hand({"alg": "RS256", "kid": "jwt-1", "typ": "JWT"}, claims, key),
        "ES256 label, right HMAC": by_hand({"alg": "ES256", "kid": "jwt-1", "typ": "JWT"}, claims, key),
        "PS256 label, right HMAC": by_hand({"alg": "PS256", "kid": "jwt-1", "typ": "JWT"}, claims, key),
        "EdDSA label, right HMAC": by_hand({"alg": "EdDSA", "kid": "jwt-1", "typ": "JWT"}, claims, key),
        "garbage header": "e30x." + forge(registry, claims).split(".", 1)[1],
    }
    # The by-hand assembly is faithful: the same bytes labelled HS256 are accepted.
    await accepted(client, by_hand({"alg": "HS256", "kid": "jwt-1", "typ": "JWT"}, claims, key))
    for name, token in forgeries.items():
        problem = await refused(client, token, "not_authenticated")
        assert "Invalid token" in problem["detail"], name
        assert token not in registry.verified_tokens, name


async def test_time_claims_with_a_small_leeway(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    now = int(time.time())
    ttl = registry.settings.token_ttl_seconds

    def at(**over: Any) -> str:
        return forge(registry, claims_for(registry, issuer.code, **over))

    # Expired: past exp by more than the leeway.
    await refused(client, at(iat=now - ttl - 120, nbf=now - ttl - 120, exp=now - 120), "token_expired")
    old, _ = mint_org_token(registry, issuer.code, "issuer", now=datetime.now(UTC) - timedelta(seconds=ttl + 90))
    await refused(client, old, "token_expired")
    # Not yet valid, or issued in the future (beyond the leeway).
    await refused(client, at(nbf=now + 120), "not_authenticated")
    await refused(client, at(iat=now + 120, nbf=now, exp=now + 120 + ttl - 200), "not_authenticated")
    # Lives longer than the registry allows, though correctly signed.
    await refused(client, at(exp=now + ttl + 3600), "not_authenticated")
    # Within the leeway, clocks that differ by a few seconds do not lock a client out.
    await accepted(client, at(iat=now - ttl + 10, nbf=now - ttl + 10, exp=now - 10))
    await accepted(client, at(nbf=now + 10))
    await accepted(client, at(iat=now + 10, nbf=now + 10, exp=now + 10 + ttl))
    # Not numbers: refused, never a 500.
    await refused(client, at(exp=str(now + 60)), "not_authenticated")
    await refused(client, at(nbf="soon"), "not_authenticated")
    await refused(client, at(iat=True), "not_authenticated")


@pytest.mark.parametrize("missing", REQUIRED)
async def test_every_required_claim_is_required(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, missing: str
) -> None:
    await refused(client, forge(registry, claims_for(registry, issuer.code, **{missing: None})), "not_authenticated")


async def test_issuer_audience_subject_and_jti_must_be_ours(
    client: httpx.AsyncClient, registry: Registry, issuer: Org
) -> None:
    ours = registry.settings.token_audience
    for over in (
        {"iss": "https://another-registry.example"},
        {"iss": registry.settings.base_url + "/"},
        {"aud": "https://another-registry.example/api"},
        {"aud": registry.settings.base_url},  # the issuer's URL is not the API's audience
        {"aud": [ours]},  # one string, not a list that merely contains ours
        {"aud": [ours, "https://elsewhere.example"]},
        {"sub": 12345},
        {"jti": 7},
        {"jti": "j" * 65},
    ):
        await refused(client, forge(registry, claims_for(registry, issuer.code, **over)), "not_authenticated")


# --- key rotation ----------------------------------------------------------------------------------------------


async def test_rotation_keeps_the_previous_generation_and_refuses_older_ones(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, at_generation: Any
) -> None:
    first, _ = mint_org_token(registry, issuer.code, "issuer")
    await accepted(client, first)
    assert first in registry.verified_tokens
    # A token minted by the previous release: no kid and no nbf, signed with the same key.
    legacy_claims = claims_for(registry, issuer.code, nbf=None)
    legacy = jwt.encode(legacy_claims, registry.master_key.derive(b"registry-jwt-hs256"), algorithm="HS256")
    await accepted(client, legacy)

    at_generation(2)
    second, _ = mint_org_token(registry, issuer.code, "issuer")
    assert jwt.get_unverified_header(second)["kid"] == "jwt-2"
    await accepted(client, second)
    await accepted(client, first)  # the previous generation works until it expires
    await accepted(client, legacy)
    # A kid names the key: generation 2's kid over generation 1's key (or the reverse) is a forgery.
    claims = claims_for(registry, issuer.code)
    await refused(client, forge(registry, claims, generation=1, kid="jwt-2"), "not_authenticated")
    await refused(client, forge(registry, claims, generation=2, kid="jwt-1"), "not_authenticated")
    # A generation this worker has not reached is unknown, even signed with the key it will derive.
    problem = await refused(client, forge(registry, claims, generation=3, kid="jwt-3"), "not_authenticated")
    assert "key id" in problem["detail"].lower()

    at_generation(3)
    await accepted(client, second)
    await accepted(client, forge(registry, claims, generation=3, kid="jwt-3"))
    # Two generations old: refused, though this worker remembered it as verified a moment ago.
    problem = await refused(client, first, "not_authenticated")
    assert "rotated" in problem["detail"]
    await refused(client, legacy, "not_authenticated")
    await refused(client, forge(registry, claims, generation=1, kid="jwt-1"), "not_authenticated")


@pytest.mark.parametrize("kid", ["jwt-99", "jwt-0", "jwt-01", "jwt--1", "key-1", "", 1, ["jwt-1"], None])
async def test_unknown_kids_are_refused(client: httpx.AsyncClient, registry: Registry, issuer: Org, kid: Any) -> None:
    claims = claims_for(registry, issuer.code)
    if isinstance(kid, str):
        token = forge(registry, claims, kid=kid)
    else:  # PyJWT will not write these (an explicit null is not a missing kid)
        token = by_hand({"alg": "HS256", "kid": kid, "typ": "JWT"}, claims, token_key(registry, 1))
    problem = await refused(client, token, "not_authenticated")
    assert "key id" in problem["detail"].lower()


# --- revocation (replay after logout) -------------------------------------------------------------------------


async def test_a_revoked_token_is_refused_at_once_even_when_remembered(
    client: httpx.AsyncClient, registry: Registry, make_holder: Any
) -> None:
    holder: HolderAccount = await make_holder("林晓")
    await accepted(client, holder.token, HOLDER_PROBE)
    assert holder.token in registry.verified_tokens  # remembered as verified
    resp = await client.post("/api/v1/auth/revoke", headers=holder.auth)
    assert resp.status_code == 200 and resp.content == b"", resp.text  # RFC 7009 §2.2
    problem = await refused(client, holder.token, "token_revoked", HOLDER_PROBE)
    assert problem["status"] == 401
    assert holder.token not in registry.verified_tokens
    # Kept until the token would have expired (and the leeway), not forever.
    claims = jwt.decode(holder.token, options={"verify_signature": False})
    async with registry.db.read() as session:
        row = await session.get(RevokedToken, claims["jti"])
    assert row is not None and row.expires_at == datetime.fromtimestamp(claims["exp"] + LEEWAY, UTC)
    # A revoked token cannot revoke, or do anything else; the holder logs in again for a new one.
    assert_problem(await client.post("/api/v1/auth/revoke", headers=holder.auth), 401, "token_revoked")
    fresh = await client.post(
        "/api/v1/auth/holder-token", json={"id_number": holder.id_number, "password": holder.password}
    )
    await accepted(client, fresh.json()["access_token"], HOLDER_PROBE)


async def test_other_workers_refuse_a_revoked_token_within_the_poll_interval(
    client: httpx.AsyncClient,
    registry: Registry,
    issuer: Org,
    other_worker: tuple[Registry, httpx.AsyncClient],
) -> None:
    worker, worker_client = other_worker
    token, _ = mint_org_token(registry, issuer.code, "issuer")
    await accepted(client, token)
    await accepted(worker_client, token)
    assert token in worker.verified_tokens
    assert (await client.post("/api/v1/auth/revoke", headers=bearer(token))).status_code == 200
    await refused(client, token, "token_revoked")  # this worker: at once
    # A worker that never saw the token looks it up: at once too.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=create_app(
                registry=Registry(
                    registry.settings, registry.db, registry.master_key, registry.key_provider, registry.catalog
                )
            )
        ),
        base_url=BASE_URL,
    ) as third:
        await refused(third, token, "token_revoked")
    # The worker that remembered it: within cache_poll_seconds (its documented bound).
    await asyncio.sleep(worker.settings.cache_poll_seconds + 0.05)
    await refused(worker_client, token, "token_revoked")
    assert token not in worker.verified_tokens
    # The organisation's other tokens are untouched.
    await accepted(worker_client, issuer.token)


async def test_revoking_another_of_ones_own_tokens_and_not_someone_elses(
    client: httpx.AsyncClient, registry: Registry, make_holder: Any
) -> None:
    alice: HolderAccount = await make_holder("李娜", male=False)
    bob: HolderAccount = await make_holder("张伟")
    phone = (
        await client.post("/api/v1/auth/holder-token", json={"id_number": alice.id_number, "password": alice.password})
    ).json()["access_token"]
    await accepted(client, phone, HOLDER_PROBE)
    # RFC 7009: the token to end in the form's `token` field, the caller authenticated by its own.
    resp = await client.post(
        "/api/v1/auth/revoke", data={"token": phone, "token_type_hint": "access_token"}, headers=alice.auth
    )
    assert resp.status_code == 200, resp.text
    await refused(client, phone, "token_revoked", HOLDER_PROBE)
    await accepted(client, alice.token, HOLDER_PROBE)
    # Someone else's token is not hers to end.
    resp = await client.post("/api/v1/auth/revoke", data={"token": bob.token}, headers=alice.auth)
    assert_problem(resp, 403, "forbidden")
    await accepted(client, bob.token, HOLDER_PROBE)
    # A token that is already unusable needs nothing: 200, and nothing is stored (RFC 7009 §2.2).
    async with registry.db.read() as session:
        before = len((await session.exec(select(RevokedToken))).all())
    stale, _ = mint_holder_token(registry, alice.id_number, now=datetime.now(UTC) - timedelta(hours=1))
    for junk in (
        "not-a-token",
        stale,
        jwt.encode(claims_for(registry, alice.id_number, "holder", "holder"), b"x" * 32),
    ):
        resp = await client.post("/api/v1/auth/revoke", data={"token": junk}, headers=alice.auth)
        assert resp.status_code == 200, resp.text
    async with registry.db.read() as session:
        assert len((await session.exec(select(RevokedToken))).all()) == before
    await accepted(client, alice.token, HOLDER_PROBE)


async def test_revoke_needs_a_bearer_and_a_form(
    client: httpx.AsyncClient, browser_like: httpx.AsyncClient, issuer: Org, make_holder: Any
) -> None:
    url = "/api/v1/auth/revoke"
    assert_problem(await client.post(url), 401, "not_authenticated")
    assert_problem(await client.post(url, headers={"Authorization": "Basic abc"}), 401, "not_authenticated")
    assert_problem(await client.post(url, headers=bearer("garbage")), 401, "not_authenticated")
    resp = await client.post(url, json={"token": issuer.token}, headers=issuer.auth)
    assert_problem(resp, 415, "unsupported_media_type")
    await accepted(client, issuer.token)
    # A page session logs out with POST /logout; its cookie opens nothing here.
    holder: HolderAccount = await make_holder()
    await page_login(browser_like, "/app/login", id_number=holder.id_number, password=holder.password)
    page = await browser_like.get("/app")
    resp = await browser_like.post(url, headers={"X-CSRF-Token": csrf_of(page.text)})
    assert_problem(resp, 401, "not_authenticated")


async def test_expired_revocations_are_swept(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    long_gone = f"swept-{uuid.uuid4().hex}"
    async with registry.db.transaction() as session:
        session.add(RevokedToken(jti=long_gone, expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    token, _ = mint_org_token(registry, issuer.code, "issuer")
    before = datetime.now(UTC)
    assert (await client.post("/api/v1/auth/revoke", headers=bearer(token))).status_code == 200
    async with registry.db.read() as session:
        assert await session.get(RevokedToken, long_gone) is None
        kept = (await session.exec(select(RevokedToken).where(col(RevokedToken.expires_at) < before))).all()
    assert kept == []


# --- cross-type: tokens and sessions where they do not belong ---------------------------------------------------


async def test_each_kind_of_token_only_where_it_belongs(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    agency: Org = await make_org("agency")
    holder: HolderAccount = await make_holder()
    await accepted(client, issuer.token, ISSUER_PROBE)
    await accepted(client, agency.token, AGENCY_PROBE)
    await accepted(client, holder.token, HOLDER_PROBE)
    wrong = [
        (holder, ISSUER_PROBE),
        (holder, AGENCY_PROBE),
        (holder, "/api/v1/stats"),
        (issuer, HOLDER_PROBE),
        (agency, HOLDER_PROBE),
        (issuer, AGENCY_PROBE),
        (agency, ISSUER_PROBE),
    ]
    for who, path in wrong:
        assert_problem(await client.get(path, headers=who.auth), 403, "forbidden")
    body = example_body(registry, "driving_license")
    for who in (holder, agency):
        resp = await client.post(
            "/api/v1/licenses", json=body, headers={**who.auth, "Idempotency-Key": str(uuid.uuid4())}
        )
        assert_problem(resp, 403, "forbidden")
    case = {"service_code": RENEW_DRIVING, "share_code": "SC1:440300." + "A" * 26}
    for who in (holder, issuer):
        assert_problem(await client.post("/api/v1/cases", json=case, headers=who.auth), 403, "forbidden")


async def test_forged_types_roles_and_scopes(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    for typ, role in (
        ("staff", "issuer"),
        ("admin", "issuer"),
        ("holder", "issuer"),
        ("org", "holder"),
        ("org", "root"),
    ):
        token = forge(registry, claims_for(registry, issuer.code, typ=typ, role=role, scope="licenses:read"))
        await refused(client, token, "not_authenticated")
    await refused(client, forge(registry, claims_for(registry, issuer.code, role=None)), "not_authenticated")
    # A scope claim beyond the role grants nothing: an agency token claiming to issue, a holder token to read.
    agency_claims = claims_for(registry, issuer.code, role="agency", scope="cases:read licenses:read licenses:issue")
    assert_problem(await client.get(ISSUER_PROBE, headers=bearer(forge(registry, agency_claims))), 403, "forbidden")
    holder_claims = claims_for(registry, issuer.code, "holder", "holder", scope="me licenses:read")
    assert_problem(await client.get(ISSUER_PROBE, headers=bearer(forge(registry, holder_claims))), 403, "forbidden")
    bad_scope = forge(registry, claims_for(registry, issuer.code, scope=["licenses:read"]))
    await refused(client, bad_scope, "not_authenticated")


async def test_a_page_session_is_held_to_csrf_on_the_api(
    registry: Registry, browser_like: httpx.AsyncClient, make_holder: Any, make_staff: Any
) -> None:
    holder: HolderAccount = await make_holder()
    await page_login(browser_like, "/app/login", id_number=holder.id_number, password=holder.password)
    csrf = csrf_of((await browser_like.get("/app")).text)
    url, body = "/api/v1/me/share-codes", {"license_types": ["resident_id_card"]}
    assert (await browser_like.get(HOLDER_PROBE)).status_code == 200  # a read needs no CSRF token
    assert_problem(await browser_like.post(url, json=body), 403, "csrf_failed")
    assert_problem(await browser_like.post(url, json=body, headers={"X-CSRF-Token": "guess"}), 403, "csrf_failed")
    hostile = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    assert_problem(await browser_like.post(url, json=body, headers=hostile), 403, "csrf_failed")
    assert (await browser_like.post(url, json=body, headers={"X-CSRF-Token": csrf})).status_code == 201
    # The holder's session opens no organisation endpoint.
    assert_problem(await browser_like.get(ISSUER_PROBE), 403, "forbidden")
    assert_problem(await browser_like.get(AGENCY_PROBE), 403, "forbidden")
    # A staff session opens no holder endpoint.
    staff = await make_staff("issuer")
    async with httpx.AsyncClient(
        transport=browser_like._transport, base_url=BASE_URL, headers={"Origin": BASE_URL}
    ) as clerk:
        await page_login(clerk, "/login", username=staff.username, password=staff.password)
        assert_problem(await clerk.get(HOLDER_PROBE), 403, "forbidden")


async def test_a_session_and_a_bearer_token_are_not_interchangeable(
    registry: Registry, client: httpx.AsyncClient, browser_like: httpx.AsyncClient, make_holder: Any, issuer: Org
) -> None:
    holder: HolderAccount = await make_holder()
    await page_login(browser_like, "/app/login", id_number=holder.id_number, password=holder.password)
    cookie_name = "registry_session"
    session_token = browser_like.cookies[cookie_name]
    # A page session's token presented as a Bearer token is no JWT.
    await refused(client, session_token, "not_authenticated", HOLDER_PROBE)
    # A Bearer token carried in the session cookie names no session.
    async with httpx.AsyncClient(transport=browser_like._transport, base_url=BASE_URL) as other:
        other.cookies.set(cookie_name, holder.token)
        assert_problem(await other.get(HOLDER_PROBE), 401, "session_expired")
        # And the pages want a session, not a Bearer token: no page opens, no session is made.
        for path, login in (("/app", "/app/login"), ("/console", "/login")):
            other.cookies.clear()
            who = holder if path == "/app" else issuer
            resp = await other.get(path, headers=who.auth)
            assert resp.status_code == 303 and resp.headers["location"].startswith(login), path
    async with registry.db.read() as session:
        rows = (await session.exec(select(WebSession).where(col(WebSession.subject) == issuer.code))).all()
    assert rows == []


# --- login throttling -------------------------------------------------------------------------------------------


async def test_the_holder_login_api_is_throttled_per_address(registry: Registry, client: httpx.AsyncClient) -> None:
    """Per client address, whoever it tries (the per-account lock-out is in test_sharing)."""
    saved = registry.login_limiter
    registry.login_limiter = RateLimiter(3, saved.what)
    try:
        url = "/api/v1/auth/holder-token"
        for _ in range(3):
            resp = await client.post(url, json={"id_number": new_resident_id(), "password": "whatever-1"})
            assert_problem(resp, 401, "not_authenticated")
        resp = await client.post(url, json={"id_number": new_resident_id(), "password": "whatever-1"})
        problem = assert_problem(resp, 429, "rate_limited")
        assert 1 <= int(resp.headers["retry-after"]) <= 60
        assert problem["retry_after"] == int(resp.headers["retry-after"])
    finally:
        registry.login_limiter = saved


@pytest.mark.parametrize(("path", "field"), [("/login", "username"), ("/app/login", "id_number")])
async def test_the_page_login_throttle_says_when_to_retry(
    registry: Registry, browser_like: httpx.AsyncClient, path: str, field: str
) -> None:
    saved = registry.login_limiter
    registry.login_limiter = RateLimiter(2, saved.what)
    try:
        codes = []
        for _ in range(3):
            resp = await page_login(browser_like, path, **{field: "nobody-at-all", "password": "whatever-1"})
            codes.append(resp.status_code)
        assert codes == [401, 401, 429]
        assert 1 <= int(resp.headers["retry-after"]) <= 60
    finally:
        registry.login_limiter = saved
