"""/window served in-process: who may open it, both languages, a case rendered on the server (so a reload shows
it), today's panel, CSRF on the actions its script takes; and ``GET /api/v1/cases?date=``, the day list behind
the panel (roles, other agencies, bad parameters — never a 500)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from registry.context import Registry
from tests.conftest import Org, csrf_of, page_login
from tests.integration.test_bad_input import assert_problem
from tests.integration.test_sharing import NEWBORN, RENEW_DRIVING, code_of, give, open_case

pytestmark = pytest.mark.integration

CHINA = timezone(timedelta(hours=8))
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def today() -> str:
    return datetime.now(UTC).astimezone(CHINA).date().isoformat()


def page_data(text: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="window-data">(.*?)</script>', text, re.S)
    assert found is not None, "no #window-data block"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def visible_text(text: str) -> str:
    """The page's words without its script blocks and tags (for language checks)."""
    text = re.sub(r"<script\b.*?</script>", " ", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def by_id(text: str, ident: str) -> str:
    found = re.search(rf'id="{ident}"[^>]*>(.*?)</', text, re.S)
    assert found is not None, ident
    return html.unescape(found.group(1)).strip()


async def clerk(browser_like: httpx.AsyncClient, make_staff: Any, org: Org | None = None) -> Any:
    staff = await make_staff("agency", org=org)
    resp = await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    assert resp.status_code == 303 and resp.headers["location"] == "/window"
    return staff


# --- who may open the page -----------------------------------------------------------------------------------


async def test_without_a_session_the_page_sends_you_to_log_in(browser_like: httpx.AsyncClient) -> None:
    resp = await browser_like.get("/window?case=abc")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2Fwindow%3Fcase%3Dabc"


async def test_other_audiences_get_the_forbidden_page(
    browser_like: httpx.AsyncClient, make_staff: Any, make_holder: Any
) -> None:
    officer = await make_staff("issuer")
    await page_login(browser_like, "/login", username=officer.username, password=officer.password)
    resp = await browser_like.get("/window")
    assert resp.status_code == 403
    assert "无权访问此页面" in resp.text and 'href="/console"' in resp.text
    assert "window-data" not in resp.text

    browser_like.cookies.clear()
    holder = await make_holder()
    await page_login(browser_like, "/app/login", id_number=holder.id_number, password=holder.password)
    resp = await browser_like.get("/window")
    assert resp.status_code == 403 and 'href="/app"' in resp.text


# --- the page ------------------------------------------------------------------------------------------------


async def test_the_page_in_chinese_and_english(browser_like: httpx.AsyncClient, make_staff: Any) -> None:
    staff = await clerk(browser_like, make_staff)
    resp = await browser_like.get("/window")
    assert resp.status_code == 200
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    text = resp.text
    assert '<html lang="zh-CN">' in text
    assert "<h1>窗口办件</h1>" in text
    assert '<label for="service-search" class="field__label">查找事项（名称或编码）</label>' in text
    assert '<label class="scan-form__label" for="scan-input">扫描申请人的亮证码</label>' in text
    assert "机动车驾驶证期满换证" in text and RENEW_DRIVING in text  # the catalogue, server-rendered
    assert by_id(text, "stat-cases") == "0"
    assert "今天还没有办件。" in text
    assert 'href="/window?lang=en"' in text
    assert csrf_of(text)
    assert "/static/common.js?v=" in text and "/static/window.js?v=" in text and "/static/window.css?v=" in text
    data = page_data(text)
    assert data["agency"] == staff.org.code
    assert data["item"] is None and data["case"] is None
    assert data["today"] == today()
    assert data["types"]["driving_license"] == {"name": "机动车驾驶证", "name_en": "Motor Vehicle Driving Licence"}
    block = re.search(r'<script type="application/json" id="page-strings">(.*?)</script>', text, re.S)
    assert block is not None
    strings = json.loads(block.group(1))
    assert strings["js.window.state.pulled"] == "已调取"

    en = await browser_like.get("/window?lang=en")
    assert '<html lang="en">' in en.text
    assert "<h1>Service window</h1>" in en.text
    assert "Driving licence renewal on expiry" in en.text
    words = visible_text(en.text)
    # The page's own words are English; data (the clerk's and the agency's names) may be Chinese.
    for name in ("李娜", staff.org.name, "电子证照库"):
        words = words.replace(name, "")
    assert not CJK.search(words.replace("中文", "")), CJK.findall(words)


async def test_a_chosen_service_item_survives_a_reload(browser_like: httpx.AsyncClient, make_staff: Any) -> None:
    await clerk(browser_like, make_staff)
    resp = await browser_like.get(f"/window?service={NEWBORN}")
    assert resp.status_code == 200
    text = resp.text
    assert by_id(text, "pick-current-name") == "新生儿入户"
    assert text.count('class="material"') == 5
    assert text.count('data-state="waiting"') == 5
    assert "居民户口簿" in text  # the paper no registry holds
    assert "母亲" in text and "父亲" in text and "任选其一" in text
    assert 'aria-disabled="true"' in text  # no PDF before there is a case
    assert page_data(text)["item"]["code"] == NEWBORN
    en = await browser_like.get(f"/window?service={NEWBORN}&lang=en")
    assert "Household registration of a newborn" in en.text and "mother" in en.text and "One of a group" in en.text

    resp = await browser_like.get("/window?service=440300-XX-NOPE-001&lang=zh")  # the cookie remembers en
    assert resp.status_code == 404
    assert "事项 440300-XX-NOPE-001 不存在" in resp.text and 'role="alert"' in resp.text


async def test_a_case_is_rendered_on_the_server(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient, registry: Registry, issuer: Org, make_staff: Any,
    make_holder: Any,
) -> None:  # fmt: skip
    staff = await clerk(browser_like, make_staff)
    holder = await make_holder("周杰")
    ident = await give(client, registry, issuer, holder, "resident_id_card")
    code = await code_of(client, holder, service_code=RENEW_DRIVING)
    page = await browser_like.get("/window")
    resp = await browser_like.post(
        "/api/v1/cases",
        json={"service_code": RENEW_DRIVING, "share_code": code},
        headers={"X-CSRF-Token": csrf_of(page.text)},
    )
    assert resp.status_code == 201, resp.text
    case = resp.json()
    assert [m["state"] for m in case["materials"]] == ["pulled", "missing"]

    text = (await browser_like.get(f"/window?case={case['case_id']}")).text
    assert by_id(text, "pick-current-name") == "机动车驾驶证期满换证"
    pulled = re.search(r'<li class="material" id="material-0" data-state="pulled".*?</li>', text, re.S)
    assert (
        pulled is not None
        and ident in pulled.group(0)
        and "已调取" in pulled.group(0)
        and "核验有效" in pulled.group(0)
    )
    missing = re.search(r'<li class="material" id="material-1" data-state="missing".*?</li>', text, re.S)
    assert missing is not None and "缺失" in missing.group(0) and 'id="commit-open-1"' in missing.group(0)
    assert '<label for="commit-due-1"' in missing.group(0)
    assert f'href="/api/v1/cases/{case["case_id"]}/materials.pdf"' in text
    assert by_id(text, "sum-exempted") == "1" and by_id(text, "sum-missing") == "1"
    assert case["case_id"] in by_id(text, "case-meta")
    # Today's panel counts it, and lists it as the current case, with the applicant's name.
    assert by_id(text, "stat-cases") == "1" and by_id(text, "stat-spared") == "1" and by_id(text, "stat-rate") == "50%"
    assert f'href="/window?case={case["case_id"]}" data-case="{case["case_id"]}" aria-current="page"' in text
    assert "周杰 · 免提交 1 份 · 缺 1 项" in text
    data = page_data(text)
    assert data["case"]["case_id"] == case["case_id"]
    assert all(m["credential"] is None for m in data["case"]["materials"])  # the page does not carry them

    # A commitment shows its due date, in each language's format.
    due = (datetime.now(UTC).astimezone(CHINA).date() + timedelta(days=20)).isoformat()
    resp = await browser_like.post(
        f"/api/v1/cases/{case['case_id']}/commitments",
        json={"license_type": "driving_license", "due_date": due},
        headers={"X-CSRF-Token": csrf_of(text)},
    )
    assert resp.status_code == 200, resp.text
    text = (await browser_like.get(f"/window?case={case['case_id']}")).text
    y, m, d = (int(p) for p in due.split("-"))
    assert f"已告知承诺：须于 {y}年{m}月{d}日 前提交。" in text
    en = (await browser_like.get(f"/window?case={case['case_id']}&lang=en")).text
    assert f"Committed: to be brought by {due}." in en and ">Pulled<" in en and ">Committed<" in en
    assert staff.org.code == data["agency"]


async def test_another_agencys_case_is_not_shown(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any,
    make_staff: Any, make_holder: Any,
) -> None:  # fmt: skip
    other = await make_org("agency")
    holder = await make_holder()
    await give(client, registry, issuer, holder, "resident_id_card")
    theirs = (
        await open_case(
            client,
            other,
            service_code=RENEW_DRIVING,
            share_code=await code_of(client, holder, service_code=RENEW_DRIVING),
        )
    ).json()
    await clerk(browser_like, make_staff)
    for case_id in (theirs["case_id"], "not-a-case", "x" * 500, "'\"><script>"):
        resp = await browser_like.get("/window", params={"case": case_id})
        assert resp.status_code == 404, case_id
        assert 'role="alert"' in resp.text and "不是本机构的办件" in resp.text
        assert '"><script>' not in resp.text  # the address is shown escaped, never as markup
        assert page_data(resp.text)["case"] is None


async def test_the_pages_actions_need_the_csrf_token(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient, registry: Registry, issuer: Org, make_staff: Any,
    make_holder: Any,
) -> None:  # fmt: skip
    await clerk(browser_like, make_staff)
    holder = await make_holder()
    await give(client, registry, issuer, holder, "driving_license")
    code = await code_of(client, holder, service_code=RENEW_DRIVING)
    body = {"service_code": RENEW_DRIVING, "share_code": code}
    assert_problem(await browser_like.post("/api/v1/cases", json=body), 403, "csrf_failed")
    assert_problem(
        await browser_like.post("/api/v1/cases", json=body, headers={"X-CSRF-Token": "guessed"}), 403, "csrf_failed"
    )
    page = await browser_like.get("/window")
    # The code was not spent by the refused attempts.
    resp = await browser_like.post("/api/v1/cases", json=body, headers={"X-CSRF-Token": csrf_of(page.text)})
    assert resp.status_code == 201, resp.text
    case_id = resp.json()["case_id"]
    assert_problem(
        await browser_like.post(f"/api/v1/cases/{case_id}/commitments", json={"license_type": "resident_id_card"}),
        403,
        "csrf_failed",
    )
    # Reads need no token: the side panel's calls.
    assert (await browser_like.get(f"/api/v1/cases?date={today()}")).status_code == 200
    assert (await browser_like.get(f"/api/v1/stats?start={today()}&end={today()}")).status_code == 200


# --- GET /api/v1/cases?date= ----------------------------------------------------------------------------------


async def test_the_day_list_of_an_agency(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    agency = await make_org("agency", name="深圳市公安局福田分局户政科")
    other = await make_org("agency")
    mother = await make_holder("陈静", male=False)
    father = await make_holder("王强")
    for t in ("birth_certificate", "resident_id_card", "marriage_certificate"):
        await give(client, registry, issuer, mother, t)
    await give(client, registry, issuer, father, "resident_id_card")

    assert (await client.get("/api/v1/cases", headers=agency.auth)).json() == []
    first = (
        await open_case(
            client, agency, service_code=NEWBORN, share_code=await code_of(client, mother, service_code=NEWBORN)
        )
    ).json()
    assert first["missing"] == 1  # the father's ID card
    joined = await client.post(
        f"/api/v1/cases/{first['case_id']}/share-codes",
        json={"share_code": await code_of(client, father, service_code=NEWBORN)},
        headers=agency.auth,
    )
    assert joined.json()["missing"] == 0
    empty = (await open_case(client, agency, service_code=RENEW_DRIVING)).json()  # no code yet
    theirs = (await open_case(client, other, service_code=RENEW_DRIVING)).json()

    resp = await client.get("/api/v1/cases", params={"date": today()}, headers=agency.auth)
    assert resp.status_code == 200, resp.text
    listed = resp.json()
    assert [c["case_id"] for c in listed] == [empty["case_id"], first["case_id"]]  # newest first, ours only
    newest, oldest = listed
    assert newest["applicant_name"] is None and (newest["exempted"], newest["missing"]) == (0, 2)
    assert oldest["service_name"] == "新生儿入户" and oldest["service_name_en"] == "Household registration of a newborn"
    assert oldest["applicant_name"] == "陈静"
    # Birth certificate, both ID cards, the mother's marriage certificate (the one-of group needs one).
    assert (oldest["exempted"], oldest["missing"]) == (4, 0)
    assert oldest["created_at"].endswith("Z")
    # Today is the default; another day has none; limit keeps the newest.
    assert [c["case_id"] for c in (await client.get("/api/v1/cases", headers=agency.auth)).json()] == [
        empty["case_id"],
        first["case_id"],
    ]
    assert (await client.get("/api/v1/cases?date=2000-01-01", headers=agency.auth)).json() == []
    limited = (await client.get("/api/v1/cases?limit=1", headers=agency.auth)).json()
    assert [c["case_id"] for c in limited] == [empty["case_id"]]
    other_list = (await client.get("/api/v1/cases", headers=other.auth)).json()
    assert [c["case_id"] for c in other_list] == [theirs["case_id"]]


async def test_the_day_list_refuses_others_and_bad_parameters(
    client: httpx.AsyncClient, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    agency = await make_org("agency")
    holder = await make_holder()
    assert_problem(await client.get("/api/v1/cases"), 401, "not_authenticated")
    assert_problem(
        await client.get("/api/v1/cases", headers={"Authorization": "Bearer nonsense"}), 401, "not_authenticated"
    )
    assert_problem(await client.get("/api/v1/cases", headers=issuer.auth), 403, "forbidden")
    assert_problem(await client.get("/api/v1/cases", headers=holder.auth), 403, "forbidden")
    for query in (
        "date=yesterday",
        "date=2026-02-30",
        "date=2026-13-01",
        "date=9999-12-31",
        "date=0001-01-01",
        "date=1999-12-31",
        "date=" + "9" * 40,
        "limit=0",
        "limit=501",
        "limit=-3",
    ):
        resp = await client.get(f"/api/v1/cases?{query}", headers=agency.auth)
        assert resp.status_code in (400, 422), (query, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json"), query
        assert "Traceback" not in resp.text
    resp = await client.get("/api/v1/cases?limit=many", headers=agency.auth)
    assert resp.status_code in (400, 422) and resp.json()["code"] in ("bad_request", "validation_failed")
    assert (await client.get("/api/v1/cases?limit=500&date=2000-01-01", headers=agency.auth)).json() == []


# --- the script's words ---------------------------------------------------------------------------------------


def test_the_script_carries_no_words_and_finds_all_it_asks_for() -> None:
    from registry.http.problems import PROBLEM_TYPES
    from registry.service_items import PARTIES, REQUIREMENTS
    from registry.web import STATIC_DIR
    from registry.web.i18n import js_strings
    from registry.web.window_pages import BADGES
    from verification.errors import Verdict

    script = (STATIC_DIR / "window.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    assert not CJK.search(code), "window.js must take its words from the page's JSON block"
    handed = js_strings("en")
    for key in re.findall(r'\bt\("(js\.[\w.]+[\w])"', script):
        assert key in handed, key
    # The keys it builds: every party, requirement, state, detail, verdict; "what next" only for real codes.
    families = (
        [f"js.window.party.{p}" for p in PARTIES]
        + [f"js.window.req.{r}" for r in REQUIREMENTS]
        + [f"js.window.state.{s}" for s in BADGES]
        + [f"js.window.detail.{s}" for s in ("waiting", "missing", "optional_missing", "not_needed")]
        + [f"js.verdict.{v.value}" for v in Verdict]
    )
    for key in families:
        assert key in handed, key
    for key in handed:
        if key.startswith("js.window.next.") and key != "js.window.next.default":
            assert key.removeprefix("js.window.next.") in PROBLEM_TYPES, key
    # The badge colours match the server's table.
    table = re.search(r"var BADGES = \{(.*?)\};", script, re.S)
    assert table is not None
    assert dict(re.findall(r'(\w+): "([^"]*)"', table.group(1))) == BADGES
