"""Logging in and out in a real browser: the staff and holder login pages by keyboard alone, the session
cookie as the browser keeps it (HttpOnly, SameSite), logout, a wrong password, English, the front door."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from registry.licence_types import default_catalog
from tests.browser.conftest import LiveServer, PageErrors, unlabelled
from tests.factories import new_uscc

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PASSWORD = "Counter-Shift-7"


@pytest.fixture(scope="module")
def agency_clerk(live_server: LiveServer) -> dict[str, str]:
    out = live_server.cli(
        "admin", "create-org", "--code", new_uscc(), "--name", "深圳市南山区政务服务中心", "--role", "agency", "--json"
    )
    assert out.returncode == 0, out.stderr
    org = json.loads(out.stdout)
    username = f"window-{uuid.uuid4().hex[:6]}"
    out = live_server.cli(
        "admin", "create-user", "--org", org["code"], "--username", username, "--password", PASSWORD,
        "--name", "王芳", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"username": username, "org_code": org["code"], "display_name": "王芳"}
    return {"username": username, "org_name": org["name"]}


@pytest.fixture(scope="module")
def holder(live_server: LiveServer) -> dict[str, str]:
    h = default_catalog().get("driving_license").example_holder
    out = live_server.cli(
        "admin", "create-holder", "--id-number", h.id_number, "--name", h.name, "--password", PASSWORD
    )
    assert out.returncode == 0 or "已有账户" in out.stderr, out.stderr
    return {"id_number": h.id_number, "name": h.name}


def test_staff_log_in_and_out_with_the_keyboard(
    page: Any, live_server: LiveServer, agency_clerk: dict[str, str], screenshot_dir: Path
) -> None:
    page.goto(f"{live_server.url}/window")
    assert page.url.startswith(f"{live_server.url}/login?next=%2Fwindow")
    assert page.evaluate("document.activeElement.id") == "identity"
    assert unlabelled(page) == []
    assert page.inner_text("label[for=identity]") == "用户名"
    page.screenshot(path=str(screenshot_dir / "login-staff.png"), full_page=True)
    page.keyboard.type(agency_clerk["username"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/window")
    assert "王芳" in page.inner_text(".viewer") and agency_clerk["org_name"] in page.inner_text(".viewer")

    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["registry_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("registry_session") < 0  # scripts cannot read it

    # Log out with the keyboard: focus the button, press Enter.
    page.focus(".logout-form button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/login?bye=1")
    assert "您已安全退出" in page.inner_text("main")
    assert "registry_session" not in {c["name"] for c in page.context.cookies()}
    page.goto(f"{live_server.url}/window")
    assert "/login?next=" in page.url


def test_a_wrong_password_says_so_and_keeps_the_username(
    page: Any, live_server: LiveServer, agency_clerk: dict[str, str], screenshot_dir: Path, page_errors: PageErrors
) -> None:
    page.goto(f"{live_server.url}/login?lang=en")
    assert page.inner_text("label[for=identity]") == "Username"
    page.fill("#identity", agency_clerk["username"])
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error")
    assert page.inner_text("#login-error") == "Wrong username or password"
    assert page.input_value("#identity") == agency_clerk["username"]
    assert page.input_value("#password") == ""
    assert page.get_attribute("#identity", "aria-invalid") == "true"
    page.screenshot(path=str(screenshot_dir / "login-error-en.png"), full_page=True)
    # The form comes back as a 401 (so scripts and tools see the failure), which the browser logs.
    page_errors.allow("status of 401")


def test_holders_log_in_with_their_id_number(page: Any, live_server: LiveServer, holder: dict[str, str]) -> None:
    page.goto(f"{live_server.url}/app")
    assert "/app/login?next=%2Fapp" in page.url
    assert page.get_attribute("#identity", "name") == "id_number"
    assert unlabelled(page) == []
    page.keyboard.type(holder["id_number"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/app")
    assert holder["name"] in page.inner_text(".viewer")


def test_the_front_door_leads_to_the_four_pages(page: Any, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/")
    links = page.eval_on_selector_all(".door__link", "els => els.map(e => e.getAttribute('href'))")
    assert links == ["/verify", "/app", "/window", "/console"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.keyboard.press("Tab")  # the skip link first, then the page
    assert page.evaluate("document.activeElement.className") == "skip-link"
