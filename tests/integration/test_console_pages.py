"""/console served in-process, and the licence search behind it (``GET /api/v1/licenses``): the guard (login,
role), both languages, the form generated from each template, search results and a licence's detail with its
history and actions, the bulk template CSV accepted by the upload, CSRF on the actions the page calls."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from typing import Any

import httpx
import pytest

from registry.licence_types import default_catalog
from tests.conftest import HolderAccount, Org, StaffAccount, csrf_of, page_login
from tests.factories import new_resident_id

pytestmark = pytest.mark.integration

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def body_for(
    license_type: str = "driving_license", *, name: str | None = None, id_number: str | None = None
) -> dict[str, Any]:
    """The template's example licence, for another holder when ``name`` / ``id_number`` are given."""
    lt = default_catalog().get(license_type)
    h = lt.example_holder
    holder = {"id_type": h.id_type, "id_number": id_number or h.id_number, "name": name or h.name}
    fields: dict[str, Any] = dict(lt.example_fields())
    if lt.holder_match.id_number:
        fields[lt.holder_match.id_number] = holder["id_number"]
    if lt.holder_match.name:
        fields[lt.holder_match.name] = holder["name"]
    return {"type": license_type, "holder": holder, "fields": fields}


async def issue(client: httpx.AsyncClient, org: Org, **kwargs: Any) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/licenses", json=body_for(**kwargs), headers={**org.auth, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def logged_in(c: httpx.AsyncClient, staff: StaffAccount) -> None:
    resp = await page_login(c, "/login", username=staff.username, password=staff.password)
    assert resp.status_code == 303 and resp.headers["location"] == "/console"


# --- the guard ----------------------------------------------------------------------------------------------


async def test_without_a_session_every_console_url_asks_to_log_in(browser_like: httpx.AsyncClient) -> None:
    for path in ("/console", "/console?tab=find&q=%E5%BC%A0", "/console/batch-template/driving_license.csv"):
        resp = await browser_like.get(path)
        assert resp.status_code == 303, path
        assert resp.headers["location"].startswith("/login?next=%2Fconsole"), resp.headers["location"]


async def test_agency_staff_and_holders_get_the_forbidden_page(
    browser_like: httpx.AsyncClient,
    make_staff,  # type: ignore[no-untyped-def]
    make_holder,  # type: ignore[no-untyped-def]
) -> None:
    clerk = await make_staff("agency")
    await logged_in_as(browser_like, "/login", username=clerk.username, password=clerk.password)
    for path in ("/console", "/console?tab=batch", "/console/batch-template/driving_license.csv"):
        resp = await browser_like.get(path)
        assert resp.status_code == 403, path
        assert "无权访问此页面" in resp.text and 'href="/window"' in resp.text
    browser_like.cookies.clear()
    holder: HolderAccount = await make_holder()
    await logged_in_as(browser_like, "/app/login", id_number=holder.id_number, password=holder.password)
    resp = await browser_like.get("/console")
    assert resp.status_code == 403 and 'href="/app"' in resp.text


async def logged_in_as(c: httpx.AsyncClient, path: str, **form: str) -> None:
    resp = await page_login(c, path, **form)
    assert resp.status_code == 303, resp.text


# --- the tabs -----------------------------------------------------------------------------------------------


