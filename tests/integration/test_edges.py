"""The HTTP edges: security headers and the pages' CSP on every kind of response, the CORS policy (public
endpoints open to every origin without credentials, everything else closed unless configured), the per-client
limits on the public endpoints, and the body caps (announced or chunked) — each refused as a problem document,
with nothing written."""

from __future__ import annotations

import gc
import io
import os
import re
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from registry.app import create_app
from registry.context import Registry
from registry.http.headers import PAGE_CSP
from registry.settings import MIB, Settings, parse_origins
from registry.web import TEMPLATES_DIR
from tests.conftest import BASE_URL, HolderAccount, Org
from tests.integration.test_bad_input import assert_problem, licences_of
from tests.integration.test_issuance import example_body, issue

pytestmark = pytest.mark.integration
REGISTRY = str(Path(sys.executable).parent / "registry")
EVIL = "https://evil.example"
PARTNER = "https://partner.example"


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(resp: httpx.Response) -> None:
    h = resp.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-frame-options"] == "DENY"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert "camera=(self)" in h["permissions-policy"] and "microphone=()" in h["permissions-policy"]
    assert "strict-transport-security" not in h  # the test server's base URL is plain http
    policies = h.get_list("content-security-policy")
    assert len(policies) == 1, policies  # one policy: two would be intersected by browsers
    assert csp_directives(policies[0])["frame-ancestors"] == ["'none'"]


def assert_no_cors(resp: httpx.Response) -> None:
    assert not [k for k in resp.headers if k.startswith("access-control-")], dict(resp.headers)


def assert_public_cors(resp: httpx.Response) -> None:
    assert resp.headers["access-control-allow-origin"] == "*"
    # A wildcard never goes with credentials: a browser refuses a credentialed (cookie) read of this answer.
    assert "access-control-allow-credentials" not in resp.headers


