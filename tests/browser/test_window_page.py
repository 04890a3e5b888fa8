"""/window in a real browser: an agency clerk logs in with the keyboard, picks the service item by typing,
scans holders' share codes (typed like a USB scanner, then Enter), sees materials pulled and missing, records a
commitment, opens the annotated copies (read back with pypdf), starts the next applicant with F2; a used,
withdrawn, malformed or foreign code is explained in words; both languages; phone and counter widths.
Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.licence_types import default_catalog
from tests.browser.conftest import LiveServer, PageErrors, unlabelled
from tests.factories import new_resident_id, new_uscc

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

RENEW_DRIVING = "440300-GAJJ-JSZHZ-001"
NEWBORN = "440300-GA-XSRH-001"
CHINA = timezone(timedelta(hours=8))
ZH_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
PASSWORD = "Counter-Shift-7"


@dataclass
class Holder:
    id_number: str
    name: str
    password: str
    token: str = ""
    licences: dict[str, str] = field(default_factory=dict)  # licence type → identifier


@dataclass
class Agency:
    code: str
    username: str
    other_code: str  # a second agency: codes bound to it are refused here


@dataclass
class World:
    agency: Agency
    driver: Holder  # an ID card and a driving licence; the newborn's father too
    mother: Holder  # an ID card, the newborn's birth certificate, a marriage certificate


def _cli_json(server: LiveServer, *args: str) -> dict[str, Any]:
    out = server.cli(*args)
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _issuer_headers(server: LiveServer, issuer: dict[str, Any]) -> dict[str, str]:
    resp = httpx.post(
        f"{server.url}/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issuer["client_id"],
            "client_secret": issuer["client_secret"],
        },
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _issue(server: LiveServer, issuer_headers: dict[str, str], license_type: str, holder: Holder) -> None:
    """A licence of the template's realistic example, re-addressed to this holder (fresh holders per module, so
    the module runs alike on a database of its own and on the shared PostgreSQL one)."""
    lt = default_catalog().get(license_type)
    ex = lt.example_holder
    fields = {
        k: (holder.id_number if v == ex.id_number else holder.name if v == ex.name else v)
        for k, v in lt.example_fields().items()
    }
    body = {
        "type": license_type,
        "holder": {"id_type": "resident_id", "id_number": holder.id_number, "name": holder.name},
        "fields": fields,
    }
    resp = httpx.post(
        f"{server.url}/api/v1/licenses", json=body, headers={**issuer_headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert resp.status_code == 201, resp.text
    holder.licences[license_type] = str(resp.json()["identifier"])


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> World:
    """Through the CLI, as an operator does: the agency (车管所) with a clerk, a second agency, a department for
    birth and marriage certificates, and two holders; then their licences through the API. The CLI calls run
    side by side: each one is a process start-up of a few seconds."""
    agency_code, other_code, family_code = new_uscc(), new_uscc(), new_uscc()
    username = f"clerk-{uuid.uuid4().hex[:8]}"
    people = {
        "driver": Holder(new_resident_id(male=True), "张伟", "Correct-Horse-42"),
        "mother": Holder(new_resident_id(male=False), "陈静", "Correct-Horse-42"),
    }
    calls: list[tuple[str, ...]] = [
        ("admin", "create-org", "--code", agency_code, "--name", "深圳市公安局交通警察支队车辆管理所",
         "--role", "agency", "--json"),
        ("admin", "create-org", "--code", other_code, "--name", "深圳市福田区政务服务中心", "--role", "agency",
         "--json"),
        ("admin", "create-org", "--code", family_code, "--name", "深圳市卫生健康委员会", "--role", "issuer",
         "--license-types", "birth_certificate,marriage_certificate", "--json"),
    ] + [
        ("admin", "create-holder", "--id-number", h.id_number, "--name", h.name, "--password", h.password, "--json")
        for h in people.values()
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        made = list(pool.map(lambda args: _cli_json(live_server, *args), calls))
    _cli_json(
        live_server, "admin", "create-user", "--org", agency_code, "--username", username, "--password", PASSWORD,
        "--name", "李娜", "--json",
    )  # fmt: skip
    police, family = _issuer_headers(live_server, live_server.issuer), _issuer_headers(live_server, made[2])
    for holder in people.values():
        resp = httpx.post(
            f"{live_server.url}/api/v1/auth/holder-token",
            json={"id_number": holder.id_number, "password": holder.password},
        )
        assert resp.status_code == 200, resp.text
        holder.token = resp.json()["access_token"]
        _issue(live_server, police, "resident_id_card", holder)
    _issue(live_server, police, "driving_license", people["driver"])
    for license_type in ("birth_certificate", "marriage_certificate"):
        _issue(live_server, family, license_type, people["mother"])
    return World(Agency(agency_code, username, other_code), **people)


@pytest.fixture(scope="module")
def agency(world: World) -> Agency:
    return world.agency


@pytest.fixture(scope="module")
def driver(world: World) -> Holder:
    return world.driver


def _code(server: LiveServer, holder: Holder, **body: Any) -> dict[str, Any]:
    """A share code the holder makes in the app (亮证)."""
    resp = httpx.post(
        f"{server.url}/api/v1/me/share-codes",
        json=body,
        headers={"Authorization": f"Bearer {holder.token}"},
    )
    assert resp.status_code == 201, resp.text
    made: dict[str, Any] = resp.json()
    return made


# --- driving the page ----------------------------------------------------------------------------------------


def _until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` until truthy (``wait_for_function`` would need eval, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        time.sleep(0.05)


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.tagName"))


def _login(page: Any, server: LiveServer, agency: Agency, query: str = "") -> None:
    """Open /window, get sent to the login page, and log in with the keyboard alone."""
    page.goto(f"{server.url}/window{query}")
    assert "/login?next=" in page.url
    _until(page, "document.activeElement && document.activeElement.id === 'identity'")
    page.keyboard.type(agency.username)
    page.keyboard.press("Tab")
    assert _focused(page) == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/window"))
    _until(page, "!!window.RegistryPage && document.activeElement && document.activeElement.tagName === 'INPUT'")


def _pick(page: Any, words: str) -> None:
    """Type into the item search and press Enter: the first match is picked, the scanner gets the focus."""
    assert _focused(page) == "service-search"
    page.keyboard.type(words)
    page.keyboard.press("Enter")
    _until(page, "document.activeElement.id === 'scan-input' && !document.getElementById('pick-current').hidden")


def _answered(page: Any) -> int:
    return int(page.get_attribute("#scan-message", "data-answered") or 0)


def _scan(page: Any, text: str, *, keystrokes: bool = True) -> dict[str, str]:
    """Type like a USB scanner (key by key, then Enter) and wait for the page's answer."""
    assert _focused(page) == "scan-input"
    seen = _answered(page)
    if keystrokes:
        page.keyboard.type(text)
    else:
        page.keyboard.insert_text(text)
    page.keyboard.press("Enter")
    _until(page, f"Number(document.getElementById('scan-message').dataset.answered) > {seen}")
    return {
        "kind": page.get_attribute("#scan-message", "data-kind") or "",
        "title": page.inner_text("#scan-message-title"),
        "text": page.inner_text("#scan-message-text"),
        "next": page.inner_text("#scan-message-next"),
    }


