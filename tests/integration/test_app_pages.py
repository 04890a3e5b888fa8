"""The citizen app, /app, in-process: who may open it, what it renders on load (licences, consents, the log,
agents) in both languages, acting for a principal, the fragments the script reloads, and the endpoint the 亮证
screen polls (``GET /api/v1/me/share-codes/{id}``: state, and who took what) with its owner, auth and CSRF
checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, update

from registry.context import Registry
from registry.models import ShareCode
from tests.conftest import BASE_URL, HolderAccount, Org, csrf_of, page_login
from tests.integration.test_sharing import RENEW_DRIVING, code_of, give, open_case

pytestmark = pytest.mark.integration

ZH_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CJK = re.compile(r"[\u4e00-\u9fff]")


async def login(c: httpx.AsyncClient, holder: HolderAccount) -> str:
    """Log in through /app/login as a browser does; the page's CSRF token."""
    resp = await page_login(c, "/app/login", id_number=holder.id_number, password=holder.password)
    assert resp.status_code == 303 and resp.headers["location"] == "/app", resp.text
    page = await c.get("/app")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def unlabelled(html: str) -> list[str]:
    """Inputs, selects and textareas (not hidden) with no ``<label for>`` and no aria-label."""
    ids_with_labels = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    missing = []
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in tag or "aria-label=" in tag:
            continue
        found = re.search(r'\bid="([^"]+)"', tag)
        if not found or found.group(1) not in ids_with_labels:
            missing.append(tag)
    return missing


@pytest.fixture
async def agency(make_org: Any) -> Org:
    org: Org = await make_org("agency", name="深圳市南山区政务服务中心")
    return org


# --- who may open it ---------------------------------------------------------------------------------------


async def test_no_session_goes_to_the_holder_login(browser_like: httpx.AsyncClient) -> None:
    resp = await browser_like.get("/app?tab=share")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/app/login?next=%2Fapp%3Ftab%3Dshare"
    resp = await browser_like.get("/app/fragments/log")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/app/login?next=")


async def test_staff_get_the_forbidden_page(browser_like: httpx.AsyncClient, make_staff: Any) -> None:
    staff = await make_staff("agency")
    await page_login(browser_like, "/login", username=staff.username, password=staff.password)
    resp = await browser_like.get("/app")
    assert resp.status_code == 403
    assert "无权访问此页面" in resp.text and 'href="/window"' in resp.text
    assert (await browser_like.get("/app/fragments/consents")).status_code == 403


# --- what it renders on load -------------------------------------------------------------------------------


async def test_my_licences_in_both_languages(
    browser_like: httpx.AsyncClient, registry: Registry, make_holder: Any, issuer: Org
) -> None:
    holder = await make_holder()
    driving = await give(browser_like, registry, issuer, holder, "driving_license")
    resident = await give(browser_like, registry, issuer, holder, "resident_id_card")
    await login(browser_like, holder)
    resp = await browser_like.get("/app")
    html = resp.text
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    assert '<html lang="zh-CN">' in html
    assert html.count('class="licence card"') == 2
    for identifier in (driving, resident):
        assert identifier in html
        assert f'href="/api/v1/licenses/{identifier}/pdf"' in html
        assert f'src="/api/v1/licenses/{identifier}/qr.svg"' in html
    assert "机动车驾驶证" in html and "居民身份证" in html
    assert '<span class="badge badge--ok licence__status">有效</span>' in html
    assert ZH_DATE.search(html)
    # Field values read as dates in the page's language, not raw ISO.
    assert "1988年3月15日" in html
    # Tabs: the licences open, the others hidden; 亮证 one tap away.
    assert 'id="tab-licences"' in html and 'aria-selected="true"' in html
    assert re.search(r'id="panel-share"[^>]*hidden', html, re.S)
    assert unlabelled(html) == []
    # Every word the script needs is in the page's strings block.
    assert '"js.app.share.remaining"' in html

    en = (await browser_like.get("/app?lang=en&tab=share")).text
    assert '<html lang="en">' in en
    assert "Motor Vehicle Driving Licence" in en and "Make the code" in en
    assert "1988-03-15" in en and not ZH_DATE.search(en.split('id="app-data"')[0])
    assert re.search(r'id="tab-share"[^>]*aria-selected="true"', en, re.S)
    assert not re.search(r'id="panel-share"[^>]*hidden', en, re.S)
    labels = " ".join(re.findall(r"<label[^>]*>(.*?)</label>", en, re.S))
    labels = re.sub(r"<[^>]+>", " ", labels)
    assert not CJK.search(labels.replace("机动车驾驶证", "")), labels
    assert 'href="/app?lang=zh&amp;tab=share"' in en or 'href="/app?tab=share&amp;lang=zh"' in en