def preflight(method: str, origin: str = EVIL, headers: str = "content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def issued_to(client: httpx.AsyncClient, registry: Registry, issuer: Org, holder: HolderAccount) -> Any:
    body = example_body(registry, "driving_license")
    body["holder"] |= {"id_number": holder.id_number, "name": holder.name}
    body["fields"]["licence_number"] = holder.id_number  # a driving licence's number is the holder's ID number
    resp = await issue(client, issuer, body)
    assert resp.status_code == 201, resp.text
    return resp.json()


@asynccontextmanager
async def app_with(registry: Registry, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app over the same database with other settings (lower limits, CORS origins, an https base URL)."""
    reg = Registry(
        replace(registry.settings, **changes), registry.db, registry.master_key, registry.key_provider, registry.catalog
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(registry=reg)), base_url=BASE_URL
        ) as c:
            yield c
    finally:
        await reg.caches.stop()
        await reg.tally.flush()


# --- security headers -------------------------------------------------------------------------------------------


async def test_a_page_has_the_headers_and_a_csp_without_inline_script(client: httpx.AsyncClient) -> None:
    resp = await client.get("/verify")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert_security_headers(resp)
    csp = csp_directives(resp.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["connect-src"] == ["'self'"]
    assert set(csp["img-src"]) == {"'self'", "data:", "blob:"}
    assert resp.headers["cache-control"] == "no-store"
    assert_no_cors(resp)
    # The login page too (its form posts to us; a same-origin Referrer-Policy keeps Origin on that post).
    login = await client.get("/login")
    assert_security_headers(login)
    assert login.headers["content-security-policy"] == PAGE_CSP


def test_no_template_has_inline_script_style_or_handlers() -> None:
    """The CSP allows scripts and styles from files only: a template that grows an inline one breaks in browsers."""
    bad = re.compile(r"\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:", re.IGNORECASE)
    script = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
    templates = list(TEMPLATES_DIR.rglob("*.html"))
    assert len(templates) > 10
    for path in templates:
        text = path.read_text(encoding="utf-8")
        assert not bad.search(text), (path, bad.search(text))
        for attrs in script.findall(text):
            # Either a file (src=) or JSON data, which browsers neither run nor hold against the CSP.
            assert "src=" in attrs or 'type="application/json"' in attrs, (path, attrs)


async def test_api_answers_errors_and_404s_have_the_headers(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_holder: Any
) -> None:
    holder = await make_holder()
    lic = await issued_to(client, registry, issuer, holder)
    # Personal data: the holder's licences, a licence read by its issuer, a case; never stored by a cache.
    for resp in (
        await client.get("/api/v1/me/licenses", headers=holder.auth),
        await client.get(f"/api/v1/licenses/{lic['identifier']}", headers=issuer.auth),
        await client.get("/api/v1/cases/no-such-case", headers=issuer.auth),  # a problem, still no-store
    ):
        assert_security_headers(resp)
        assert resp.headers["cache-control"] == "no-store", (resp.request.url, resp.headers)
        assert csp_directives(resp.headers["content-security-policy"])["default-src"] == ["'none'"]
    # A handler's own Cache-Control stands: the QR image's private caching, the trust list's public one.
    qr = await client.get(f"/api/v1/licenses/{lic['identifier']}/qr.png", headers=issuer.auth)
    assert qr.status_code == 200 and qr.headers["cache-control"] == "private, max-age=300"
    assert_security_headers(qr)
    trust = await client.get("/api/v1/trust-list")
    assert trust.status_code == 200 and trust.headers["cache-control"].startswith("public, max-age=")
    assert_security_headers(trust)
    # An error from a handler, and a 404 from the router (no handler at all).
    unauthenticated = await client.get("/api/v1/me/licenses")
    assert_problem(unauthenticated, 401, "not_authenticated")
    assert_security_headers(unauthenticated)
    missing = await client.get("/no/such/path")
    assert_problem(missing, 404, "not_found")
    assert_security_headers(missing)
    assert_no_cors(missing)


async def test_the_api_docs_pages_get_a_policy_of_their_own(client: httpx.AsyncClient) -> None:
    """Litestar's documentation viewers are third-party pages (CDN scripts, an inline start-up call): they get a
    policy that names exactly the hosts they load from and lets them talk to this origin only."""
    for path in ("/schema", "/schema/swagger", "/schema/elements", "/schema/rapidoc"):
        resp = await client.get(path)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        assert_security_headers(resp)
        csp = csp_directives(resp.headers["content-security-policy"])
        assert csp["default-src"] == ["'none'"] and csp["connect-src"] == ["'self'"]
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
        sources = re.findall(r"<script[^>]*\ssrc=[\"']([^\"']+)", resp.text)
        assert sources, path
        for src in sources:
            origin = "/".join(src.split("/")[:3])
            assert origin in csp["script-src"], (path, src)
    schema = await client.get("/schema/openapi.json")
    assert csp_directives(schema.headers["content-security-policy"])["default-src"] == ["'none'"]


async def test_hsts_only_behind_https(registry: Registry) -> None:
    async with app_with(registry, base_url="https://licences.example.gov.cn") as c:
        resp = await c.get("/no/such/path")
        assert resp.headers["strict-transport-security"] == "max-age=31536000"
    async with app_with(registry) as c:
        assert "strict-transport-security" not in (await c.get("/no/such/path")).headers


# --- CORS -------------------------------------------------------------------------------------------------------


async def test_public_endpoints_allow_any_origin_without_credentials(
    client: httpx.AsyncClient, registry: Registry, issuer: Org
) -> None:
    lic = (await issue(client, issuer, example_body(registry, "driving_license"))).json()
    status_list = lic["credential"]["credentialStatus"][0]["statusListCredential"].replace(BASE_URL, "")
    reads = [
        "/api/v1/trust-list",
        status_list,
        status_list.replace("/status-lists/", "/api/v1/status-lists/"),
        f"/departments/{issuer.code}/did.json",
        "/api/v1/log/checkpoint",
        f"/api/v1/licenses/{lic['identifier']}/log-proof",
    ]
    for path in reads:
        # A cookie sent along (a credentialed fetch) changes nothing: still the wildcard, never credentials.
        resp = await client.get(path, headers={"Origin": EVIL, "Cookie": "__Host-registry_session=x"})
        assert resp.status_code == 200, (path, resp.text)
        assert_public_cors(resp)
        pre = await client.options(path, headers=preflight("GET"))
        assert pre.status_code == 204, (path, pre.text)
        assert_public_cors(pre)
        assert pre.headers["access-control-allow-methods"] == "GET, HEAD"
        # Only reads: a preflight for a write to the same path gets no grant.
        assert_no_cors(await client.options(path, headers=preflight("DELETE")))
    scan = await client.post("/api/v1/verifications", json={"payload": lic["qr_payload"]}, headers={"Origin": EVIL})
    assert scan.status_code == 200 and scan.json()["verdict"] == "valid"
    assert_public_cors(scan)
    assert scan.headers["access-control-expose-headers"] == "Retry-After, ETag"
    pre = await client.options("/api/v1/verifications", headers=preflight("POST"))
    assert_public_cors(pre)
    assert pre.headers["access-control-allow-methods"] == "POST"
    assert pre.headers["access-control-allow-headers"] == "Content-Type"  # no Authorization: nothing to log in to
    assert int(pre.headers["access-control-max-age"]) > 0


async def test_authenticated_endpoints_and_pages_send_no_cors(
    client: httpx.AsyncClient, issuer: Org, make_holder: Any
) -> None:
    holder = await make_holder()
    mine = await client.get("/api/v1/me/licenses", headers={**holder.auth, "Origin": EVIL})
    assert mine.status_code == 200  # answered (a bearer token is no ambient credential) but unreadable cross-origin
    assert_no_cors(mine)
    for method, path in (
        ("GET", "/api/v1/me/licenses"),
        ("POST", "/api/v1/licenses"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/cases"),
        ("GET", "/api/v1/stats"),
    ):
        pre = await client.options(path, headers=preflight(method, headers="authorization, content-type"))
        assert_no_cors(pre)
    assert_no_cors(await client.get("/verify", headers={"Origin": EVIL}))
    token = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": issuer.client_id, "client_secret": issuer.client_secret},
        headers={"Origin": EVIL},
    )
    assert token.status_code == 200 and token.headers["cache-control"] == "no-store"  # RFC 6749 §5.1
    assert_no_cors(token)


async def test_configured_origins_may_call_the_api_with_a_token_never_with_cookies(
    registry: Registry, issuer: Org
) -> None:
    async with app_with(registry, cors_origins=(PARTNER,)) as c:
        pre = await c.options("/api/v1/licenses", headers=preflight("POST", PARTNER, "authorization, idempotency-key"))
        assert pre.headers["access-control-allow-origin"] == PARTNER
        assert "POST" in pre.headers["access-control-allow-methods"]
        allowed = {h.strip().lower() for h in pre.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "idempotency-key"} <= allowed
        assert "access-control-allow-credentials" not in pre.headers
        assert "Origin" in pre.headers.get_list("vary")
        read = await c.get("/api/v1/license-types", headers={"Origin": PARTNER, **issuer.auth})
        assert read.headers["access-control-allow-origin"] == PARTNER
        assert "access-control-allow-credentials" not in read.headers
        # Another origin gets nothing; nor do the pages, even for the partner.
        other = await c.options("/api/v1/licenses", headers=preflight("POST", EVIL, "authorization"))
        assert_no_cors(other)
        assert "Origin" in other.headers.get_list("vary")  # caches keep the two answers apart
        assert_no_cors(await c.get("/login", headers={"Origin": PARTNER}))
        # The public endpoints stay open to all, the partner included.
        assert_public_cors(await c.get("/api/v1/trust-list", headers={"Origin": PARTNER}))


def test_cors_origins_setting() -> None:
    assert parse_origins("") == ()
    assert parse_origins(" https://A.example , http://b.example:8443/ ") == (
        "https://a.example",
        "http://b.example:8443",
    )
    for bad in ("*", "https://*.example", "https://a.example/path", "a.example", "ftp://a.example"):
        with pytest.raises(ValueError, match="REGISTRY_CORS_ORIGINS"):
            parse_origins(bad)
    env = {"REGISTRY_DATA_DIR": "/tmp/x", "REGISTRY_CORS_ORIGINS": "https://a.example,https://b.example"}
    assert Settings.from_env(env).cors_origins == ("https://a.example", "https://b.example")


# --- rate limits --------------------------------------------------------------------------------------------------


def assert_limited(resp: httpx.Response) -> None:
    problem = assert_problem(resp, 429, "rate_limited")
    assert int(resp.headers["retry-after"]) >= 1 and problem["retry_after"] >= 1
    assert_security_headers(resp)


async def test_client_credentials_and_holder_tokens_share_the_login_limit(
    registry: Registry, issuer: Org, make_holder: Any
) -> None:
    holder = await make_holder()
    form = {"grant_type": "client_credentials", "client_id": issuer.client_id, "client_secret": issuer.client_secret}
    async with app_with(registry, login_rate_per_minute=3) as c:
        assert (await c.post("/api/v1/auth/token", data=form)).status_code == 200
        wrong = await c.post("/api/v1/auth/token", data=form | {"client_secret": "guess"})
        assert_problem(wrong, 401, "invalid_client")  # a wrong guess costs a token too
        login = {"id_number": holder.id_number, "password": holder.password}
        assert (await c.post("/api/v1/auth/holder-token", json=login)).status_code == 200
        assert_limited(await c.post("/api/v1/auth/token", data=form))
        assert_limited(await c.post("/api/v1/auth/holder-token", json=login))
        assert "登录请求过于频繁" in (await c.post("/api/v1/auth/token", data=form)).json()["detail"]


async def test_public_reads_have_a_limit_per_client(registry: Registry, issuer: Org) -> None:
    async with app_with(registry, public_read_rate_per_minute=3) as c:
        for path in ("/api/v1/trust-list", f"/departments/{issuer.code}/did.json", "/api/v1/log/checkpoint"):
            assert (await c.get(path)).status_code == 200, path
        for path in ("/api/v1/trust-list", "/api/v1/log/entries?start=0&end=1", "/status-lists/anything"):
            limited = await c.get(path, headers={"Origin": EVIL})
            assert_limited(limited)
            assert_public_cors(limited)  # a browser verifier elsewhere can read the 429 and its Retry-After
            assert "公开数据读取过于频繁" in limited.json()["detail"]
        # Other reads are not in that bucket.
        assert (await c.get("/api/v1/license-types")).status_code == 200


def png_of_size(size: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (64, 64), 255).save(out, format="PNG")
    return out.getvalue() + b"\0" * max(0, size - len(out.getvalue()))  # trailing bytes: still a readable PNG


async def test_photo_verifications_have_their_own_limit_checked_before_the_upload_is_read(
    registry: Registry,
) -> None:
    async with app_with(registry, verify_image_rate_per_minute=2) as c:
        for _ in range(2):
            resp = await c.post("/api/v1/verifications/image", files={"file": ("a.png", png_of_size(0), "image/png")})
            assert resp.status_code == 200 and resp.json()["verdict"] == "malformed"
        # Over the limit: 429 even for an upload past the cap, so the limit is taken before the body is read.
        huge = png_of_size(11 * MIB)
        assert_limited(await c.post("/api/v1/verifications/image", files={"file": ("a.png", huge, "image/png")}))
        # Scans of text are another bucket and still go through.
        assert (await c.post("/api/v1/verifications", json={"payload": "LC1:x"})).status_code == 200


# --- body caps ----------------------------------------------------------------------------------------------------


async def chunks(total: int, size: int = 64 * 1024, head: bytes = b"", tail: bytes = b"") -> AsyncIterator[bytes]:
    """A streamed body (Transfer-Encoding: chunked, no Content-Length) of about ``total`` bytes."""
    yield head
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield tail


async def test_bodies_over_the_cap_are_413_announced_or_chunked_and_nothing_is_written(
    client: httpx.AsyncClient, registry: Registry, make_org: Any
) -> None:
    issuer = await make_org("issuer")
    headers = {**issuer.auth, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    cap = registry.settings.max_body_bytes
    streamed = chunks(cap + 1, head=b'{"type": "driving_license", "x": "', tail=b'"}')
    resp = await client.post("/api/v1/licenses", content=streamed, headers=headers)
    assert "content-length" not in resp.request.headers and resp.request.headers["transfer-encoding"] == "chunked"
    assert_problem(resp, 413, "body_too_large")
    assert_security_headers(resp)
    # The same key now issues normally: the refused request left no idempotency record behind either.
    ok = await issue(client, issuer, example_body(registry, "driving_license"), key=headers["Idempotency-Key"])
    assert ok.status_code == 201, ok.text
    assert await licences_of(registry, issuer) == 1
    # A form (the token endpoint reads one) over the cap, announced and streamed.
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b"grant_type=client_credentials&pad=" + b"a" * cap
    assert_problem(await client.post("/api/v1/auth/token", content=body, headers=form_type), 413, "body_too_large")
    streamed = chunks(cap, head=b"grant_type=client_credentials&pad=")
    assert_problem(await client.post("/api/v1/auth/token", content=streamed, headers=form_type), 413, "body_too_large")


# Litestar 2.25 closes a half-written upload when the multipart parser fails, not when the body stream itself is
# refused past the cap (RequestEntityTooLarge from Request.stream): the temporary file is closed and removed only
# when the refused request's frames are collected. That collection is what these filters let pass, and only it.
@pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <(function SpooledTemporaryFile.__del__|_io.FileIO):"
    "pytest.PytestUnraisableExceptionWarning"
)
async def test_uploads_keep_their_higher_caps_and_are_capped_when_chunked(
    client: httpx.AsyncClient, registry: Registry, make_org: Any
) -> None:
    url = "/api/v1/verifications/image"
    # Past the global 1 MiB and under the image's 10 MiB: read and verified.
    resp = await client.post(url, files={"file": ("photo.png", png_of_size(3 * MIB), "image/png")})
    assert resp.status_code == 200 and resp.json()["verdict"] == "malformed", resp.text
    assert_problem(
        await client.post(url, files={"file": ("photo.png", png_of_size(10 * MIB + 1), "image/png")}),
        413,
        "body_too_large",
    )
    boundary = "edge-boundary"
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    streamed = chunks(10 * MIB + 1, head=part, tail=f"\r\n--{boundary}--\r\n".encode())
    assert_problem(await client.post(url, content=streamed, headers=multipart), 413, "body_too_large")
    # The batch CSV: 20 MiB, streamed one byte past it → refused, and no job exists.
    issuer = await make_org("issuer")
    csv_part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nsocial_security_card\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    streamed = chunks(20 * MIB + 1, head=csv_part, tail=f"\r\n--{boundary}--\r\n".encode())
    resp = await client.post("/api/v1/batches", content=streamed, headers={**multipart, **issuer.auth})
    assert_problem(resp, 413, "body_too_large")
    assert (await client.get("/api/v1/batches", headers=issuer.auth)).json() == []
    assert await licences_of(registry, issuer) == 0
    gc.collect()  # the refused uploads' temporary files go now, under this test's filter, not in a later test


# --- over a real socket -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: Settings, tmp: Path) -> Iterator[int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_DATA_DIR=str(tmp / "var"),
        REGISTRY_BASE_URL=f"http://127.0.0.1:{port}",
        REGISTRY_MASTER_KEY_FILE=str(settings.master_key_file),
    )
    if os.environ.get("REGISTRY_TEST_DATABASE_URL"):
        env["REGISTRY_DATABASE_URL"] = os.environ["REGISTRY_TEST_DATABASE_URL"]
    proc = subprocess.Popen(
        [REGISTRY, "serve", "--port", str(port)], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_an_endless_chunked_upload_gets_413_at_once_from_a_real_server(settings: Settings, tmp_path: Path) -> None:
    """uvicorn passes a chunked body through as it arrives: the app refuses it past the cap and does not wait
    for the end (a client that never stops would otherwise hold a worker)."""
    with serving(settings, tmp_path) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        sock.sendall(
            b"POST /api/v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
        sent, started = 0, time.monotonic()
        try:
            while sent < 256 * MIB and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += 0x10000
        except OSError:
            pass  # the server may close its end once it has answered
        answer = b""
        while b"body_too_large" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"application/problem+json" in answer and b"body_too_large" in answer
        assert b"x-content-type-options: nosniff" in answer.lower()
        assert sent < 64 * MIB and time.monotonic() - started < 10, (sent, time.monotonic() - started)
