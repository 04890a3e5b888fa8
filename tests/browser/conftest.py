"""Browser tests: a real ``registry serve`` and Debian's chromium driven by Playwright (sync API).

Playwright's own browser downloads are not used: the tests launch ``/usr/bin/chromium`` (``apt-get install
chromium``). One server and one browser serve the whole session; each test gets a fresh page whose console
errors and uncaught exceptions fail the test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.licence_types import default_catalog
from registry.settings import Settings
from tests.conftest import REPO
from tests.factories import new_uscc

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
REGISTRY = str(Path(sys.executable).parent / "registry")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that drive the browser need Debian's chromium: skipped without it, except in CI, where
    ``REGISTRY_REQUIRE_BROWSER`` (set by .ci/run) makes a missing browser a failure."""
    if CHROMIUM.exists():
        return
    needing = [item for item in items if "browser" in getattr(item, "fixturenames", ())]
    if needing and os.environ.get("REGISTRY_REQUIRE_BROWSER"):
        raise pytest.UsageError(f"{CHROMIUM} is required for the browser tests (apt-get install chromium)")
    for item in needing:
        item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    cwd: Path
    issuer: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REGISTRY, *args], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=120
        )

    def token(self) -> dict[str, str]:
        resp = httpx.post(
            f"{self.url}/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.issuer["client_id"],
                "client_secret": self.issuer["client_secret"],
            },
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def issue(self, license_type: str = "driving_license") -> dict[str, Any]:
        lt = default_catalog().get(license_type)
        h = lt.example_holder
        body = {
            "type": license_type,
            "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
            "fields": lt.example_fields(),
        }
        headers = {**self.token(), "Idempotency-Key": str(uuid.uuid4())}
        resp = httpx.post(f"{self.url}/api/v1/licenses", json=body, headers=headers)
        assert resp.status_code == 201, resp.text
        out: dict[str, Any] = resp.json()
        return out


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[LiveServer]:
    """``registry serve`` in a subprocess, like tests/integration/test_servers.py, with one issuer in it."""
    tmp = tmp_path_factory.mktemp("browser-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    # One master key per database: on PostgreSQL the server shares the test database, so it shares the key.
    env.update(
        REGISTRY_DATA_DIR=str(tmp / "var"),
        REGISTRY_BASE_URL=url,
        REGISTRY_MASTER_KEY_FILE=str(settings.master_key_file),
    )
    if os.environ.get("REGISTRY_TEST_DATABASE_URL"):
        env["REGISTRY_DATABASE_URL"] = os.environ["REGISTRY_TEST_DATABASE_URL"]
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([REGISTRY, "serve", "--port", str(port)], cwd=tmp, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, f"server exited: {(tmp / 'server.log').read_text()[-2000:]}"
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        server = LiveServer(url=url, env=env, cwd=tmp)
        out = server.cli(
            "admin",
            "create-org",
            "--code",
            new_uscc(),
            "--name",
            "深圳市公安局交通警察局",
            "--role",
            "issuer",
            "--license-types",
            "driving_license,resident_id_card",
            "--json",
        )
        assert out.returncode == 0, out.stderr
        server.issuer = json.loads(out.stdout)
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def licence(live_server: LiveServer) -> dict[str, Any]:
    """One driving licence issued through the API: ``identifier``, ``qr_payload``, ``credential``…"""
    return live_server.issue("driving_license")


@pytest.fixture(scope="module")
def browser(live_server: LiveServer) -> Iterator[Any]:
    """Chromium for one module. Playwright's sync API keeps an asyncio loop current in this thread while it
    runs, so everything that calls ``asyncio.run`` (the session's migrations, via ``live_server``) is set up
    first, and the browser is gone before the next module's async tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions seen on a page."""

    messages: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """Forget the errors the test provoked on purpose (the browser logs a failed request as an error)."""
        self.messages = [m for m in self.messages if fragment not in m]


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@contextmanager
def open_page(browser: Any, errors: PageErrors, viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A page in a fresh context (its own cookies: one person), whose console errors go to ``errors``."""
    context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.on("console", lambda msg: errors.messages.append(f"console: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.messages.append(f"pageerror: {exc}"))
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, page_errors: PageErrors) -> Iterator[Any]:
    with open_page(browser, page_errors) as pg:
        yield pg
    assert page_errors.messages == [], page_errors.messages


def unlabelled(page: Any) -> list[str]:
    """The visible inputs, selects and textareas with neither a ``<label for>`` nor an ``aria-label``."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(el =>
              !(el.id && document.querySelector(`label[for="${el.id}"]`)) && !el.getAttribute('aria-label')
           ).map(el => el.outerHTML)"""
    )
    return found


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
