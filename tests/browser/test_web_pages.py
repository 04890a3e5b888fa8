"""The pages without a browser: the i18n table, date formats, the language switch, and /verify as served
in-process (headers, both languages, the strings handed to the script, the static files)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import httpx
import pytest

from registry.web import STATIC_DIR
from registry.web.i18n import STRINGS, format_date, js_strings, resolve_lang, switch_href, t
from verification.errors import Verdict
from verification.verifier import CHECKS

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def test_every_string_has_both_languages() -> None:
    for key, (zh, en) in STRINGS.items():
        assert zh.strip() and en.strip(), key
        if key.startswith("lang."):
            continue  # the switch names the *other* language, in that language
        assert not CJK.search(en), f"{key}: Chinese in the English text: {en!r}"
        if key in {"date.none", "date.format"}:
            continue  # a dash; the date patterns (Chinese leaves month and day unpadded)
        assert CJK.search(zh), f"{key}: no Chinese in {zh!r}"
        # The same placeholders on both sides.
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", en)), key


def test_t_and_resolve_lang() -> None:
    assert t("verify.title", "zh") == "证照核验"
    assert t("verify.title", "en") == "Verify a licence"
    with pytest.raises(KeyError):
        t("no.such.key", "zh")
    assert resolve_lang(None) == "zh"
    assert resolve_lang("en") == "en"
    assert resolve_lang("EN-gb") == "en"
    assert resolve_lang("zh") == "zh"
    assert resolve_lang("fr") == "zh"


def test_dates_chinese_and_iso() -> None:
    assert format_date(date(2026, 11, 23), "zh") == "2026年11月23日"
    assert format_date(date(2026, 1, 5), "zh") == "2026年1月5日"
    assert format_date(date(2026, 1, 5), "en") == "2026-01-05"
    assert format_date("2026-11-23T00:00:00Z", "zh") == "2026年11月23日"
    assert format_date(datetime(2026, 11, 23, 23, 59), "en") == "2026-11-23"
    assert format_date(None, "zh") == "—"


def test_switch_keeps_the_path_and_other_parameters() -> None:
    assert switch_href("/verify", {}, "zh") == "/verify?lang=en"
    assert switch_href("/verify", {"lang": "en"}, "en") == "/verify?lang=zh"
    assert switch_href("/window", {"case": "42", "lang": "en"}, "en") == "/window?case=42&lang=zh"


def test_the_script_carries_no_words_and_finds_all_it_asks_for() -> None:
    script = (STATIC_DIR / "verify.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    assert not CJK.search(code), "verify.js must take its words from the page's JSON block"
    handed = js_strings("zh")
    for key in re.findall(r'S\["([\w.]+)"\]', script):
        assert key in handed, key
    for verdict in Verdict:
        assert f"js.verdict.{verdict.value}" in handed
        assert f"js.next.{verdict.value}" in handed
    for check in CHECKS:
        assert f"js.check.{check}" in handed
    for key in re.findall(r'(?:fmt\(|fill\(\w+, )"([\w.]+)"', script):
        assert key in handed, key


async def test_verify_page_in_both_languages(client: httpx.AsyncClient) -> None:
    resp = await client.get("/verify")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    html = resp.text
    assert '<html lang="zh-CN">' in html
    assert '<label class="scan-form__label" for="payload">扫码或粘贴二维码内容</label>' in html
    assert 'aria-live="polite"' in html
    assert 'href="/verify?lang=en"' in html
    block = re.search(r'<script type="application/json" id="page-strings">(.*?)</script>', html, re.S)
    assert block is not None
    strings = json.loads(block.group(1))
    assert strings["js.valid"] == "有效" and strings["js.verdict.bad_signature"] == "签名不符"

    en = (await client.get("/verify", params={"lang": "en"})).text
    assert '<html lang="en">' in en
    assert "Scan or paste the QR code content" in en
    assert 'href="/verify?lang=zh"' in en
    block = re.search(r'<script type="application/json" id="page-strings">(.*?)</script>', en, re.S)
    assert block is not None
    assert json.loads(block.group(1))["js.valid"] == "Valid"

    # The page is not part of the API's OpenAPI document.
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/verify" not in schema["paths"]


async def test_static_files(client: httpx.AsyncClient) -> None:
    html = (await client.get("/verify")).text
    for name in ("site.css", "verify.js"):
        match = re.search(rf"/static/{re.escape(name)}\?v=([0-9a-f]{{12}})", html)
        assert match, name
        resp = await client.get(f"/static/{name}", params={"v": match.group(1)})
        assert resp.status_code == 200
        assert "max-age" in resp.headers["cache-control"]
    missing = await client.get("/static/nothing-here.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    outside = await client.get("/static/../app.py")
    assert outside.status_code == 404