async def test_status_badges_follow_the_licence(
    browser_like: httpx.AsyncClient, registry: Registry, make_holder: Any, issuer: Org
) -> None:
    holder = await make_holder()
    driving = await give(browser_like, registry, issuer, holder, "driving_license")
    resident = await give(browser_like, registry, issuer, holder, "resident_id_card")
    resp = await browser_like.post(
        f"/api/v1/licenses/{driving}/suspend", json={"reason": "记满12分，依法暂扣"}, headers=issuer.auth
    )
    assert resp.status_code == 200, resp.text
    resp = await browser_like.post(
        f"/api/v1/licenses/{resident}/revoke", json={"reason": "证件信息有误"}, headers=issuer.auth
    )
    assert resp.status_code == 200, resp.text
    await login(browser_like, holder)
    html = (await browser_like.get("/app")).text
    assert '<span class="badge badge--warn licence__status">已暂扣</span>' in html
    assert '<span class="badge badge--bad licence__status">已撤销</span>' in html
    en = (await browser_like.get("/app?lang=en")).text
    assert ">Suspended</span>" in en and ">Revoked</span>" in en


async def test_a_holder_with_nothing_sees_what_to_expect(browser_like: httpx.AsyncClient, make_holder: Any) -> None:
    holder = await make_holder("王芳", male=False)
    await login(browser_like, holder)
    html = (await browser_like.get("/app")).text
    assert "您还没有电子证照" in html
    assert "您没有有效的授权" in html and "还没有机构使用过您的证照" in html and "您还没有添加代办人" in html


# --- the endpoint the 亮证 screen polls --------------------------------------------------------------------


