"""/console in a real browser, by keyboard: an officer of an issuing department logs in, issues a licence from
the form generated from its template (a wrong field is caught by the field and issues nothing), and the
licence's QR (read back from a screenshot) verifies and its PDF names it; finds it by the holder's name,
suspends, reinstates and renews it; bulk-issues a CSV with two bad rows and downloads the error report;
English; phone and desktop widths. Screenshots go to test-artifacts/screenshots/console-*.png."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.licence_types import default_catalog
from tests.browser.conftest import LiveServer, PageErrors, unlabelled
from tests.factories import corrupt_check, new_resident_id, new_uscc

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PASSWORD = "Issuing-Desk-2026"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
ZH_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture(scope="module")
def officer(live_server: LiveServer) -> dict[str, Any]:
    """An issuing department (driving licences, ID cards, real-estate titles) and one officer of it."""
    out = live_server.cli(
        "admin", "create-org", "--code", new_uscc(), "--name", "深圳市公安局交通警察支队", "--role", "issuer",
        "--license-types", "driving_license,resident_id_card,real_estate_certificate", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    org: dict[str, Any] = json.loads(out.stdout)
    username = f"officer-{uuid.uuid4().hex[:6]}"
    out = live_server.cli(
        "admin", "create-user", "--org", org["code"], "--username", username, "--password", PASSWORD,
        "--name", "陈静", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return {**org, "username": username}


@pytest.fixture(scope="module")
def api(live_server: LiveServer, officer: dict[str, Any]) -> Iterator[httpx.Client]:
    """The department's own API client (client credentials), to check what the page did."""
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": officer["client_id"],
            "client_secret": officer["client_secret"],
        },
    ).json()["access_token"]
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


