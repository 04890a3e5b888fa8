"""/verify in a real browser: scanner input, verdicts in words and colour, photo upload, both languages,
phone and counter widths, keyboard only. Screenshots of each state go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from registry.rendering.qr import render_qr_png
from tests.browser.conftest import LiveServer, PageErrors, unlabelled
from verification.payload import decode_payload, encode_payload

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

ZH_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` until it is truthy. (Playwright's ``wait_for_function`` evaluates strings with
    ``eval``, which the page's Content-Security-Policy forbids, rightly; ``evaluate`` is not subject to it.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        time.sleep(0.05)


def _open(page: Any, server: LiveServer, query: str = "") -> None:
    page.goto(f"{server.url}/verify{query}")
    _until(page, "document.activeElement && document.activeElement.id === 'payload'")


def _answered(page: Any) -> int:
    return int(page.get_attribute("#result", "data-answered") or 0)


def _scan(page: Any, text: str, *, keystrokes: bool = True) -> dict[str, str]:
    """Type like a USB scanner (the text, key by key, then Enter) and wait for the verdict that answers it.
    ``keystrokes=False`` inserts the text at once (as a paste does), for tests about something else."""
    seen = _answered(page)
    if keystrokes:
        page.keyboard.type(text)
    else:
        page.keyboard.insert_text(text)
    page.keyboard.press("Enter")
    return _wait_verdict(page, seen)


def _wait_verdict(page: Any, seen: int) -> dict[str, str]:
    """Wait until the page has answered more requests than ``seen``; the result as the page shows it."""
    _until(page, f"Number(document.getElementById('result').dataset.answered || 0) > {seen}")
    return {
        "state": page.get_attribute("#result", "data-state") or "",
        "word": page.inner_text("#verdict-word"),
        "reason": page.inner_text("#verdict-reason"),
        "text": page.inner_text("#result"),
    }


def _shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"verify-{name}.png"), full_page=True)


def _tampered(payload: str, name: str = "李四") -> str:
    doc = decode_payload(payload)
    doc["credentialSubject"]["holder"]["name"] = name
    return encode_payload(doc)


def test_page_loads_focused_and_every_input_is_labelled(
    page: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    _open(page, live_server)
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.evaluate("document.activeElement.id") == "payload"
    assert page.get_attribute("#result", "aria-live") == "polite"
    assert unlabelled(page) == []
    assert page.inner_text("label[for=payload]") == "扫码或粘贴二维码内容"
    assert page.inner_text("label[for=photo]").strip() == "上传二维码照片"
    assert page.get_attribute("#photo", "accept") == "image/*"
    assert "等待扫码" in page.inner_text("#result")
    # The language toggle is there and keeps the path.
    assert page.get_attribute(".lang-switch", "href") == "/verify?lang=en"
    body_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_px >= 18
    _shot(page, screenshot_dir, "idle")


def test_scanned_licence_is_valid_and_the_input_is_ready_for_the_next(
    page: Any, live_server: LiveServer, licence: dict[str, Any], screenshot_dir: Path
) -> None:
    _open(page, live_server)
    verdict = _scan(page, licence["qr_payload"])
    assert verdict["state"] == "valid", verdict
    assert verdict["word"] == "有效"
    assert "张伟" in page.inner_text("#fact-holder")
    assert page.inner_text("#fact-identifier") == licence["identifier"]
    assert page.inner_text("#fact-type") == "机动车驾驶证"
    assert ZH_DATE.search(page.inner_text("#fact-validity")), page.inner_text("#fact-validity")
    assert "在线核验" in page.inner_text("#result-status")
    assert "{" not in verdict["text"]
    # Cleared and focused: the counter keeps scanning without the mouse.
    assert page.input_value("#payload") == ""
    assert page.evaluate("document.activeElement.id") == "payload"
    colour = page.evaluate("getComputedStyle(document.querySelector('.verdict')).backgroundColor")
    assert colour == "rgb(21, 122, 58)"  # the green of --ok
    _shot(page, screenshot_dir, "valid")


def test_tampered_payload_replaces_the_last_verdict_with_bad_signature(
    page: Any, live_server: LiveServer, licence: dict[str, Any], screenshot_dir: Path
) -> None:
    _open(page, live_server)
    assert _scan(page, licence["qr_payload"])["state"] == "valid"
    verdict = _scan(page, _tampered(licence["qr_payload"]))
    assert verdict["state"] == "invalid", verdict
    assert verdict["word"] == "无效"
    assert verdict["reason"] == "签名不符"
    assert "李四" in page.inner_text("#fact-holder")  # what the code claims, under a red verdict
    colour = page.evaluate("getComputedStyle(document.querySelector('.verdict')).backgroundColor")
    assert colour == "rgb(184, 35, 43)"  # the red of --bad
    assert page.is_visible("#facts-caption")  # the facts are what the code claims, not confirmed
    page.click(".checks summary")
    checks = page.inner_text("#checks-list")
    assert re.search(r"签名\s+未通过", checks), checks
    assert "{" not in checks
    _shot(page, screenshot_dir, "bad-signature")


def test_garbage_is_not_recognised(page: Any, live_server: LiveServer, screenshot_dir: Path) -> None:
    _open(page, live_server)
    verdict = _scan(page, "HELLO-THIS-IS-NOT-A-LICENCE")
    assert verdict["state"] == "invalid"
    assert verdict["word"] == "无效"
    assert verdict["reason"] == "无法识别"
    assert "请重新扫码" in verdict["text"]  # says what to do next
    _shot(page, screenshot_dir, "malformed")


def test_english(page: Any, live_server: LiveServer, licence: dict[str, Any], screenshot_dir: Path) -> None:
    _open(page, live_server, "?lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Verify a licence"
    assert page.inner_text("label[for=payload]") == "Scan or paste the QR code content"
    assert page.inner_text("label[for=photo]").strip() == "Upload a photo of the QR code"
    assert page.get_attribute(".lang-switch", "href") == "/verify?lang=zh"
    assert "Waiting for a scan" in page.inner_text("#result")
    verdict = _scan(page, licence["qr_payload"])
    assert verdict["word"] == "Valid"
    assert page.inner_text("#fact-type") == "Motor Vehicle Driving Licence"
    validity = page.inner_text("#fact-validity")
    assert ISO_DATE.search(validity) and not ZH_DATE.search(validity), validity
    assert "Checked online" in page.inner_text("#result-status")
    verdict = _scan(page, _tampered(licence["qr_payload"]))
    assert (verdict["word"], verdict["reason"]) == ("Invalid", "Signature does not match")
    # No Chinese left in the page's own words (the holder's name and the issuer are data, not labels).
    labels = page.evaluate(
        "[...document.querySelectorAll('label, h1, h2, dt, button, summary, .lead, .hint, .verdict__next')]"
        ".map(e => e.innerText).join(' ')"
    )
    assert not re.search(r"[\u4e00-\u9fff]", labels), labels
    _shot(page, screenshot_dir, "en-invalid")
    # The toggle goes back to Chinese on the same path.
    page.click(".lang-switch")
    page.wait_for_url(re.compile(r"/verify\?lang=zh$"))
    assert page.get_attribute("html", "lang") == "zh-CN"


def test_photo_upload(page: Any, live_server: LiveServer, licence: dict[str, Any], screenshot_dir: Path) -> None:
    _open(page, live_server)
    png = render_qr_png(licence["qr_payload"])
    page.set_input_files("#photo", files=[{"name": "licence-qr.png", "mimeType": "image/png", "buffer": png}])
    verdict = _wait_verdict(page, 0)
    assert verdict["state"] == "valid", verdict
    assert verdict["word"] == "有效"
    assert page.inner_text("#fact-identifier") == licence["identifier"]
    # A picture with no code in it is answered in words, too.
    blank = _blank_png()
    page.set_input_files("#photo", files=[{"name": "blank.png", "mimeType": "image/png", "buffer": blank}])
    _until(page, "document.getElementById('verdict-reason').innerText === '无法识别'")
    _shot(page, screenshot_dir, "photo-no-code")


def _blank_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("width", "height", "query", "name"),
    [
        (390, 844, "", "phone"),
        (390, 844, "?lang=en", "phone-en"),
        (1440, 900, "", "desktop"),
        (1440, 900, "?lang=en", "desktop-en"),
    ],
)
def test_no_horizontal_scroll_and_no_layout_shift(
    page: Any,
    live_server: LiveServer,
    licence: dict[str, Any],
    screenshot_dir: Path,
    width: int,
    height: int,
    query: str,
    name: str,
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    _open(page, live_server, query)
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(fits)
    # Where the input, the camera button and the result area sit on the page (not in the viewport).
    boxes = (
        "['payload', 'result', 'camera-button'].map(id => document.getElementById(id).getBoundingClientRect())"
        ".map(b => [b.x + scrollX, b.y + scrollY, b.width, b.height])"
    )
    before = page.evaluate(boxes)
    for payload in (licence["qr_payload"], _tampered(licence["qr_payload"]), "garbage"):
        _scan(page, payload, keystrokes=False)
        assert page.evaluate(fits), f"horizontal scroll at {width}px after a verdict"
        after = page.evaluate(boxes)
        assert after == before, f"layout shifted at {width}px: {before} → {after}"
    _scan(page, licence["qr_payload"], keystrokes=False)
    page.evaluate("scrollTo(0, 0)")
    _shot(page, screenshot_dir, f"{name}-valid")


def test_keyboard_only(page: Any, live_server: LiveServer, screenshot_dir: Path) -> None:
    _open(page, live_server)
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert "camera-button" in reached and "photo" in reached, reached
    assert reached.index("camera-button") < reached.index("photo")
    # The camera button answers from the keyboard: here (no BarcodeDetector in headless Linux chromium) it
    # says so in words and points to the photo upload.
    page.focus("#camera-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-panel=message]:not([hidden])")
    text = page.inner_text("#message-text")
    has_detector = page.evaluate("'BarcodeDetector' in window")
    if not has_detector:
        assert page.inner_text("#message-title") == "无法用摄像头扫码"
        assert "上传二维码照片" in text, text
    # Back to the input with Shift+Tab and scan: the whole task without the mouse.
    page.focus("#payload")
    verdict = _scan(page, "garbage")
    assert verdict["reason"] == "无法识别"
    page.focus("#camera-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-panel=message]:not([hidden])")
    _shot(page, screenshot_dir, "camera-fallback")


# A stand-in BarcodeDetector that "sees" __PAYLOAD__ on its third frame, and a canvas for a camera.
FAKE_CAMERA = """
(() => {
  const payload = __PAYLOAD__;
  let calls = 0;
  window.__cameraStopped = false;
  window.BarcodeDetector = class {
    static async getSupportedFormats() { return ["qr_code", "ean_13"]; }
    constructor(options) { this.formats = options.formats; }
    async detect(source) { calls += 1; return calls < 3 ? [] : [{ rawValue: payload, format: "qr_code" }]; }
  };
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const canvas = document.createElement("canvas");
    canvas.width = 320; canvas.height = 240;
    canvas.getContext("2d").fillRect(0, 0, 320, 240);
    const stream = canvas.captureStream(5);
    stream.getTracks().forEach(t => { const stop = t.stop.bind(t);
      t.stop = () => { window.__cameraStopped = true; stop(); }; });
    return stream;
  };
})();
"""


def test_camera_with_barcode_detector(
    page: Any, live_server: LiveServer, licence: dict[str, Any], screenshot_dir: Path
) -> None:
    """Where the browser has BarcodeDetector (Android, macOS, ChromeOS), the camera button scans. Headless
    Linux chromium has none, so this stands one in (and a canvas for the camera); the page's flow is real."""
    page.add_init_script(FAKE_CAMERA.replace("__PAYLOAD__", json.dumps(licence["qr_payload"])))
    _open(page, live_server)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "camera-button"
    page.keyboard.press("Enter")
    verdict = _wait_verdict(page, 0)
    assert verdict["word"] == "有效", verdict
    assert page.inner_text("#fact-identifier") == licence["identifier"]
    assert page.evaluate("window.__cameraStopped") is True  # the camera is released once a code is read
    assert page.get_attribute("#camera-button", "aria-pressed") == "false"
    assert page.inner_text("#camera-button-text") == "摄像头扫码"
    _shot(page, screenshot_dir, "camera-valid")