async def test_share_code_status_says_who_took_what(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient, registry: Registry, make_holder: Any, issuer: Org,
    agency: Org,
) -> None:  # fmt: skip
    holder = await make_holder()
    driving = await give(client, registry, issuer, holder, "driving_license")
    resident = await give(client, registry, issuer, holder, "resident_id_card")
    csrf = await login(browser_like, holder)

    # Made from the page: the session's cookie with its CSRF token (without it, refused).
    body = {"license_ids": [driving, resident], "purpose": "驾驶证期满换证", "ttl_seconds": 120}
    refused = await browser_like.post("/api/v1/me/share-codes", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    made = await browser_like.post("/api/v1/me/share-codes", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    code = made.json()
    assert code["code"].startswith("SC1:") and code["qr_svg"].startswith("<?xml")

    status = await browser_like.get(f"/api/v1/me/share-codes/{code['id']}")
    assert status.status_code == 200, status.text
    out = status.json()
    assert out["state"] == "active" and out["accesses"] == [] and out["uses"] == 0
    assert "code" not in out or out["code"] is None  # never stored, never shown again

    case = await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code["code"])
    assert case.status_code == 201, case.text
    out = (await browser_like.get(f"/api/v1/me/share-codes/{code['id']}")).json()
    assert out["state"] == "used"
    taken = {(a["actor_name"], a["license_type"], a["identifier"], a["via"]) for a in out["accesses"]}
    assert taken == {
        ("深圳市南山区政务服务中心", "driving_license", driving, "code"),
        ("深圳市南山区政务服务中心", "resident_id_card", resident, "code"),
    }
    assert {a["case_id"] for a in out["accesses"]} == {case.json()["case_id"]}

    # A later code, redeemed by the same agency, is not attributed to the first.
    second = await code_of(client, holder, license_types=["driving_license"])
    again = await open_case(client, agency, service_code=RENEW_DRIVING, share_code=second)
    assert again.status_code == 201
    out = (await browser_like.get(f"/api/v1/me/share-codes/{code['id']}")).json()
    assert {a["case_id"] for a in out["accesses"]} == {case.json()["case_id"]}


async def test_share_code_status_owner_auth_and_csrf(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient, registry: Registry, make_holder: Any, issuer: Org,
) -> None:  # fmt: skip
    holder = await make_holder()
    other = await make_holder("李娜", male=False)
    await give(client, registry, issuer, holder, "driving_license")
    made = await client.post("/api/v1/me/share-codes", json={"license_types": ["driving_license"]}, headers=holder.auth)
    code_id = made.json()["id"]
    path = f"/api/v1/me/share-codes/{code_id}"

    assert (await client.get(path, headers=holder.auth)).status_code == 200
    # Another holder's code does not exist for them.
    resp = await client.get(path, headers=other.auth)
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    # Nor for someone who names them without being their agent.
    resp = await client.get(path, params={"on_behalf_of": holder.id_number}, headers=other.auth)
    assert resp.status_code == 403
    # No token, no session: 401.
    async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as anonymous:
        resp = await anonymous.get(path)
        assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"
    resp = await client.get("/api/v1/me/share-codes/nothing-like-this", headers=holder.auth)
    assert resp.status_code == 404

    # Withdrawn from the page: the DELETE needs the CSRF token; then the state says so.
    csrf = await login(browser_like, holder)
    resp = await browser_like.delete(path)
    assert resp.status_code == 403 and resp.json()["code"] == "csrf_failed"
    resp = await browser_like.delete(path, headers={"X-CSRF-Token": "forged"})
    assert resp.status_code == 403
    assert (await browser_like.get(path)).json()["state"] == "active"
    resp = await browser_like.delete(path, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 204
    assert (await browser_like.get(path)).json()["state"] == "withdrawn"


async def test_share_code_status_expired(
    client: httpx.AsyncClient, registry: Registry, make_holder: Any, issuer: Org
) -> None:
    holder = await make_holder()
    await give(client, registry, issuer, holder, "driving_license")
    made = await client.post("/api/v1/me/share-codes", json={"license_types": ["driving_license"]}, headers=holder.auth)
    code_id = made.json()["id"]
    async with registry.db.transaction() as session:
        await session.exec(
            update(ShareCode)
            .where(col(ShareCode.id) == code_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    out = (await client.get(f"/api/v1/me/share-codes/{code_id}", headers=holder.auth)).json()
    assert out["state"] == "expired"


# --- consents, the log and agents, as rendered --------------------------------------------------------------


async def test_consents_and_the_log_render_and_reload_as_fragments(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient, registry: Registry, make_holder: Any, issuer: Org,
    agency: Org,
) -> None:  # fmt: skip
    holder = await make_holder()
    driving = await give(client, registry, issuer, holder, "driving_license")
    csrf = await login(browser_like, holder)
    page = (await browser_like.get("/app?tab=consents")).text
    assert f'<option value="{agency.code}">深圳市南山区政务服务中心</option>' in page
    assert unlabelled(page) == []

    body = {
        "agency_code": agency.code,
        "license_types": ["driving_license"],
        "purpose": "驾驶证业务网上办理",
        "valid_until": (datetime.now(UTC) + timedelta(days=90)).date().isoformat(),
        "fields": {"driving_license": ["name", "vehicle_classes"]},
    }
    preview = await browser_like.post("/api/v1/me/consents/preview", json=body, headers={"X-CSRF-Token": csrf})
    assert preview.status_code == 200, preview.text
    assert [f["name"] for f in preview.json()["licenses"][0]["fields"]] == ["name", "vehicle_classes"]
    granted = await browser_like.post("/api/v1/me/consents", json=body, headers={"X-CSRF-Token": csrf})
    assert granted.status_code == 201, granted.text
    consent_id = granted.json()["id"]

    fragment = await browser_like.get("/app/fragments/consents")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # a piece of the page, not a page
    assert "深圳市南山区政务服务中心" in fragment.text and "驾驶证业务网上办理" in fragment.text
    assert f'data-withdraw-consent="{consent_id}"' in fragment.text
    assert "姓名" in fragment.text and "准驾车型" in fragment.text  # the fields it releases, by label

    resp = await browser_like.delete(f"/api/v1/me/consents/{consent_id}", headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 204
    fragment = (await browser_like.get("/app/fragments/consents")).text
    assert "data-withdraw-consent" not in fragment and "已撤回" in fragment

    # A pull under a code lands in the log fragment: when, who, by what, which licence, which fields.
    code = await code_of(client, holder, license_ids=[driving], purpose="驾驶证期满换证")
    assert (await open_case(client, agency, service_code=RENEW_DRIVING, share_code=code)).status_code == 201
    log = (await browser_like.get("/app/fragments/log")).text
    assert "深圳市南山区政务服务中心" in log and "办事机构" in log and "亮证码" in log
    assert "机动车驾驶证" in log and driving in log and "全部字段" in log and "驾驶证期满换证" in log
    assert ZH_DATE.search(log)
    log_en = (await browser_like.get("/app/fragments/log?lang=en")).text
    assert "By code" in log_en and "Motor Vehicle Driving Licence" in log_en and "All fields" in log_en
    assert (await browser_like.get("/app/fragments/nothing")).status_code == 404


async def test_agents_and_acting_for_a_principal(
    browser_like: httpx.AsyncClient, asgi_app: Any, client: httpx.AsyncClient, registry: Registry,
    make_holder: Any, issuer: Org,
) -> None:  # fmt: skip
    mother = await make_holder("李娜", male=False)
    son = await make_holder("张伟")
    stranger = await make_holder("王芳", male=False)
    driving = await give(client, registry, issuer, mother, "driving_license")
    csrf = await login(browser_like, mother)
    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()

    # Without the CSRF token the grant is refused; with it, the son may show her licences.
    body = {"id_number": son.id_number, "scope": "share", "valid_until": until}
    assert (await browser_like.post("/api/v1/me/agents", json=body)).status_code == 403
    resp = await browser_like.post("/api/v1/me/agents", json=body, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 201, resp.text
    assert resp.json()["agent_name"] == "张伟" and resp.json()["principal_name"] == "李娜"
    mine = (await browser_like.get("/app/fragments/agents")).text
    assert "张伟" in mine and f'data-revoke-agent="{resp.json()["id"]}"' in mine
    assert son.id_number not in mine  # shown masked
    assert f"{son.id_number[:4]}**********{son.id_number[-4:]}" in mine

    # The son's page: whom he may act for, and — switched — her licences, said plainly at the top.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app), base_url=BASE_URL, headers={"Origin": BASE_URL}
    ) as son_browser:
        await login(son_browser, son)
        own = (await son_browser.get("/app?tab=agents")).text
        assert f'href="/app?as={mother.id_number}"' in own and "代 李娜 办理" in own
        acting = (await son_browser.get(f"/app?as={mother.id_number}")).text
        assert 'id="acting-banner"' in acting and "您正在代 李娜" in acting
        assert driving in acting
        assert f'href="/api/v1/licenses/{driving}/pdf"' not in acting  # her PDF is hers to download
        assert f'"acting": "{mother.id_number}"' in acting  # the script acts for her (on_behalf_of)
        # A "share" agent neither reads her log nor manages her consents.
        assert acting.count("您的代办权限仅限查看证照和亮证") == 2
        # Naming someone who made him no agent: his own page, and why.
        refused = (await son_browser.get(f"/app?as={stranger.id_number}")).text
        assert 'id="acting-error"' in refused and "未获" in refused and 'id="acting-banner"' not in refused

        # A code he makes for her: he may follow it, she may too; the page logged his look in her log.
        son_csrf = csrf_of(acting)
        made = await son_browser.post(
            "/api/v1/me/share-codes",
            json={"license_ids": [driving], "on_behalf_of": mother.id_number},
            headers={"X-CSRF-Token": son_csrf},
        )
        assert made.status_code == 201, made.text
        path = f"/api/v1/me/share-codes/{made.json()['id']}"
        assert (await son_browser.get(path, params={"on_behalf_of": mother.id_number})).status_code == 200
        assert (await browser_like.get(path)).json()["on_behalf_of"] == mother.id_number
        her_log = (await browser_like.get("/app/fragments/log")).text
        assert "代办人查看证照列表" in her_log and "张伟" in her_log

    # She revokes him: the list is empty again, and his switch stops working at once.
    resp = await browser_like.delete(f"/api/v1/me/agents/{resp.json()['id']}", headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 204
    assert "您还没有添加代办人" in (await browser_like.get("/app/fragments/agents")).text
    resp = await client.get("/api/v1/me/licenses", params={"on_behalf_of": mother.id_number}, headers=son.auth)
    assert resp.status_code == 403


async def test_agents_api_names_both_sides(client: httpx.AsyncClient, make_holder: Any) -> None:
    mother = await make_holder("李娜", male=False)
    son = await make_holder("张伟")
    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    resp = await client.post(
        "/api/v1/me/agents",
        json={"id_number": son.id_number, "scope": "all", "valid_until": until},
        headers=mother.auth,
    )
    assert resp.status_code == 201
    theirs = (await client.get("/api/v1/me/agents", headers=son.auth)).json()["principals"]
    assert [(p["principal"], p["principal_name"], p["scope"]) for p in theirs] == [(mother.id_number, "李娜", "all")]


def test_the_script_carries_no_words_and_finds_all_it_asks_for() -> None:
    from registry.web import STATIC_DIR
    from registry.web.i18n import js_strings

    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    assert not re.search(r"[\u4e00-\u9fff]", re.sub(r"//.*", "", code)), "app.js takes its words from the page"
    handed = js_strings("en")
    asked = set(re.findall(r'(?<![\w.])t\("([\w.]+)"', script)) | set(re.findall(r'"(js\.app\.[\w.]+)"', script))
    assert asked and not asked - handed.keys(), sorted(asked - handed.keys())


# --- who took what: the exact code, and the window ------------------------------------------------------------


async def test_each_code_reports_its_own_pulls_and_the_window(
    client: httpx.AsyncClient,
    browser_like: httpx.AsyncClient,
    registry: Registry,
    make_holder: Any,
    make_staff: Any,
    issuer: Org,
) -> None:
    """Two live codes of one holder, redeemed by two windows: each code names only its own pull, and a pull
    made from the /window page names the clerk at the counter (UI.md: "which window")."""
    holder = await make_holder("周敏", male=False)
    await give(client, registry, issuer, holder, "driving_license")
    await give(client, registry, issuer, holder, "resident_id_card")
    first = (
        await client.post("/api/v1/me/share-codes", json={"service_code": RENEW_DRIVING}, headers=holder.auth)
    ).json()
    second = (
        await client.post("/api/v1/me/share-codes", json={"service_code": RENEW_DRIVING}, headers=holder.auth)
    ).json()

    clerk = await make_staff("agency")
    await page_login(browser_like, "/login", username=clerk.username, password=clerk.password)
    token = csrf_of((await browser_like.get("/window")).text)
    resp = await browser_like.post(
        "/api/v1/cases",
        json={"service_code": RENEW_DRIVING, "share_code": first["code"]},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code == 201, resp.text
    by_page = resp.json()["case_id"]
    other = await client.post(
        "/api/v1/cases",
        json={"service_code": RENEW_DRIVING, "share_code": second["code"]},
        headers=clerk.org.auth,
    )
    assert other.status_code == 201, other.text
    by_system = other.json()["case_id"]

    for code, case_id, window in ((first, by_page, clerk.username), (second, by_system, None)):
        status = (await client.get(f"/api/v1/me/share-codes/{code['id']}", headers=holder.auth)).json()
        assert status["state"] == "used"
        assert {a["case_id"] for a in status["accesses"]} == {case_id}
        assert len(status["accesses"]) == 2  # the licence and the ID card
        assert {a["window"] for a in status["accesses"]} == {window}

    log = (await client.get("/api/v1/me/access-log", headers=holder.auth)).json()
    assert {e["window"] for e in log if e["case_id"] == by_page} == {clerk.username}