async def test_every_tab_renders_in_chinese_and_english(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer", ["driving_license", "real_estate_certificate"])
    await logged_in(browser_like, staff)
    zh = {
        "?tab=issue": "选择要签发的证照类型",
        "?tab=issue&type=driving_license": "签发机动车驾驶证",
        "?tab=find": "证照编号、持证人证件号码或姓名",
        "?tab=batch": "下载 CSV 模板（机动车驾驶证）",
        "?tab=keys": "key-1",
    }
    for query, expected in zh.items():
        resp = await browser_like.get(f"/console{query}")
        assert resp.status_code == 200, query
        assert '<html lang="zh-CN">' in resp.text
        assert expected in resp.text, query
        assert "script-src 'self'" in resp.headers["content-security-policy"]
        assert 'aria-current="page"' in resp.text
        assert "/static/console.js?v=" in resp.text and "/static/console.css?v=" in resp.text
    en = {
        "?tab=issue&lang=en": "Choose the licence type to issue",
        "?tab=issue&type=driving_license&lang=en": "Issue a Motor Vehicle Driving Licence",
        "?tab=find&lang=en": "Licence number, holder&#39;s ID number or name",
        "?tab=batch&lang=en": "Download a template CSV (Motor Vehicle Driving Licence)",
        "?tab=keys&lang=en": "Signing keys",
    }
    for query, expected in en.items():
        resp = await browser_like.get(f"/console{query}")
        assert resp.status_code == 200, query
        assert '<html lang="en">' in resp.text
        assert expected in resp.text, query
        headings = " ".join(re.findall(r"<(?:h1|h2|label|th|legend)[^>]*>(.*?)</", resp.text, re.S))
        assert not CJK.search(headings), (query, headings)


async def test_the_issue_form_is_generated_from_the_template(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer", ["driving_license"])
    await logged_in(browser_like, staff)
    # One type only: the form opens at once.
    html = (await browser_like.get("/console")).text
    lt = default_catalog().get("driving_license")
    for spec in lt.fields:
        assert f'<label for="f-{spec.name}" class="field__label">{spec.label}' in html, spec.name
        assert f'data-path="fields.{spec.name}"' in html
    # Required marks, examples as placeholders, the template's pattern and the holder's mirrored fields.
    assert html.count('class="field__required"') >= len([f for f in lt.fields if f.required]) + 2
    assert 'placeholder="例：440300512867"' in html
    assert 'data-pattern="^[0-9]{12}$"' in html
    assert 'data-mirror="id_number"' in html and 'data-mirror="name"' in html
    assert '<option value="男">男</option>' in html
    assert "公民身份号码" in html and 'value="resident_id"' in html  # the holder's ID type, fixed by the template
    # Every input has a label.
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', html):
        if f'id="{input_id}"' in html and re.search(rf'<input type="hidden" id="{input_id}"', html):
            continue
        assert f'for="{input_id}"' in html, input_id
    english = (await browser_like.get("/console?lang=en")).text
    assert '<label for="f-vehicle_classes" class="field__label">Permitted vehicle classes' in english
    assert 'placeholder="e.g. C1"' in english


async def test_types_with_two_holder_kinds_offer_a_choice(browser_like: httpx.AsyncClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer", ["real_estate_certificate", "driving_license"])
    await logged_in(browser_like, staff)
    chooser = (await browser_like.get("/console")).text
    assert "type=real_estate_certificate" in chooser and "type=driving_license" in chooser
    assert "type=business_license" not in chooser  # only the department's own types
    html = (await browser_like.get("/console?tab=issue&type=real_estate_certificate")).text
    assert '<select id="holder-id-type"' in html and 'value="uscc"' in html
    # A type the department may not issue is not offered.
    other = (await browser_like.get("/console?tab=issue&type=business_license")).text
    assert "选择要签发的证照类型" in other


# --- finding and acting -------------------------------------------------------------------------------------


async def test_find_shows_results_and_a_licence_with_its_history_and_actions(
    browser_like: httpx.AsyncClient,
    make_staff,  # type: ignore[no-untyped-def]
) -> None:
    staff = await make_staff("issuer", ["driving_license"])
    first = await issue(browser_like, staff.org, name="欧阳娜娜", id_number=new_resident_id(male=False))
    second = await issue(browser_like, staff.org, name="欧阳修", id_number=new_resident_id())
    await logged_in(browser_like, staff)

    html = (await browser_like.get("/console", params={"tab": "find", "q": "欧阳"})).text
    assert "找到 2 张证照" in html
    assert html.index(second["identifier"]) < html.index(first["identifier"])  # newest first
    assert "有效" in html

    none = (await browser_like.get("/console", params={"tab": "find", "q": "司马"})).text
    assert "没有找到“司马”" in none

    page = await browser_like.get("/console", params={"tab": "find", "id": first["identifier"], "q": "欧阳"})
    assert page.status_code == 200
    html = page.text
    assert "欧阳娜娜" in html and first["identifier"] in html
    assert "新发" in html  # the history's first event
    for action in ("suspend", "revoke", "cancel", "renew", "amend"):
        assert f'id="open-{action}"' in html and f'<dialog class="dialog" id="dlg-{action}"' in html
    assert 'id="open-reinstate"' not in html  # only what the lifecycle allows now
    assert f'src="/api/v1/licenses/{first["identifier"]}/qr.svg"' in html
    assert f'href="/api/v1/licenses/{first["identifier"]}/pdf"' in html
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 至 \d{4}年\d{1,2}月\d{1,2}日", html)

    # The page's actions go through the API with the session: without the page's CSRF token, refused.
    url = f"/api/v1/licenses/{first['identifier']}/suspend"
    resp = await browser_like.post(url, json={"reason": "依法暂扣"})
    assert resp.status_code == 403 and resp.json()["code"] == "csrf_failed"
    resp = await browser_like.post(url, json={"reason": "依法暂扣"}, headers={"X-CSRF-Token": csrf_of(html)})
    assert resp.status_code == 200 and resp.json()["status"] == "suspended"

    after = (
        await browser_like.get("/console", params={"tab": "find", "id": first["identifier"], "done": "suspend"})
    ).text
    assert "已暂扣。核验此证照将显示“已暂扣”。" in after
    assert 'id="open-reinstate"' in after and 'id="open-suspend"' not in after
    assert "依法暂扣" in after and f"李娜（{staff.username}）" in after  # who did it, and why
    assert "本部门业务系统（接口）" in after  # the licence was issued through the API, not by a person


async def test_another_departments_licence_is_not_shown(browser_like: httpx.AsyncClient, make_staff, make_org) -> None:  # type: ignore[no-untyped-def]
    staff = await make_staff("issuer", ["driving_license"])
    other = await make_org("issuer", ["driving_license"])
    theirs = await issue(browser_like, other, name="上官婉儿", id_number=new_resident_id(male=False))
    await logged_in(browser_like, staff)
    page = await browser_like.get("/console", params={"tab": "find", "id": theirs["identifier"]})
    assert page.status_code == 200
    assert "不存在" in page.text and "上官婉儿" not in page.text
    page = await browser_like.get("/console", params={"tab": "find", "q": "上官"})
    assert "上官婉儿" not in page.text and theirs["identifier"] not in page.text
    garbage = await browser_like.get("/console", params={"tab": "find", "id": "1.2.156.3005.2.X"})
    assert garbage.status_code == 200 and 'role="alert"' in garbage.text
    long_q = await browser_like.get("/console", params={"tab": "find", "q": "张" * 300})
    assert long_q.status_code == 200 and "不超过 100 个字符" in long_q.text


# --- the search API -----------------------------------------------------------------------------------------


async def test_search_by_identifier_id_number_and_name_prefix(client: httpx.AsyncClient, make_org) -> None:  # type: ignore[no-untyped-def]
    org = await make_org("issuer", ["driving_license", "resident_id_card"])
    rid = new_resident_id()
    a = await issue(client, org, name="诸葛亮", id_number=rid)
    b = await issue(client, org, license_type="resident_id_card", name="诸葛亮", id_number=rid)
    c = await issue(client, org, name="诸葛瑾", id_number=new_resident_id())

    async def find(**params: Any) -> list[dict[str, Any]]:
        resp = await client.get("/api/v1/licenses", params=params, headers=org.auth)
        assert resp.status_code == 200, resp.text
        out: list[dict[str, Any]] = resp.json()
        return out

    assert [x["identifier"] for x in await find(q="诸葛")] == [c["identifier"], b["identifier"], a["identifier"]]
    assert [x["identifier"] for x in await find(q=rid)] == [b["identifier"], a["identifier"]]
    assert [x["identifier"] for x in await find(q=rid.lower())] == [b["identifier"], a["identifier"]]
    assert [x["identifier"] for x in await find(q=f"  {a['identifier']} ")] == [a["identifier"]]
    assert [x["identifier"] for x in await find(q="诸葛瑾")] == [c["identifier"]]
    assert await find(q="葛") == []  # the start of a name, not any part of it
    # A pasted identifier without its version and check character finds the licence's versions.
    assert [x["identifier"] for x in await find(q=a["identifier"][:-6])] == [a["identifier"]]
    assert len(await find(q="诸葛", limit=2)) == 2
    latest = await find()
    assert [x["identifier"] for x in latest[:3]] == [c["identifier"], b["identifier"], a["identifier"]]
    one = (await find(q="诸葛瑾"))[0]
    assert one["status"] == "active" and one["status_code"] == "01" and one["type_name"] == "机动车驾驶证"
    assert one["holder"]["name"] == "诸葛瑾" and "credential" not in one  # a summary, not the credential


async def test_search_lists_only_the_callers_own_licences(client: httpx.AsyncClient, make_org) -> None:  # type: ignore[no-untyped-def]
    mine = await make_org("issuer", ["driving_license"])
    theirs = await make_org("issuer", ["driving_license"])
    rid = new_resident_id()
    kept = await issue(client, mine, name="司马光", id_number=rid)
    hidden = await issue(client, theirs, name="司马迁", id_number=rid)
    for q in ("司马", rid, hidden["identifier"], ""):
        resp = await client.get("/api/v1/licenses", params={"q": q, "limit": 100}, headers=mine.auth)
        assert resp.status_code == 200
        found = {x["identifier"] for x in resp.json()}
        assert hidden["identifier"] not in found, q
    resp = await client.get("/api/v1/licenses", params={"q": rid}, headers=mine.auth)
    assert [x["identifier"] for x in resp.json()] == [kept["identifier"]]


async def test_search_refuses_holders_agencies_and_strangers(
    client: httpx.AsyncClient,
    make_org,  # type: ignore[no-untyped-def]
    make_holder,  # type: ignore[no-untyped-def]
) -> None:
    holder = await make_holder()
    agency = await make_org("agency")
    resp = await client.get("/api/v1/licenses", params={"q": "张"}, headers=holder.auth)
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
    resp = await client.get("/api/v1/licenses", params={"q": "张"}, headers=agency.auth)
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
    resp = await client.get("/api/v1/licenses", params={"q": "张"})
    assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_search_bounds_and_hostile_text_are_never_a_500(client: httpx.AsyncClient, make_org) -> None:  # type: ignore[no-untyped-def]
    org = await make_org("issuer", ["driving_license"])
    await issue(client, org, name="张%_三", id_number=new_resident_id())
    resp = await client.get("/api/v1/licenses", params={"q": "张" * 101}, headers=org.auth)
    assert resp.status_code == 422 and resp.json()["code"] == "validation_failed"
    assert "100" in resp.json()["detail"]
    for limit in ("0", "101", "-1", "abc", "1e3", "9" * 40):
        resp = await client.get("/api/v1/licenses", params={"limit": limit}, headers=org.auth)
        assert resp.status_code in (400, 422), (limit, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    hostile = [
        "%", "_", "\\", "%%", "张%", "'", '"', "' OR '1'='1", "'; DROP TABLE license; --", "1.2.156.3005.2.",
        "1.2.156.3005.2.%", "\u202e张", "😀", "ǅ", "Ⅻ", "x" * 100, " ", "\t张", "\x00", "\x7f", "张\n",
    ]  # fmt: skip
    for q in hostile:
        resp = await client.get("/api/v1/licenses", params={"q": q}, headers=org.auth)
        assert resp.status_code in (200, 422), (q, resp.status_code, resp.text)
        if resp.status_code == 200:
            names = [x["holder"]["name"] for x in resp.json()]
            # LIKE's wildcards are literal: "%" and "_" find only a name that starts with them.
            if q in ("%", "_", "%%", "\\", "'", "1.2.156.3005.2.%"):
                assert names == [], (q, names)
    resp = await client.get("/api/v1/licenses", params={"q": "张%"}, headers=org.auth)
    assert [x["holder"]["name"] for x in resp.json()] == ["张%_三"]


# --- bulk issuance ------------------------------------------------------------------------------------------


async def test_the_batch_template_is_what_the_upload_accepts(
    browser_like: httpx.AsyncClient,
    make_staff,  # type: ignore[no-untyped-def]
) -> None:
    staff = await make_staff("issuer", ["driving_license", "marriage_certificate"])
    await logged_in(browser_like, staff)
    for license_type in ("driving_license", "marriage_certificate"):
        resp = await browser_like.get(f"/console/batch-template/{license_type}.csv")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/csv")
        assert f'filename="{license_type}.csv"' in resp.headers["content-disposition"]
        text = resp.content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        lt = default_catalog().get(license_type)
        assert rows[0][:3] == ["holder_id_type", "holder_id_number", "holder_name"]
        assert rows[0][-2:] == ["valid_from", "valid_until"]
        assert set(rows[0][3:-2]) | {"holder_name"} >= {f.name for f in lt.fields}
        assert len(rows) == 2 and rows[1][1] == lt.example_holder.id_number

        # The template, uploaded as it is, issues its example row.
        page = (await browser_like.get("/console?tab=batch")).text
        resp = await browser_like.post(
            "/api/v1/batches",
            data={"type": license_type},
            files={"file": (f"{license_type}.csv", text.encode(), "text/csv")},
            headers={"X-CSRF-Token": csrf_of(page)},
        )
        assert resp.status_code == 202, resp.text
        job = resp.json()
        for _ in range(200):
            job = (await browser_like.get(f"/api/v1/batches/{job['id']}")).json()
            if job["state"] in ("done", "failed", "interrupted"):
                break
            await asyncio.sleep(0.05)
        assert (job["state"], job["issued"], job["failed"]) == ("done", 1, 0), job
    page = (await browser_like.get("/console?tab=batch")).text
    assert "driving_license.csv" in page and "签发 1 · 跳过 0 · 失败 0" in page
    missing = await browser_like.get("/console/batch-template/no_such_type.csv")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    wrong = await browser_like.get("/console/batch-template/driving_license.txt")
    assert wrong.status_code == 404


# --- the words --------------------------------------------------------------------------------------------


def test_the_script_carries_no_words_and_finds_every_key_it_asks_for() -> None:
    from registry.web import STATIC_DIR
    from registry.web.i18n import js_strings

    script = (STATIC_DIR / "console.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    assert not CJK.search(code), "console.js must take its words from the page's JSON block"
    for lang in ("zh", "en"):
        handed = js_strings(lang)  # type: ignore[arg-type]
        asked = set(re.findall(r't\("([\w.]+\w)"', script))
        assert asked and asked <= handed.keys(), asked - handed.keys()
        for state in ("done", "failed", "interrupted"):  # built as "js.console.batch.state." + state
            assert f"js.console.batch.state.{state}" in handed


def test_every_key_the_page_builds_exists() -> None:
    from registry.licenses.lifecycle import TRANSITIONS
    from registry.licenses.service import STATUS_CODES
    from registry.web.console_pages import ACTIONS, DONE, TABS
    from registry.web.i18n import STRINGS

    wanted = [f"console.tab.{tab}" for tab in TABS]
    wanted += [f"console.status.{status}" for status in STATUS_CODES]
    wanted += [f"console.event.{action}" for action in [*TRANSITIONS, "issue"]]
    wanted += [f"console.done.{action}" for action in DONE]
    for action in ACTIONS:
        wanted += [f"console.action.{action}", f"console.dlg.reason_example.{action}"]
        wanted += [f"console.dlg.{action}.{part}" for part in ("title", "text", "submit")]
    wanted += [f"console.batch.state.{s}" for s in ("queued", "running", "done", "failed", "interrupted")]
    wanted += [f"console.keys.state.{s}" for s in ("active", "retired", "revoked")]
    wanted += [f"console.idtype.{kind}" for kind in ("resident_id", "uscc", "passport")]
    wanted += [f"console.hint.{kind}" for kind in ("resident_id", "uscc", "passport")]
    assert [key for key in wanted if key not in STRINGS] == []
