"""/app, the citizen app, in a real browser against a real server: log in with the keyboard, see the licences
(details, QR, PDF read back), show a code whose QR — decoded from a screenshot of the page — a window redeems
through the API, after which the screen says who took what and the access log lists it; the countdown, refresh,
withdraw and expiry; consents (preview, grant, withdraw); agents (add, act for, revoke); English; no horizontal
scroll at 390 and 1440 px; every input labelled. Screenshots go to test-artifacts/screenshots/app-*.png."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.licence_types import default_catalog
from tests.browser.conftest import LiveServer, PageErrors, open_page, unlabelled
from tests.factories import new_resident_id, new_uscc

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PASSWORD = "Counter-Shift-7"  # the same as test_login_page's: on PostgreSQL the holder may exist already
RENEW_DRIVING = "440300-GAJJ-JSZHZ-001"  # 机动车驾驶证期满换证
AGENCY_NAME = "深圳市南山区政务服务中心"
ZH_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Stand in for the browser hiding the page (another tab, the phone's screen off).
HIDE = """(() => {
  Object.defineProperty(document, "hidden", { value: __HIDDEN__, configurable: true });
  Object.defineProperty(document, "visibilityState", { value: __HIDDEN__ ? "hidden" : "visible", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
})()"""
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}


# --- fixtures: a holder with two licences, an agency, and a second holder to be an agent ------------------


@pytest.fixture(scope="module")
def holder(live_server: LiveServer) -> dict[str, str]:
    h = default_catalog().get("driving_license").example_holder
    out = live_server.cli(
        "admin", "create-holder", "--id-number", h.id_number, "--name", h.name, "--password", PASSWORD
    )
    assert out.returncode == 0 or "已有账户" in out.stderr, out.stderr
    return {"id_number": h.id_number, "name": h.name}


@pytest.fixture(scope="module")
def licences(live_server: LiveServer, holder: dict[str, str]) -> dict[str, str]:
    """The holder's driving licence and resident ID card, issued through the API: type → identifier."""
    return {t: live_server.issue(t)["identifier"] for t in ("driving_license", "resident_id_card")}


@pytest.fixture(scope="module")
def agency(live_server: LiveServer) -> dict[str, str]:
    out = live_server.cli(
        "admin", "create-org", "--code", new_uscc(), "--name", AGENCY_NAME, "--role", "agency", "--json"
    )
    assert out.returncode == 0, out.stderr
    org: dict[str, str] = json.loads(out.stdout)
    resp = httpx.post(
        f"{live_server.url}/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": org["client_id"], "client_secret": org["client_secret"]},
    )
    assert resp.status_code == 200, resp.text
    return {**org, "token": resp.json()["access_token"]}


@pytest.fixture(scope="module")
def daughter(live_server: LiveServer) -> dict[str, str]:
    rid = new_resident_id(born=None, male=False)
    out = live_server.cli("admin", "create-holder", "--id-number", rid, "--name", "张敏", "--password", PASSWORD)
    assert out.returncode == 0, out.stderr
    return {"id_number": rid, "name": "张敏"}


@pytest.fixture
def second_page(browser: Any, page_errors: PageErrors) -> Iterator[Any]:
    """Another browser (its own cookies), for a second person; its errors fail the test too."""
    with open_page(browser, page_errors, PHONE) as pg:
        yield pg


# --- helpers ------------------------------------------------------------------------------------------------


def _until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` in the page until it is truthy (``wait_for_function`` needs eval, which the CSP
    forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        time.sleep(0.05)


def _login(page: Any, server: LiveServer, who: dict[str, str], query: str = "") -> None:
    page.goto(f"{server.url}/app{query}")
    page.fill("#identity", who["id_number"])
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(re.compile(r"/app(\?.*)?$"))
    page.wait_for_load_state("load")


def _tab_to(page: Any, selector: str, limit: int = 40) -> None:
    """Press Tab until ``selector`` has the focus (the keyboard alone reaches it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _shot(page: Any, folder: Path, name: str, *, full: bool = True) -> bytes:
    png: bytes = page.screenshot(path=str(folder / f"app-{name}.png"), full_page=full)
    return png


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _too_wide(page: Any) -> list[str]:
    """The elements that stick out on the right, to say what scrolls."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >
              window.innerWidth + 0.5 && e.offsetParent !== null).map(e => e.tagName + '.' + e.className)"""
    )
    return found


def _seconds_left(page: Any) -> int:
    text = page.inner_text("#share-countdown")
    found = re.search(r"(\d+):(\d{2})", text)
    assert found, text
    return int(found.group(1)) * 60 + int(found.group(2))


def _card(identifier: str) -> str:
    return f'details.licence[data-identifier="{identifier}"]'


def _redeem(server: LiveServer, agency: dict[str, str], code: str) -> dict[str, Any]:
    resp = httpx.post(
        f"{server.url}/api/v1/cases",
        json={"service_code": RENEW_DRIVING, "share_code": code},
        headers={"Authorization": f"Bearer {agency['token']}"},
    )
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def _code_state(page: Any, server: LiveServer, code_id: str) -> str:
    """The code's state as the API tells the page's own session."""
    resp = page.request.get(f"{server.url}/api/v1/me/share-codes/{code_id}")
    assert resp.status == 200, resp.text()
    state: str = resp.json()["state"]
    return state


# --- tests --------------------------------------------------------------------------------------------------


def test_log_in_with_the_keyboard_and_see_my_licences(
    page: Any, live_server: LiveServer, holder: dict[str, str], licences: dict[str, str], screenshot_dir: Path
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/app")
    assert "/app/login?next=%2Fapp" in page.url
    assert page.evaluate("document.activeElement.id") == "identity"
    page.keyboard.type(holder["id_number"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/app")
    assert holder["name"] in page.inner_text(".viewer")
    assert page.get_attribute("#tab-licences", "aria-selected") == "true"

    driving = _card(licences["driving_license"])
    card = page.inner_text(f"{driving} summary")
    assert "机动车驾驶证" in card and licences["driving_license"] in card and "有效" in card
    assert ZH_DATE.search(card), card
    assert "{" not in page.inner_text("main")
    assert unlabelled(page) == []
    assert _fits(page)
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    _shot(page, screenshot_dir, "phone-licences")

    # Enter on the card opens it: the details, the licence's own QR (loaded), a PDF that reads back.
    page.focus(f"{driving} summary")
    page.keyboard.press("Enter")
    _until(page, f"document.querySelector('{driving}').open")
    body = page.inner_text(driving)
    assert "深圳市公安局交通警察局" in body and "准驾车型" in body and "C1" in body
    qr = f"{driving} .licence__qr img"
    _until(page, f"document.querySelector('{qr}').complete && document.querySelector('{qr}').naturalWidth > 0")
    pdf = page.request.get(live_server.url + page.get_attribute(f"{driving} a[href$='/pdf']", "href"))
    assert pdf.status == 200 and pdf.headers["content-type"].startswith("application/pdf")
    from pypdf import PdfReader

    text = "".join(PdfReader(io.BytesIO(pdf.body())).pages[0].extract_text().split())
    assert licences["driving_license"] in text, text[:400]
    assert _fits(page)
    _shot(page, screenshot_dir, "phone-licence-details")


def test_show_a_code_a_window_redeems_it_and_the_app_says_who_took_what(
    page: Any, live_server: LiveServer, holder: dict[str, str], licences: dict[str, str],
    agency: dict[str, str], screenshot_dir: Path,
) -> None:  # fmt: skip
    import zxingcpp
    from PIL import Image

    page.set_viewport_size(PHONE)
    _login(page, live_server, holder)
    # 亮证 is one tap from the top; here, one arrow key: the tabs follow the keyboard (arrows, then Tab in).
    page.focus("#tab-licences")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-share"
    assert page.get_attribute("#tab-share", "aria-selected") == "true"
    assert page.is_hidden("#panel-licences") and page.is_visible("#panel-share")
    assert "tab=share" in page.url

    # Keyboard only: tick the driving licence and the ID card, then the button.
    for kind in ("driving_license", "resident_id_card"):
        _tab_to(page, f'input[name="share-licence"][value="{licences[kind]}"]')
        page.keyboard.press("Space")
    _tab_to(page, "#share-purpose")
    page.keyboard.type("驾驶证期满换证")
    page.keyboard.press("Enter")  # Enter submits the form
    page.wait_for_selector("#share-qr[src^='data:image/svg+xml;base64,']")
    _until(page, "document.getElementById('share-qr').complete")
    assert page.is_hidden("#share-form")  # on a phone, the code alone, full width
    shown = page.inner_text("#share-code-text")
    assert shown.startswith("SC1:440300.")
    width = page.evaluate("document.getElementById('share-qr').getBoundingClientRect().width")
    assert width >= 330, width  # full width on a 390 px phone

    # The QR, decoded from a screenshot of the page, is the code the page shows.
    png = _shot(page, screenshot_dir, "phone-share-code", full=False)
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    assert decoded == [shown], decoded
    assert "机动车驾驶证" in page.inner_text("#share-what") and "居民身份证" in page.inner_text("#share-what")

    # The countdown counts down.
    first = _seconds_left(page)
    assert 290 <= first <= 300, first
    time.sleep(2.2)
    assert _seconds_left(page) <= first - 2
    assert _fits(page)

    # A window redeems it through the API; within a poll or two the screen says who took what.
    case = _redeem(live_server, agency, decoded[0])
    assert case["exempted"] == 2
    page.wait_for_selector("#share-taken:not([hidden])", timeout=8_000)
    title = page.inner_text("#share-taken-title")
    assert AGENCY_NAME in title and ZH_DATE.search(title), title
    taken = page.inner_text("#share-taken-list")
    assert "机动车驾驶证" in taken and "居民身份证" in taken and "全部字段" in taken
    assert page.inner_text("#share-veil") == "已使用"
    assert "窗口已调取" in page.inner_text("#share-status")
    assert page.get_attribute("#share-result", "data-code-state") == "used"
    assert page.is_hidden("#share-withdraw")
    assert _fits(page)
    _shot(page, screenshot_dir, "phone-share-taken")

    # The access log lists the pull (the tab fetches it again when opened).
    page.focus("#tab-share")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-log"
    _until(page, f"document.getElementById('log-list').innerText.includes({json.dumps(case['case_id'])})")
    log = page.inner_text("#log-list")
    assert AGENCY_NAME in log and "亮证码" in log and "机动车驾驶证" in log and "驾驶证期满换证" in log
    assert licences["driving_license"] in log
    _shot(page, screenshot_dir, "phone-log")


def test_refresh_withdraw_expiry_and_a_service_item(
    page: Any, live_server: LiveServer, holder: dict[str, str], licences: dict[str, str],
    agency: dict[str, str], screenshot_dir: Path, page_errors: PageErrors,
) -> None:  # fmt: skip
    page.clock.install()
    _login(page, live_server, holder, "?tab=share")
    assert page.is_visible("#panel-share")
    # Nothing chosen: said in words, next to the choice.
    page.click("#share-submit")
    assert page.inner_text("#share-error") == "请至少选择一张证照。"
    assert page.evaluate("document.activeElement.name") == "share-licence"

    page.check(f'input[name="share-licence"][value="{licences["driving_license"]}"]')
    page.select_option("#share-audience", label=AGENCY_NAME)
    page.click("#share-submit")
    page.wait_for_selector("[data-view-panel=code]:not([hidden])")
    first_id = page.get_attribute("#share-result", "data-code-id")
    first_code = page.inner_text("#share-code-text")
    assert "仅限 " + AGENCY_NAME in page.inner_text("#share-what")

    # Polling (every 2 s) stops while the page is hidden, and resumes at once when it is shown again.
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if f"/share-codes/{first_id}" in r.url else None)
    for _ in range(2):
        page.clock.run_for(2100)
        time.sleep(0.3)  # the answer arrives (real time) and schedules the next poll (page time)
    assert len(polls) >= 2, polls
    page.evaluate(HIDE.replace("__HIDDEN__", "true"))
    time.sleep(0.3)
    polls.clear()
    for _ in range(4):
        page.clock.run_for(2500)
    time.sleep(0.3)
    assert polls == []
    page.evaluate(HIDE.replace("__HIDDEN__", "false"))
    page.clock.run_for(100)
    deadline = time.monotonic() + 5
    while not polls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(polls) == 1, polls

    # 刷新: a new code; the old one no longer works.
    page.click("#share-refresh")
    _until(page, f"document.getElementById('share-result').dataset.codeId !== {json.dumps(first_id)}")
    assert page.inner_text("#share-code-text") != first_code
    assert _code_state(page, live_server, first_id) == "withdrawn"
    second_id = page.get_attribute("#share-result", "data-code-id")

    # 撤回: the screen says so and offers a new one.
    page.click("#share-withdraw")
    _until(page, "document.getElementById('share-result').dataset.codeState === 'withdrawn'")
    assert page.inner_text("#share-veil") == "已撤回"
    assert "您已撤回此码" in page.inner_text("#share-status")
    assert _code_state(page, live_server, second_id) == "withdrawn"
    # A window that scans the withdrawn code is told so (the API's words, for the window page).
    resp = httpx.post(
        f"{live_server.url}/api/v1/cases",
        json={"service_code": RENEW_DRIVING, "share_code": page.inner_text("#share-code-text")},
        headers={"Authorization": f"Bearer {agency['token']}"},
    )
    assert resp.status_code == 410

    # 再次亮证, then let five minutes pass: expired, said in words, with the way out.
    page.click("#share-refresh")
    _until(page, "document.getElementById('share-result').dataset.codeState === 'active'")
    page.clock.fast_forward("05:01")
    _until(page, "document.getElementById('share-result').dataset.codeState === 'expired'")
    assert page.inner_text("#share-veil") == "已过期"
    assert "亮证码已过期" in page.inner_text("#share-status")
    assert page.inner_text("#share-refresh") == "再次亮证"
    assert page.inner_text("#share-countdown") == "剩余 0:00"
    _shot(page, screenshot_dir, "desktop-share-expired")

    # By service item, with a preview of exactly what the window would receive first.
    page.click("#share-edit")
    page.check("#share-mode-service")
    assert page.is_visible("#share-service") and page.is_hidden("#share-licences")
    page.select_option("#share-service", RENEW_DRIVING)
    assert "居民身份证" in page.inner_text("#share-service-hint")
    page.click("#share-preview-button")
    page.wait_for_selector("[data-view-panel=preview]:not([hidden])")
    preview = page.inner_text("#share-preview")
    assert "窗口将收到且仅收到以下内容" in preview and "机动车驾驶证" in preview and "准驾车型" in preview
    page.click("#share-preview-go")
    page.wait_for_selector("[data-view-panel=code]:not([hidden])")
    assert "机动车驾驶证期满换证" in page.inner_text("#share-what")

    # When the window takes it, the answer fills the reserved area: nothing on the page moves.
    boxes = (
        "['share-result', 'share-qr', 'share-form'].map(id => document.getElementById(id).getBoundingClientRect())"
        ".map(b => [b.x + scrollX, b.y + scrollY, b.width, b.height])"
    )
    before = page.evaluate(boxes)
    _redeem(live_server, agency, page.inner_text("#share-code-text"))
    page.clock.run_for(2500)  # the next poll
    page.wait_for_selector("#share-taken:not([hidden])")
    assert page.evaluate(boxes) == before
    assert _fits(page)
    _shot(page, screenshot_dir, "desktop-share-taken")

    # An API problem is shown as its message, in words.
    problem = {"status": 429, "code": "rate_limited", "detail": "操作过于频繁，请 7 秒后重试 / Too many; retry in 7 s"}
    page.route(
        "**/api/v1/me/share-codes",
        lambda route: route.fulfill(
            status=429, headers={"Content-Type": "application/problem+json"}, body=json.dumps(problem)
        ),
    )
    page.click("#share-edit")
    page.click("#share-submit")
    _until(page, "document.getElementById('share-error').innerText.length > 0")
    assert page.inner_text("#share-error") == "操作过于频繁，请 7 秒后重试"
    page_errors.allow("Failed to load resource")


def test_consents_preview_grant_and_withdraw(
    page: Any, live_server: LiveServer, holder: dict[str, str], licences: dict[str, str],
    agency: dict[str, str], screenshot_dir: Path,
) -> None:  # fmt: skip
    _login(page, live_server, holder, "?tab=consents")
    page.click("#consent-preview-button")
    assert page.inner_text("#consent-error") == "请选择授权给哪个机构。"
    assert page.evaluate("document.activeElement.id") == "consent-agency"

    page.select_option("#consent-agency", agency["code"])
    page.check("#consent-type-driving_license")
    page.click("#consent-limits summary")
    assert page.is_visible('#consent-limits [data-type="driving_license"]')
    assert page.is_hidden('#consent-limits [data-type="resident_id_card"]')
    page.check("#consent-f-driving_license-name")
    page.check("#consent-f-driving_license-vehicle_classes")
    page.fill("#consent-until", "2027-06-30")
    page.fill("#consent-purpose", "驾驶证业务网上办理")
    page.press("#consent-purpose", "Enter")  # Enter previews
    page.wait_for_selector("#consent-preview-box:not([hidden])")
    preview = page.inner_text("#consent-preview")
    assert AGENCY_NAME in preview and "仅提供以下字段" in preview
    assert "姓名" in preview and "准驾车型" in preview and "住址" not in preview
    _shot(page, screenshot_dir, "desktop-consent-preview")

    page.click("#consent-grant")
    page.wait_for_selector("#consent-done:not([hidden])")
    assert page.inner_text("#consent-done") == f"已授权给 {AGENCY_NAME}，有效至 2027年6月30日。"
    card = page.inner_text("#consent-list .consent")
    assert AGENCY_NAME in card and "驾驶证业务网上办理" in card and "2027年6月30日" in card and "准驾车型" in card
    assert page.is_hidden("#consent-preview-box")

    # Withdraw: one tap, then a confirmation (keyboard: the focus is on "yes").
    page.click("#consent-list [data-withdraw-consent]")
    assert "确定撤回对 " + AGENCY_NAME in page.inner_text("#consent-list .confirm")
    assert page.evaluate("document.activeElement.textContent") == "确认撤回"
    page.keyboard.press("Enter")
    _until(page, "!document.querySelector('#consent-list [data-withdraw-consent]')")
    assert page.inner_text("#consent-done") == f"已撤回对 {AGENCY_NAME} 的授权。"
    assert "已撤回或已过期（1）" in page.inner_text("#consent-list")
    assert unlabelled(page) == [] and _fits(page)


def test_agents_add_act_for_and_revoke(
    page: Any, second_page: Any, live_server: LiveServer, holder: dict[str, str], licences: dict[str, str],
    daughter: dict[str, str], screenshot_dir: Path,
) -> None:  # fmt: skip
    page.set_viewport_size(PHONE)
    _login(page, live_server, holder, "?tab=agents")
    page.click("#agent-add")
    assert page.inner_text("#agent-error") == "请填写代办人的 18 位证件号码。"
    page.fill("#agent-id", daughter["id_number"])
    page.check("#agent-scope-all")
    page.fill("#agent-until", "2027-12-31")
    page.press("#agent-id", "Enter")
    page.wait_for_selector("#agent-done:not([hidden])")
    assert page.inner_text("#agent-done") == "已添加 张敏 为代办人。"
    mine = page.inner_text("#agent-lists")
    assert "张敏" in mine and "全部事项" in mine and "2027年12月31日" in mine
    assert daughter["id_number"] not in mine  # masked on screen

    # The daughter logs in, sees whom she may act for, and switches: the page says so at the top.
    _login(second_page, live_server, daughter, "?tab=agents")
    second_page.click(f'a[href="/app?as={holder["id_number"]}"]')
    second_page.wait_for_selector("#acting-banner")
    banner = second_page.inner_text("#acting-banner")
    assert "您正在代 张伟" in banner and "回到本人" in banner
    assert second_page.is_visible(_card(licences["driving_license"]))
    assert _fits(second_page)
    _shot(second_page, screenshot_dir, "phone-acting")
    # She shows his licence for him: a code made on his behalf.
    second_page.click(f"{_card(licences['driving_license'])} summary")
    second_page.click(f"{_card(licences['driving_license'])} [data-show-licence]")
    second_page.wait_for_selector("#share-qr[src^='data:']")
    code_id = second_page.get_attribute("#share-result", "data-code-id")
    resp = page.request.get(f"{live_server.url}/api/v1/me/share-codes/{code_id}")
    assert resp.json()["on_behalf_of"] == holder["id_number"]
    # With full rights she also reads his log (it names her look).
    second_page.click("#tab-log")
    _until(second_page, "document.getElementById('log-list').innerText.includes('代办人')")

    # He revokes her, confirming; her switch stops working at once.
    page.click("#agent-lists [data-revoke-agent]")
    assert page.is_hidden("#agent-done")
    page.click("#agent-lists .confirm .btn--danger")
    page.wait_for_selector("#agent-done:not([hidden])")
    assert page.inner_text("#agent-done") == "已取消 张敏 的代办权限。"
    assert "您还没有添加代办人" in page.inner_text("#agent-lists")
    second_page.goto(f"{live_server.url}/app?as={holder['id_number']}")
    assert second_page.is_visible("#acting-error") and second_page.is_hidden("#acting-banner")


@pytest.mark.parametrize(("viewport", "lang"), [(PHONE, "en"), (DESK, "zh")], ids=["phone-en", "desktop-zh"])
def test_every_section_fits_is_labelled_and_speaks_the_language(
    page: Any, live_server: LiveServer, holder: dict[str, str], licences: dict[str, str],
    screenshot_dir: Path, viewport: dict[str, int], lang: str,
) -> None:  # fmt: skip
    page.set_viewport_size(viewport)
    _login(page, live_server, holder, f"?lang={lang}")
    name = f"{'phone' if viewport is PHONE else 'desktop'}-{lang}"
    for tab in ("licences", "share", "consents", "log", "agents"):
        page.click(f"#tab-{tab}")
        assert page.is_visible(f"#panel-{tab}")
        assert _fits(page), f"horizontal scroll on {tab} at {viewport['width']} px: {_too_wide(page)}"
        assert unlabelled(page) == [], tab
        if lang == "en":
            words = page.evaluate(
                """() => [...document.querySelectorAll(
                    '[role=tab], .app-panel:not([hidden]) :is(h2, label, legend, button, summary, .hint, .empty)')]
                  .filter(e => !e.closest('.licence__summary, .checklist__row, .badge'))
                  .map(e => e.innerText).join(' | ')"""
            )
            assert not CJK.search(words), words
        _shot(page, screenshot_dir, f"{name}-{tab}")
    if lang == "en":
        page.click("#tab-licences")
        card = page.inner_text(f"{_card(licences['driving_license'])} summary")
        assert "Motor Vehicle Driving Licence" in card and "Valid" in card and not ZH_DATE.search(card)
        assert re.search(r"\d{4}-\d{2}-\d{2}", card)
        # The switch keeps the section open.
        page.click("#tab-share")
        assert "tab=share" in (page.get_attribute(".lang-switch", "href") or "")
        page.click(".lang-switch")
        page.wait_for_selector("html[lang=zh-CN]")
        assert page.is_visible("#panel-share") and page.inner_text("#tab-share") == "亮证"