def _states(page: Any) -> list[tuple[str, str]]:
    return [
        (r["type"], r["state"])
        for r in page.evaluate(
            "[...document.querySelectorAll('#materials .material')].map(li => ({type: li.dataset.type, "
            "state: li.dataset.state}))"
        )
    ]


def _tab_to(page: Any, element_id: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page) == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def _shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"window-{name}.png"), full_page=True)


def _pdf_text(page: Any, server: LiveServer) -> str:
    """Fetch the annotated copies the way the link does (the page session's cookie) and read the text back."""
    from pypdf import PdfReader

    href = page.get_attribute("#pdf-link", "href")
    assert href and href.endswith("/materials.pdf"), href
    assert page.get_attribute("#pdf-link", "target") == "_blank"
    resp = page.request.get(f"{server.url}{href}")
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/pdf"
    return "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(resp.body())).pages)


def _china_today() -> date:
    return datetime.now(UTC).astimezone(CHINA).date()


# --- the tests -----------------------------------------------------------------------------------------------


def test_keyboard_login_lands_on_a_labelled_page(
    page: Any, live_server: LiveServer, agency: Agency, screenshot_dir: Path
) -> None:
    _login(page, live_server, agency)
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("h1") == "窗口办件"
    assert _focused(page) == "service-search"
    assert unlabelled(page) == []
    assert page.inner_text("label[for=service-search]") == "查找事项（名称或编码）"
    assert page.inner_text("label[for=scan-input]") == "扫描申请人的亮证码"
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    assert "李娜" in page.inner_text(".viewer")
    assert page.inner_text("#stat-cases") == "0"
    assert page.get_attribute("#pdf-link", "aria-disabled") == "true"
    assert page.is_disabled("#next-button")
    # Arrow keys and Tab move through the items; Enter picks one.
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.classList.contains('service-option')")
    page.keyboard.press("ArrowDown")
    second = page.evaluate("document.activeElement.dataset.code")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert _focused(page) == "service-search"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.code") == second
    page.keyboard.press("Enter")
    _until(page, "document.activeElement.id === 'scan-input'")
    assert page.inner_text("#pick-current-code") == second
    assert f"service={second}" in page.url
    _shot(page, screenshot_dir, "desktop-item")