def _until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll ``expression`` (``wait_for_function`` uses eval, which the page's CSP rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        time.sleep(0.05)


def _active(page: Any) -> str:
    return str(page.evaluate("(a => a ? a.id || a.tagName : '')(document.activeElement)"))


def _tab_to(page: Any, element_id: str, limit: int = 60, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until ``element_id`` has the focus: it must be reachable by keyboard."""
    for _ in range(limit):
        if _active(page) == element_id:
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    assert _active(page) == element_id, f"{element_id} not reached by keyboard (at {_active(page)})"


def _login(page: Any, server: LiveServer, officer: dict[str, Any], query: str = "") -> None:
    """Open the console, get sent to /login, and log in with the keyboard alone."""
    page.goto(f"{server.url}/console{query}")
    assert "/login?next=" in page.url
    _until(page, "document.activeElement && document.activeElement.id === 'identity'")
    page.keyboard.type(officer["username"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console"))
    assert "陈静" in page.inner_text(".viewer")


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _shot(page: Any, folder: Path, name: str, *, full: bool = True) -> None:
    page.screenshot(path=str(folder / f"console-{name}.png"), full_page=full)


def _verdict(server: LiveServer, payload: str) -> str:
    resp = httpx.post(f"{server.url}/api/v1/verifications", json={"payload": payload}, timeout=30)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["verdict"])


def _verdict_becomes(server: LiveServer, payload: str, expected: str) -> None:
    """The verdict once the status change has reached the verifier's status cache (within a second or so)."""
    deadline = time.monotonic() + 5
    while (verdict := _verdict(server, payload)) != expected:
        assert time.monotonic() < deadline, f"verdict {verdict!r}, expected {expected!r}"
        time.sleep(0.2)


def _type_field(page: Any, element_id: str, text: str) -> None:
    _tab_to(page, element_id)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def test_issue_from_the_generated_form_by_keyboard(
    page: Any, live_server: LiveServer, officer: dict[str, Any], api: httpx.Client, screenshot_dir: Path
) -> None:
    import zxingcpp
    from PIL import Image
    from pypdf import PdfReader

    holder_id = new_resident_id(born=None, male=True)
    _login(page, live_server, officer, "?tab=issue&type=driving_license")
    assert page.inner_text("h1") == "发证管理"
    assert page.inner_text("#issue-heading") == "签发机动车驾驶证"
    assert unlabelled(page) == []
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    assert page.get_attribute("#f-file_number", "placeholder") == "例：440300512867"
    assert page.inner_text("label[for=f-vehicle_classes]").startswith("准驾车型")

    # The holder first; the licence's 证号 and 姓名 follow the holder (the template requires them equal).
    _type_field(page, "holder-id-number", holder_id[:-1] + ("0" if holder_id[-1] != "0" else "1"))
    page.keyboard.press("Tab")
    assert "校验码不符" in page.inner_text("#holder-id-number-error")  # checked as soon as it is left
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type(holder_id)
    assert page.inner_text("#holder-id-number-error") == ""  # and again at every key once it was wrong
    page.keyboard.press("Tab")
    page.keyboard.type("林晓峰")
    assert page.input_value("#f-licence_number") == holder_id
    assert page.input_value("#f-name") == "林晓峰"
    _tab_to(page, "f-sex")
    page.keyboard.press("ArrowDown")  # 请选择 → 男
    assert page.input_value("#f-sex") == "男"
    _type_field(page, "f-nationality", "中国")
    _type_field(page, "f-address", "广东省深圳市福田区福田街道福山社区彩田路2008号彩福大厦12栋1203")
    _type_field(page, "f-birth_date", "1988-02-30")  # no such day
    _type_field(page, "f-first_issue_date", "2010-07-12")
    assert "有效日期" in page.inner_text("#f-birth_date-error")
    _type_field(page, "f-vehicle_classes", "C9")
    page.keyboard.press("Tab")
    assert "格式不正确" in page.inner_text("#f-vehicle_classes-error")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("C1")
    _type_field(page, "f-file_number", "440300512867")
    _shot(page, screenshot_dir, "issue-form-error")

    # Enter submits; the wrong date stops it: a summary linking to the field, and nothing issued.
    page.keyboard.press("Enter")
    _until(page, "!document.getElementById('issue-errors').hidden")
    assert _active(page) == "issue-errors"
    assert "出生日期" in page.inner_text("#issue-errors")
    assert page.is_hidden("#issue-step-preview")
    assert api.get("/api/v1/licenses", params={"q": holder_id}).json() == []
    _tab_to(page, "issue-errors")
    page.keyboard.press("Tab")  # the summary's link to the field
    page.keyboard.press("Enter")
    assert _active(page) == "f-birth_date"
    page.keyboard.press("Control+A")
    page.keyboard.type("1988-03-15")
    assert page.inner_text("#f-birth_date-error") == ""
    page.evaluate("scrollTo(0, 0)")
    _shot(page, screenshot_dir, "issue-form")

    # Preview, then issue. Two presses of Enter on the button issue one licence (one Idempotency-Key).
    page.keyboard.press("Enter")
    _until(page, "!document.getElementById('issue-step-preview').hidden")
    preview = page.inner_text("#preview-list")
    assert "林晓峰" in preview and holder_id in preview and "C1" in preview and ZH_DATE.search(preview)
    _tab_to(page, "issue-confirm")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    _until(page, "!document.getElementById('issue-step-result').hidden")
    identifier = page.inner_text("#result-identifier")
    assert identifier.startswith("1.2.156.3005.2.")
    found = api.get("/api/v1/licenses", params={"q": holder_id}).json()
    assert [x["identifier"] for x in found] == [identifier]
    _until(page, "(i => i.complete && i.naturalWidth > 0)(document.getElementById('result-qr'))")
    _shot(page, screenshot_dir, "issued")

    # The QR shown on the page, read back from a screenshot, verifies.
    png = page.locator("#result-qr").screenshot()
    (screenshot_dir / "console-issued-qr.png").write_bytes(png)
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert codes, "no QR code found in the screenshot"
    assert _verdict(live_server, codes[0].text) == "valid"
    # The PDF link opens the licence's PDF, which names it.
    href = page.get_attribute("#result-pdf", "href")
    resp = page.request.get(f"{live_server.url}{href}")
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(resp.body())).pages)
    assert identifier in text and "林晓峰" in text
    # The next licence starts from an empty form.
    _tab_to(page, "issue-next")
    page.keyboard.press("Enter")
    assert _active(page) == "holder-id-number" and page.input_value("#holder-id-number") == ""


