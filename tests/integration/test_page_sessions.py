"""Staff accounts and page sessions: login pages, the session cookie, CSRF on every change made with it,
logout, expiry, throttling, and the API accepting the session in place of a Bearer token."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select

from registry import errors
from registry.auth import sessions
from registry.context import Registry
from registry.http.ratelimit import RateLimiter
from registry.licence_types import default_catalog
from registry.models import LicenseEvent, StaffUser, WebSession
from registry.staff.service import authenticate, create_user
from tests.conftest import BASE_URL, csrf_of, page_login

pytestmark = pytest.mark.integration

COOKIE = "registry_session"  # plain HTTP in tests; __Host-registry_session behind HTTPS


def licence_body(license_type: str = "driving_license") -> dict[str, object]:
    lt = default_catalog().get(license_type)
    h = lt.example_holder
    return {
        "type": license_type,
        "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
        "fields": lt.example_fields(),
    }


async def test_staff_login_sets_a_strict_session_cookie(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    page = await browser_like.get("/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]

    resp = await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/console"
    cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # ends with the browser


async def test_agency_staff_land_on_the_window(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("agency")
    resp = await page_login(browser_like, "/login", username=staff.username.upper(), password=staff.password)
    assert resp.status_code == 303 and resp.headers["location"] == "/window"


async def test_login_returns_to_a_local_page_only(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    resp = await page_login(
        browser_like, "/login", username=staff.username, password=staff.password, next="/console?tab=find"
    )
    assert resp.headers["location"] == "/console?tab=find"
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        await browser_like.post("/logout", data={"_csrf": "x"})
        browser_like.cookies.clear()
        resp = await page_login(browser_like, "/login", username=staff.username, password=staff.password, next=hostile)
        assert resp.headers["location"] == "/console", hostile


async def test_wrong_password_shows_the_form_again_with_a_message(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    resp = await page_login(browser_like, "/login", username=staff.username, password="wrong-password")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.text and 'role="alert"' in resp.text
    assert f'value="{staff.username}"' in resp.text  # the username is kept, the password is not
    assert COOKIE not in browser_like.cookies
    english = await browser_like.get("/login?lang=en")
    token = re.search(r'name="_csrf" value="([^"]+)"', english.text)
    assert token is not None
    resp = await browser_like.post(
        "/login?lang=en", data={"_csrf": token.group(1), "username": staff.username, "password": "nope-nope"}
    )
    assert "Wrong username or password" in resp.text and "用户名或密码错误" not in resp.text


async def test_login_without_the_form_token_is_refused(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    await browser_like.get("/login")
    resp = await browser_like.post("/login", data={"username": staff.username, "password": staff.password})
    assert resp.status_code == 403 and COOKIE not in browser_like.cookies
    resp = await browser_like.post(
        "/login", data={"_csrf": "forged", "username": staff.username, "password": staff.password}
    )
    assert resp.status_code == 403 and COOKIE not in browser_like.cookies


async def test_login_from_another_site_is_refused(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    page = await browser_like.get("/login")
    token = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert token is not None
    resp = await browser_like.post(
        "/login",
        data={"_csrf": token.group(1), "username": staff.username, "password": staff.password},
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status_code == 403 and COOKIE not in browser_like.cookies


async def test_repeated_failures_lock_the_account(registry: Registry, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    for _ in range(5):
        with pytest.raises(errors.NotAuthenticated):
            await authenticate(registry, staff.username, "wrong-password")
    with pytest.raises(errors.RateLimited) as locked:
        await authenticate(registry, staff.username, staff.password)  # even the right password waits
    assert 25 <= locked.value.extra["retry_after"] <= 31
    async with registry.db.read() as session:
        row = await session.get(StaffUser, staff.username)
    assert row is not None and row.failed_logins == 5


async def test_a_disabled_account_cannot_log_in(registry: Registry, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    async with registry.db.transaction() as session:
        row = await session.get(StaffUser, staff.username)
        assert row is not None
        row.disabled_at = datetime.now(UTC)
        session.add(row)
    with pytest.raises(errors.NotAuthenticated):
        await authenticate(registry, staff.username, staff.password)


async def test_create_user_checks_its_input(registry: Registry, make_org) -> None:  # type: ignore[no-untyped-def]
    org = await make_org("agency")
    with pytest.raises(errors.ValidationFailed):
        await create_user(registry, org_code=org.code, username="a b", password="Long-enough-1")
    with pytest.raises(errors.ValidationFailed):
        await create_user(registry, org_code=org.code, username="shortpw", password="short")
    with pytest.raises(errors.OrganisationNotFound):
        await create_user(registry, org_code="91440300MA5FXXXXXX", username="nobody-here", password="Long-enough-1")
    name = f"dup-{uuid.uuid4().hex[:8]}"
    await create_user(registry, org_code=org.code, username=name, password="Long-enough-1")
    with pytest.raises(errors.Conflict):
        await create_user(registry, org_code=org.code, username=name.upper(), password="Long-enough-1")


async def test_the_api_accepts_the_session_and_changes_need_the_csrf_token(
    registry: Registry,
    browser_like: httpx.AsyncClient,
    make_staff,  # type: ignore[no-untyped-def]
) -> None:
    staff = await make_staff("issuer", ["driving_license"])
    await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    # A read needs no token.
    assert (await browser_like.get("/api/v1/license-types/driving_license")).status_code == 200
    body = licence_body()

    # A change without the CSRF token, or with another one, is refused and writes nothing.
    resp = await browser_like.post("/api/v1/licenses", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert resp.status_code == 403 and resp.json()["code"] == "csrf_failed"
    resp = await browser_like.post(
        "/api/v1/licenses", json=body, headers={"Idempotency-Key": str(uuid.uuid4()), "X-CSRF-Token": "guess"}
    )
    assert resp.status_code == 403 and resp.json()["code"] == "csrf_failed"

    async with registry.db.read() as session:
        row = (await session.exec(select(WebSession).where(col(WebSession.username) == staff.username))).one()
    token = row.csrf_token
    # The right token from another site is refused too.
    resp = await browser_like.post(
        "/api/v1/licenses",
        json=body,
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert resp.status_code == 403

    resp = await browser_like.post(
        "/api/v1/licenses", json=body, headers={"Idempotency-Key": str(uuid.uuid4()), "X-CSRF-Token": token}
    )
    assert resp.status_code == 201, resp.text
    identifier = resp.json()["identifier"]
    # The history names the staff member, not just the department.
    async with registry.db.read() as session:
        event = (await session.exec(select(LicenseEvent).where(col(LicenseEvent.identifier) == identifier))).one()
    assert event.actor == f"{staff.org.code}/{staff.username}"


async def test_a_bearer_token_still_wins_over_a_cookie(browser_like: httpx.AsyncClient, make_staff, issuer) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("agency")
    await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    # With a Bearer header the cookie is ignored (and no CSRF token is asked for).
    resp = await browser_like.post(
        "/api/v1/licenses", json=licence_body(), headers={**issuer.auth, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert resp.status_code == 201
    # With the agency clerk's session, issuing is forbidden by scope.
    page = await browser_like.get("/window")
    resp = await browser_like.post(
        "/api/v1/licenses",
        json=licence_body(),
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-CSRF-Token": csrf_of(page.text)},
    )
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"


async def test_logout_ends_the_session_on_the_server(
    registry: Registry,
    browser_like: httpx.AsyncClient,
    make_staff,  # type: ignore[no-untyped-def]
) -> None:
    staff = await make_staff("issuer")
    await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    stolen = browser_like.cookies[COOKIE]
    page = await browser_like.get("/console")
    assert page.status_code == 200
    # A forged logout (no token) keeps the session.
    resp = await browser_like.post("/logout", data={"_csrf": "forged"})
    assert resp.status_code == 403
    resp = await browser_like.post("/logout", data={"_csrf": csrf_of(page.text)})
    assert resp.status_code == 303 and resp.headers["location"] == "/login?bye=1"
    assert COOKIE not in browser_like.cookies
    # The old cookie, replayed, is dead.
    async with httpx.AsyncClient(transport=browser_like._transport, base_url=BASE_URL) as other:
        other.cookies.set(COOKIE, stolen)
        resp = await other.get("/api/v1/licenses/x")
        assert resp.status_code == 401 and resp.json()["code"] == "session_expired"
        resp = await other.get("/console")
        assert resp.status_code == 303 and "expired=1" in resp.headers["location"]
    async with registry.db.read() as session:
        left = (await session.exec(select(WebSession).where(col(WebSession.username) == staff.username))).all()
    assert left == []


async def test_an_idle_session_expires(registry: Registry, browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer")
    await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    async with registry.db.transaction() as session:
        row = (await session.exec(select(WebSession).where(col(WebSession.username) == staff.username))).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
    resp = await browser_like.get("/console?tab=find")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2Fconsole%3Ftab%3Dfind&expired=1"
    page = await browser_like.get(resp.headers["location"])
    assert "登录已过期" in page.text


async def test_a_session_cannot_outlive_its_absolute_limit(
    registry: Registry,
    browser_like: httpx.AsyncClient,
    make_staff,  # type: ignore[no-untyped-def]
) -> None:
    staff = await make_staff("issuer")
    await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    async with registry.db.transaction() as session:
        row = (await session.exec(select(WebSession).where(col(WebSession.username) == staff.username))).one()
        row.created_at = datetime.now(UTC) - sessions.ABSOLUTE["staff"] - timedelta(seconds=1)
        session.add(row)
    assert (await browser_like.get("/console")).status_code == 303


async def test_holders_log_in_with_their_id_number(browser_like: httpx.AsyncClient, make_holder) -> None:  # type: ignore[no-untyped-def]
    holder = await make_holder()
    page = await browser_like.get("/app/login")
    assert 'name="id_number"' in page.text
    resp = await page_login(browser_like, "/app/login", id_number=holder.id_number.lower(), password=holder.password)
    assert resp.status_code == 303 and resp.headers["location"] == "/app"
    mine = await browser_like.get("/api/v1/me/licenses")
    assert mine.status_code == 200
    # A holder's session opens no staff page.
    assert (await browser_like.get("/console")).status_code == 403
    assert (await browser_like.get("/window")).status_code == 403


async def test_staff_cannot_use_the_other_audiences_pages(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("agency")
    await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    resp = await browser_like.get("/console")
    assert resp.status_code == 403 and 'href="/window"' in resp.text
    assert (await browser_like.get("/app")).status_code == 403  # the citizen app is for holders


async def test_pages_without_a_session_send_you_to_log_in(browser_like: httpx.AsyncClient) -> None:
    for path, login in (("/console", "/login"), ("/window", "/login"), ("/app", "/app/login")):
        resp = await browser_like.get(path)
        assert resp.status_code == 303, path
        assert resp.headers["location"].startswith(f"{login}?next="), path


async def test_a_garbage_cookie_is_an_expired_session(browser_like: httpx.AsyncClient) -> None:
    browser_like.cookies.set(COOKIE, "x" * 500)
    resp = await browser_like.get("/api/v1/me/licenses")
    assert resp.status_code == 401 and resp.json()["code"] == "session_expired"
    browser_like.cookies.set(COOKIE, "not-a-session")
    resp = await browser_like.get("/api/v1/me/licenses")
    assert resp.status_code == 401


async def test_the_login_throttle_answers_429(registry: Registry, browser_like: httpx.AsyncClient) -> None:
    # A small bucket, so the test does not depend on how fast this machine hashes passwords.
    saved = registry.login_limiter
    registry.login_limiter = RateLimiter(3, saved.what)
    try:
        codes = []
        for _ in range(5):
            resp = await page_login(browser_like, "/login", username="nobody-at-all", password="whatever-1")
            codes.append(resp.status_code)
        assert codes == [401, 401, 401, 429, 429]
        assert "登录请求过于频繁" in resp.text
    finally:
        registry.login_limiter = saved