def test_api_problems_are_shown_as_their_message(
    page: Any, page_errors: PageErrors, live_server: LiveServer, screenshot_dir: Path
) -> None:
    problem = {
        "type": f"{live_server.url}/problems/rate_limited",
        "title": "请求过于频繁 / Too many requests",
        "status": 429,
        "detail": "核验请求过于频繁，请 7 秒后重试 / Too many verification requests; retry in 7 s",
        "code": "rate_limited",
        "retry_after": 7,
    }
    page.route(
        "**/api/v1/verifications",
        lambda route: route.fulfill(
            status=429,
            headers={"Content-Type": "application/problem+json", "Retry-After": "7"},
            body=json.dumps(problem, ensure_ascii=False),
        ),
    )
    _open(page, live_server)
    page.keyboard.type("LC1:ANYTHING")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-panel=message]:not([hidden])")
    shown = page.inner_text("#result")
    assert "核验请求过于频繁，请 7 秒后重试" in shown
    assert "Too many" not in shown and "{" not in shown and "rate_limited" not in shown
    assert page.evaluate("document.activeElement.id") == "payload"
    _shot(page, screenshot_dir, "rate-limited")
    # The server unreachable: words again, never a stack trace.
    page.unroute("**/api/v1/verifications")
    page.route("**/api/v1/verifications", lambda route: route.abort("connectionrefused"))
    page.keyboard.type("LC1:ANYTHING")
    page.keyboard.press("Enter")
    _until(page, "document.getElementById('message-text').innerText.includes('无法连接服务器')")
    # The browser itself logs the refused and 429 requests; those are what this test provoked.
    page_errors.allow("Failed to load resource")