def test_find_suspend_reinstate_and_renew(
    page: Any,
    page_errors: PageErrors,
    live_server: LiveServer,
    officer: dict[str, Any],
    api: httpx.Client,
    screenshot_dir: Path,
) -> None:
    lt = default_catalog().get("driving_license")
    holder_id = new_resident_id(male=False)
    fields = {**lt.example_fields(), "licence_number": holder_id, "name": "慕容雪", "sex": "女"}
    body = {
        "type": lt.type,
        "holder": {"id_type": "resident_id", "id_number": holder_id, "name": "慕容雪"},
        "fields": fields,
    }
    issued = api.post("/api/v1/licenses", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}).json()
    identifier = issued["identifier"]

    _login(page, live_server, officer, "?tab=find")
    assert _active(page) == "q"
    page.keyboard.type("慕容")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"tab=find&q="))
    assert "找到 1 张证照" in page.inner_text("#results")
    _tab_to(page, "q")
    page.keyboard.press("Tab")  # the search button
    page.keyboard.press("Tab")  # the first result
    assert page.evaluate("document.activeElement.textContent.trim()") == identifier
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"id="))
    assert page.inner_text("#detail-identifier") == identifier
    assert page.inner_text("#detail-status") == "有效"

    # A final action asks for an explicit confirmation: without it nothing happens.
    _tab_to(page, "open-revoke")
    page.keyboard.press("Enter")
    assert _active(page) == "dlg-revoke-reason"
    page.keyboard.type("以欺骗手段取得")
    _tab_to(page, "dlg-revoke-confirm")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert _active(page) == "dlg-revoke-confirm"
    assert page.inner_text("#dlg-revoke-confirm-error") == "请勾选以确认"
    page.keyboard.press("Escape")
    assert _active(page) == "open-revoke" and not page.evaluate("document.getElementById('dlg-revoke').open")
    assert _verdict(live_server, issued["qr_payload"]) == "valid"

    # Suspend with a reason: the public check then says suspended.
    _tab_to(page, "open-suspend", back=True)
    page.keyboard.press("Enter")
    assert _active(page) == "dlg-suspend-reason"
    _shot(page, screenshot_dir, "suspend-dialog", full=False)
    page.keyboard.type("涉嫌违法，依法暂扣")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=suspend"))
    assert _active(page) == "done-notice"
    assert page.inner_text("#detail-status") == "已暂扣"
    assert "涉嫌违法，依法暂扣" in page.inner_text("#history-body")
    _verdict_becomes(live_server, issued["qr_payload"], "suspended")

    # Reinstate (Enter in the reason submits).
    _tab_to(page, "open-reinstate")
    page.keyboard.press("Enter")
    page.keyboard.type("调查结束，予以发还")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=reinstate"))
    assert page.inner_text("#detail-status") == "有效"
    _verdict_becomes(live_server, issued["qr_payload"], "valid")
    assert page.locator("#history-body tr").count() == 3  # issued, suspended, reinstated; newest first
    assert "暂扣发还" in page.inner_text("#history-body tr:first-child")
    page.evaluate("scrollTo(0, 0)")
    _shot(page, screenshot_dir, "detail")

    # Renew: the page shows the new version, linked to the old.
    _tab_to(page, "open-renew")
    page.keyboard.press("Enter")
    page.keyboard.type("有效期届满，申请延续")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=renew"))
    renewed = page.inner_text("#detail-identifier")
    assert renewed != identifier and renewed.split(".")[-2] == "002"
    assert "已延续" in page.inner_text("#done-notice")
    assert identifier in page.inner_text(".detail__main")  # 上一版本
    versions = [x["identifier"] for x in api.get("/api/v1/licenses", params={"q": "慕容雪"}).json()]
    assert versions == [renewed, identifier]
    _verdict_becomes(live_server, issued["qr_payload"], "revoked")  # the old version is superseded
    page.evaluate("scrollTo(0, 0)")
    _shot(page, screenshot_dir, "renewed")

    # Amend: only what changed is sent; the page shows the next version with the new address.
    _tab_to(page, "open-amend")
    page.keyboard.press("Enter")
    assert _active(page) == "dlg-amend-holder-name"
    _type_field(page, "a-address", "广东省深圳市南山区粤海街道科技园社区科苑路15号")
    _tab_to(page, "dlg-amend-reason")
    page.keyboard.type("住址变更")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=amend"))
    amended = page.inner_text("#detail-identifier")
    assert amended.split(".")[-2] == "003"
    assert "科苑路15号" in page.inner_text(".detail__main")
    credential = api.get(f"/api/v1/licenses/{amended}").json()["credential"]
    assert credential["credentialSubject"]["fields"]["address"] == "广东省深圳市南山区粤海街道科技园社区科苑路15号"
    assert credential["credentialSubject"]["fields"]["vehicle_classes"] == "C1"  # the rest carried over

    # A problem from the API is shown as its message, in words.
    page.route(
        "**/api/v1/licenses/*/suspend",
        lambda route: route.fulfill(
            status=409,
            headers={"Content-Type": "application/problem+json"},
            body=json.dumps(
                {
                    "status": 409,
                    "code": "invalid_transition",
                    "detail": "证照当前状态为「superseded」，不能暂扣 / nope",
                },
                ensure_ascii=False,
            ),
        ),
    )
    _tab_to(page, "open-suspend")
    page.keyboard.press("Enter")
    page.keyboard.type("测试")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _until(page, "!document.querySelector('#dlg-suspend [data-role=problem]').hidden")
    shown = page.inner_text("#dlg-suspend [data-role=problem]")
    assert shown == "证照当前状态为「superseded」，不能暂扣" and "{" not in shown
    page_errors.allow("Failed to load resource")