def test_scan_commit_print_and_next(
    page: Any, page_errors: PageErrors, live_server: LiveServer, agency: Agency, driver: Holder, screenshot_dir: Path
) -> None:
    _login(page, live_server, agency)
    _pick(page, "换证")
    assert page.inner_text("#pick-current-name") == "机动车驾驶证期满换证"
    assert _states(page) == [("resident_id_card", "waiting"), ("driving_license", "waiting")]
    assert "机动车驾驶人身体条件证明" in page.inner_text("#offline-list")

    # The holder shows only the driving licence: the ID card stays missing.
    code = _code(live_server, driver, license_types=["driving_license"])["code"]
    answer = _scan(page, code)
    assert answer["kind"] == "ok", answer
    assert answer["title"] == "调取成功" and "机动车驾驶证" in answer["text"]
    assert "仍缺 1 项" in answer["next"]
    assert _states(page) == [("resident_id_card", "missing"), ("driving_license", "pulled")]
    pulled = page.inner_text("#material-1")
    assert driver.licences["driving_license"] in pulled and "已调取" in pulled and "核验有效" in pulled
    assert "缺失" in page.inner_text("#material-0")
    assert (page.inner_text("#sum-exempted"), page.inner_text("#sum-missing")) == ("1", "1")
    assert page.input_value("#scan-input") == "" and _focused(page) == "scan-input"
    case_id = page.evaluate("new URLSearchParams(location.search).get('case')")
    assert case_id and case_id in page.inner_text("#case-meta")
    assert f"case={case_id}" in (page.get_attribute(".lang-switch", "href") or "")
    # Today's panel counts the case.
    _until(page, "document.getElementById('stat-cases').innerText === '1'")
    assert page.inner_text("#stat-spared") == "1"
    assert page.get_attribute(f'.today-list__link[data-case="{case_id}"]', "aria-current") == "page"
    assert "张伟" in page.inner_text("#today-list")

    # 告知承诺 for the missing ID card, with the keyboard: open, accept the default date, confirm.
    _tab_to(page, "commit-open-0")
    page.keyboard.press("Enter")
    assert _focused(page) == "commit-due-0"
    due = page.input_value("#commit-due-0")
    assert due == (_china_today() + timedelta(days=30)).isoformat()
    _tab_to(page, "commit-confirm-0", limit=8)  # past the date's own fields
    page.keyboard.press("Enter")
    _until(page, "document.getElementById('materials-status').innerText.includes('已记录告知承诺')")
    assert _states(page) == [("resident_id_card", "committed"), ("driving_license", "pulled")]
    committed = page.inner_text("#material-0")
    y, m, d = (int(p) for p in due.split("-"))
    assert f"须于 {y}年{m}月{d}日 前提交" in committed, committed
    assert page.inner_text("#sum-missing") == "0"
    assert _focused(page) == "pdf-link"  # nothing else to commit to: on to printing
    _shot(page, screenshot_dir, "desktop-case")

    # Enter on the focused button opens the annotated copies beside the page (for the browser's print).
    with page.context.expect_page() as opened:
        page.keyboard.press("Enter")
    assert opened.value.url.endswith(f"/api/v1/cases/{case_id}/materials.pdf"), opened.value.url
    opened.value.close()
    # Their text: the pulled licence's identifier, and the commitment on the cover.
    text = _pdf_text(page, live_server)
    assert driver.licences["driving_license"] in text
    assert "已承诺" in text and "深圳市公安局交通警察支队车辆管理所" in text

    # A reload shows the same case, rendered by the server.
    page.reload()
    _until(page, "document.activeElement && document.activeElement.id === 'scan-input'")
    assert _states(page) == [("resident_id_card", "committed"), ("driving_license", "pulled")]
    assert driver.licences["driving_license"] in page.inner_text("#material-1")
    assert ZH_DATE.search(page.inner_text("#material-0"))

    # The same code again: used, said in words with what to do next.
    answer = _scan(page, code)
    assert answer["kind"] == "error"
    assert answer["text"] == "亮证码已被使用"
    assert "刷新亮证码" in answer["next"]
    assert "{" not in answer["text"] + answer["next"] and "share_code_used" not in page.inner_text("#scan-message")
    page_errors.allow("Failed to load resource")

    # F2: the next applicant, same item, the scanner ready.
    page.keyboard.press("F2")
    _until(page, "!new URLSearchParams(location.search).get('case')")
    assert f"service={RENEW_DRIVING}" in page.url
    assert _states(page) == [("resident_id_card", "waiting"), ("driving_license", "waiting")]
    assert _focused(page) == "scan-input"
    assert page.get_attribute("#pdf-link", "aria-disabled") == "true"
    # The next applicant shows everything: both materials pulled, nothing missing.
    answer = _scan(page, _code(live_server, driver, service_code=RENEW_DRIVING)["code"])
    assert answer["kind"] == "ok" and "材料已齐全" in answer["next"]
    assert _states(page) == [("resident_id_card", "pulled"), ("driving_license", "pulled")]
    _until(page, "document.getElementById('stat-cases').innerText === '2'")
    assert page.inner_text("#stat-spared") == "3"