def _bulk_csv(rows: int, bad: dict[int, str]) -> bytes:
    """``rows`` driving licences; the rows in ``bad`` (1-based) get a wrong ID check character or date."""
    lt = default_catalog().get("driving_license")
    names = [f.name for f in lt.fields]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["holder_id_type", "holder_id_number", "holder_name", *names])
    surnames = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
    for n in range(1, rows + 1):
        rid = new_resident_id(male=n % 2 == 1)
        name = surnames[n % len(surnames)] + "建" + "国华军平"[n % 4]
        values = {**lt.example_fields(), "licence_number": rid, "name": name, "sex": "男" if n % 2 else "女"}
        values["file_number"] = f"4403{n:08d}"
        if bad.get(n) == "id":
            rid = corrupt_check(rid)
            values["licence_number"] = rid
        if bad.get(n) == "date":
            values["first_issue_date"] = "2010-13-40"
        writer.writerow(["resident_id", rid, name, *(values[k] for k in names)])
    return out.getvalue().encode()


def test_bulk_upload_with_progress_and_error_report(
    page: Any, page_errors: PageErrors, live_server: LiveServer, officer: dict[str, Any], screenshot_dir: Path
) -> None:
    _login(page, live_server, officer, "?tab=batch")
    assert unlabelled(page) == []
    assert page.get_attribute("#batch-template", "href") == "/console/batch-template/driving_license.csv"
    template = page.request.get(f"{live_server.url}/console/batch-template/driving_license.csv")
    assert template.status == 200 and template.text().lstrip("\ufeff").startswith("holder_id_type,holder_id_number")

    # A file with a bad header is refused at once, in words, beside the file input.
    _tab_to(page, "batch-file")
    page.set_input_files(
        "#batch-file", files=[{"name": "wrong.csv", "mimeType": "text/csv", "buffer": b"a,b,c\n1,2,3\n"}]
    )
    _tab_to(page, "batch-submit")
    page.keyboard.press("Enter")
    _until(page, "document.getElementById('batch-file-error').textContent !== ''")
    assert "表头有误" in page.inner_text("#batch-file-error")
    page_errors.allow("status of 422")  # the browser logs the refused upload; this test provoked it

    data = _bulk_csv(50, {7: "id", 31: "date"})
    _tab_to(page, "batch-file", back=True)
    page.set_input_files(
        "#batch-file", files=[{"name": "驾驶证2026年11月.csv", "mimeType": "text/csv", "buffer": data}]
    )
    _tab_to(page, "batch-submit")
    boxes = "['batch-progress', 'batch-form'].map(id => document.getElementById(id).getBoundingClientRect())" \
        ".map(b => [b.x + scrollX, b.y + scrollY, b.width, b.height])"  # fmt: skip
    before = page.evaluate(boxes)
    page.keyboard.press("Enter")
    _until(page, "document.getElementById('batch-progress').dataset.state === 'done'", timeout=60)
    assert page.evaluate(boxes) == before  # the progress panel was reserved: nothing moved
    assert page.inner_text("#batch-issued") == "48"
    assert page.inner_text("#batch-failed") == "2"
    assert page.inner_text("#batch-skipped") == "0"
    bar = page.evaluate("(b => [b.value, b.max])(document.getElementById('batch-bar'))")
    assert bar == [50, 50]
    status = page.inner_text("#batch-status")
    assert "签发 48 张" in status and "失败 2 行" in status
    assert "错误报告" in page.inner_text("#batch-result")
    _shot(page, screenshot_dir, "bulk-result")

    _tab_to(page, "batch-report")
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    report = Path(info.value.path()).read_bytes().decode("utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(report)))
    assert [row["line"] for row in lines] == ["8", "32"]  # the header is line 1
    assert "校验" in lines[0]["message"]

    # Uploading the same file again issues nothing twice.
    page.set_input_files("#batch-file", files=[{"name": "again.csv", "mimeType": "text/csv", "buffer": data}])
    _tab_to(page, "batch-submit")
    page.keyboard.press("Enter")
    _until(page, "document.getElementById('batch-filename').textContent === 'again.csv' && "
                 "document.getElementById('batch-progress').dataset.state === 'done'", timeout=60)  # fmt: skip
    assert (page.inner_text("#batch-issued"), page.inner_text("#batch-skipped")) == ("0", "48")


def test_english(page: Any, live_server: LiveServer, officer: dict[str, Any], screenshot_dir: Path) -> None:
    _login(page, live_server, officer, "?lang=en&tab=issue&type=real_estate_certificate")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Issuing console"
    assert page.inner_text("#tab-find") == "Find"
    assert page.inner_text("label[for=f-unit_number]").startswith("Real estate unit number")
    # The holder may be a person or a company here: the ID check follows the chosen kind.
    page.select_option("#holder-id-type", "uscc")
    _type_field(page, "holder-id-number", corrupt_check(new_uscc("91")))
    page.keyboard.press("Tab")
    assert page.inner_text("#holder-id-number-error") == "The check character does not match: check each character"
    words = page.evaluate(
        "[...document.querySelectorAll('h1, h2, h3, legend, button, .tabs__item, .field__error, .hint')]"
        ".map(e => e.innerText).join(' ')"
    )
    # The page's own words are English (units such as ㎡ are the template's, not the page's).
    assert not CJK.search(words.replace("㎡", "").replace("长期", "")), words
    _shot(page, screenshot_dir, "en-issue")
    page.goto(f"{live_server.url}/console?tab=find")
    assert page.get_attribute("html", "lang") == "en"  # the choice is remembered
    page.keyboard.type("1")
    page.goto(f"{live_server.url}/console?tab=find&q=")
    table = page.inner_text("#results")
    assert "Latest licences" in table and ISO_DATE.search(table) and not ZH_DATE.search(table)
    page.goto(f"{live_server.url}/console?tab=batch&lang=zh")
    assert page.inner_text("#tab-batch") == "批量签发"


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1440, 900)])
def test_no_horizontal_scroll_and_every_input_labelled(
    page: Any,
    live_server: LiveServer,
    officer: dict[str, Any],
    api: httpx.Client,
    screenshot_dir: Path,
    width: int,
    height: int,
) -> None:
    lt = default_catalog().get("driving_license")
    holder = lt.example_holder
    body = {
        "type": lt.type,
        "holder": {"id_type": holder.id_type, "id_number": holder.id_number, "name": holder.name},
        "fields": lt.example_fields(),
    }
    resp = api.post("/api/v1/licenses", json=body, headers={"Idempotency-Key": f"layout-{width}"})
    assert resp.status_code == 201, resp.text
    page.set_viewport_size({"width": width, "height": height})
    _login(page, live_server, officer, "?tab=find&q=")
    first = page.get_attribute(".results__link", "href")
    for query in (
        "?tab=issue",
        "?tab=issue&type=driving_license",
        "?tab=issue&type=real_estate_certificate&lang=en",
        "?tab=find&q=&lang=zh",
        "?tab=batch",
        "?tab=keys",
    ):
        page.goto(f"{live_server.url}/console{query}")
        assert _fits(page), f"horizontal scroll at {width}px on {query}"
        assert unlabelled(page) == [], query
        _shot(page, screenshot_dir, f"{width}-{re.sub(r'[^a-z_]+', '-', query).strip('-')}")
    page.goto(f"{live_server.url}{first}")
    assert _fits(page), f"horizontal scroll at {width}px on a licence's detail"
    for action in page.evaluate("[...document.querySelectorAll('[data-open]')].map(b => b.id)"):
        page.click(f"#{action}")
        assert _fits(page) and unlabelled(page) == [], action
        page.keyboard.press("Escape")
    if width == 390:
        page.goto(f"{live_server.url}/console?tab=issue&type=driving_license")
        _shot(page, screenshot_dir, "phone-issue", full=False)
        page.goto(f"{live_server.url}{first}")
        _shot(page, screenshot_dir, "phone-detail")