def test_codes_that_cannot_be_used_are_explained(
    page: Any, page_errors: PageErrors, live_server: LiveServer, agency: Agency, driver: Holder, screenshot_dir: Path
) -> None:
    _login(page, live_server, agency)
    # A scan before the item is chosen: the code is not spent; the search gets the focus.
    page.focus("#scan-input")
    answer = _scan(page, "SC1:440300.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert (answer["kind"], answer["title"]) == ("warn", "请先选择办理事项")
    assert "重新扫码" in answer["next"]
    assert _focused(page) == "service-search"
    _pick(page, RENEW_DRIVING)

    answer = _scan(page, "HELLO-THIS-IS-NOT-A-CODE")  # a malformed scan
    assert answer["kind"] == "error" and "亮证码格式不正确" in answer["text"]
    assert "重新扫描" in answer["next"]
    assert _states(page) == [("resident_id_card", "waiting"), ("driving_license", "waiting")]  # no case opened

    # A licence's own QR code, scanned by mistake.
    answer = _scan(page, "LC1:6BFOXN*TSMAHN6H0", keystrokes=False)
    assert answer["title"] == "这是证照二维码，不是亮证码" and "亮证" in answer["next"]

    # A code the holder withdrew.
    made = _code(live_server, driver, service_code=RENEW_DRIVING)
    gone = httpx.delete(
        f"{live_server.url}/api/v1/me/share-codes/{made['id']}", headers={"Authorization": f"Bearer {driver.token}"}
    )
    assert gone.status_code == 204
    answer = _scan(page, made["code"])
    assert answer["text"] == "持证人已撤回此亮证码" and "刷新亮证码" in answer["next"]

    # A code bound to another agency.
    bound = _code(live_server, driver, service_code=RENEW_DRIVING, audience=agency.other_code)["code"]
    answer = _scan(page, bound)
    assert answer["text"] == "此亮证码仅限指定机构使用" and "选择本机构" in answer["next"]
    _shot(page, screenshot_dir, "wrong-agency")

    # An unknown code, and the server unreachable: words again.
    answer = _scan(page, "SC1:440300.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert answer["kind"] == "error" and "刷新亮证码" in answer["next"]
    page.route("**/api/v1/cases", lambda route: route.abort("connectionrefused"))
    answer = _scan(page, bound)
    assert "无法连接服务器" in answer["text"]
    assert _states(page) == [("resident_id_card", "waiting"), ("driving_license", "waiting")]
    page_errors.allow("Failed to load resource")


def test_both_parents_join_one_case(page: Any, live_server: LiveServer, world: World, screenshot_dir: Path) -> None:
    mother, father = world.mother, world.driver
    _login(page, live_server, world.agency)
    _pick(page, "新生儿")
    assert page.inner_text("#pick-current-name") == "新生儿入户"
    answer = _scan(page, _code(live_server, mother, service_code=NEWBORN)["code"])
    assert answer["kind"] == "ok" and "仍缺 1 项" in answer["next"]
    assert _states(page) == [
        ("birth_certificate", "pulled"),
        ("resident_id_card", "pulled"),
        ("resident_id_card", "missing"),
        ("marriage_certificate", "pulled"),
        ("marriage_certificate", "not_needed"),  # either parent's certificate is enough
    ]
    assert "父亲" in page.inner_text("#material-2")
    answer = _scan(page, _code(live_server, father, service_code=NEWBORN)["code"])
    assert answer["kind"] == "ok" and "材料已齐全" in answer["next"]
    assert _states(page)[2] == ("resident_id_card", "pulled")
    assert father.licences["resident_id_card"] in page.inner_text("#material-2")
    assert (page.inner_text("#sum-exempted"), page.inner_text("#sum-missing")) == ("4", "0")
    text = _pdf_text(page, live_server)
    assert mother.licences["birth_certificate"] in text and father.licences["resident_id_card"] in text
    _shot(page, screenshot_dir, "desktop-two-parents")


def test_a_standing_consent_opens_the_case(page: Any, live_server: LiveServer, agency: Agency, driver: Holder) -> None:
    """A remote case: the holder consented beforehand; the clerk types the consent's number instead of a scan."""
    resp = httpx.post(
        f"{live_server.url}/api/v1/me/consents",
        json={
            "agency_code": agency.code,
            "service_code": RENEW_DRIVING,
            "license_types": ["resident_id_card", "driving_license"],
            "purpose": "驾驶证期满换证",
            "valid_until": (_china_today() + timedelta(days=30)).isoformat(),
        },
        headers={"Authorization": f"Bearer {driver.token}"},
    )
    assert resp.status_code == 201, resp.text
    _login(page, live_server, agency, f"?service={RENEW_DRIVING}")
    answer = _scan(page, resp.json()["id"])
    assert answer["kind"] == "ok" and "材料已齐全" in answer["next"], answer
    assert _states(page) == [("resident_id_card", "pulled"), ("driving_license", "pulled")]
    # A consent opens a case; it does not join one already open.
    answer = _scan(page, resp.json()["id"])
    assert answer["kind"] == "warn" and "下一位申请人" in answer["next"]


def test_english(page: Any, live_server: LiveServer, agency: Agency, driver: Holder, screenshot_dir: Path) -> None:
    _login(page, live_server, agency, "?lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Service window"
    assert page.inner_text("label[for=scan-input]") == "Scan the applicant's share code"
    _pick(page, "renewal")
    assert page.inner_text("#pick-current-name") == "Driving licence renewal on expiry"
    answer = _scan(page, _code(live_server, driver, license_types=["driving_license"])["code"])
    assert answer["title"] == "Pulled" and "Motor Vehicle Driving Licence" in answer["text"]
    assert "Missing" in page.inner_text("#material-0") and "Pulled" in page.inner_text("#material-1")
    _tab_to(page, "commit-open-0")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # Enter in the date field submits the commitment
    _until(page, "document.getElementById('materials-status').innerText.includes('Commitment recorded')")
    committed = page.inner_text("#material-0")
    assert ISO_DATE.search(committed) and not ZH_DATE.search(committed), committed
    assert "Committed" in committed
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", page.inner_text("#case-meta"))
    labels = page.evaluate(
        "[...document.querySelectorAll('label, h1, h2, h3, button, dt, .lead, .hint, .badge, .win-message,"
        " .material__req, .material__detail, .material__party, .win-actions, .today-list__name')]"
        ".map(e => e.innerText).join(' ')"
    )
    # The holder's name is data, not a label.
    assert not CJK.search(labels.replace(driver.name, "")), CJK.findall(labels)
    _shot(page, screenshot_dir, "desktop-en")
    page.click(".lang-switch")
    page.wait_for_url(re.compile(r"lang=zh"))
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert "已承诺" in page.inner_text("#material-0")  # the same case, now in Chinese


@pytest.mark.parametrize(
    ("width", "height", "lang", "name"),
    [(390, 844, "zh", "phone"), (390, 844, "en", "phone-en"), (1440, 900, "zh", "desktop")],
)
def test_no_horizontal_scroll_and_no_layout_shift(
    page: Any, page_errors: PageErrors, live_server: LiveServer, agency: Agency, driver: Holder,
    screenshot_dir: Path, width: int, height: int, lang: str, name: str,
) -> None:  # fmt: skip
    page.set_viewport_size({"width": width, "height": height})
    _login(page, live_server, agency, f"?service={RENEW_DRIVING}&lang={lang}")
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(fits), f"horizontal scroll at {width}px"
    boxes = (
        "['scan-input', 'scan-message', 'materials', 'material-0', 'material-1', 'pdf-link', 'today-heading']"
        ".map(id => document.getElementById(id).getBoundingClientRect())"
        ".map(b => [Math.round(b.x + scrollX), Math.round(b.y + scrollY), Math.round(b.width), Math.round(b.height)])"
    )
    before = page.evaluate(boxes)
    answer = _scan(page, _code(live_server, driver, license_types=["driving_license"])["code"], keystrokes=False)
    assert answer["kind"] == "ok"
    assert page.evaluate(fits), f"horizontal scroll at {width}px with a case"
    assert page.evaluate(boxes) == before, f"layout shifted at {width}px"
    page.evaluate("scrollTo(0, 0)")
    _shot(page, screenshot_dir, f"{name}-pulled")
    # What the phone shows once scrolled to the materials (one screen, for the README).
    page.evaluate("document.getElementById('materials-card').scrollIntoView()")
    page.screenshot(path=str(screenshot_dir / f"window-{name}-materials.png"))
    page.evaluate("scrollTo(0, 0)")
    # The longest answers: a refusal from the API, and a licence's QR code scanned by mistake.
    for scanned, kind in (("garbage", "error"), ("LC1:6BFOXN*TSMAHN6H0", "warn")):
        answer = _scan(page, scanned, keystrokes=False)
        page_errors.allow("Failed to load resource")  # the garbage scan's 422
        assert answer["kind"] == kind
        assert page.evaluate(boxes) == before, f"layout shifted at {width}px by {scanned!r}"
