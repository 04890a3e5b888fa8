"""The public service-item catalogue over HTTP: list, search, one item, and a 404 problem for an unknown code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from litestar import Litestar

from registry.cases.catalogue_controller import ServiceController
from registry.http.problems import handle_exception
from registry.service_items import default_service_catalog

BASE_URL = "http://testserver.local"
FOOD = "440300-SCJG-SPJY-001"
NEWBORN = "440300-GA-XSRH-001"


@pytest.fixture
async def services() -> AsyncIterator[httpx.AsyncClient]:
    app = Litestar(route_handlers=[ServiceController], exception_handlers={Exception: handle_exception})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        yield client


async def test_list_every_item(services: httpx.AsyncClient) -> None:
    resp = await services.get("/api/v1/services")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [item["code"] for item in body] == default_service_catalog().codes()
    assert len(body) == 6
    assert body == [item.public() for item in default_service_catalog()]
    assert "public" in resp.headers["cache-control"]


async def test_one_item(services: httpx.AsyncClient) -> None:
    resp = await services.get(f"/api/v1/services/{NEWBORN}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == "新生儿入户"
    assert body["agency_type"] == "公安局"
    assert [(m["license_type"], m["party_name"]) for m in body["materials"]] == [
        ("birth_certificate", "母亲"),
        ("resident_id_card", "母亲"),
        ("resident_id_card", "父亲"),
        ("marriage_certificate", "母亲"),
        ("marriage_certificate", "父亲"),
    ]
    assert {m["group"] for m in body["materials"] if m["requirement"] == "one_of"} == {"marriage"}
    assert body["offline_materials"] == [
        {
            "name": "居民户口簿",
            "name_en": "Household register booklet (hukou)",
            "commitment_allowed": False,
            "group": "",
        }
    ]
    assert body["paper_copies_spared"] == 4


@pytest.mark.parametrize(
    ("q", "codes"),
    [
        ("食品", [FOOD]),
        ("driving LICENCE", ["440300-GAJJ-JSZHZ-001"]),
        ("440300-ga-", ["440300-GA-JZZ-001", NEWBORN]),
        ("不存在的事项", []),
    ],
)
async def test_search(services: httpx.AsyncClient, q: str, codes: list[str]) -> None:
    resp = await services.get("/api/v1/services", params={"q": q})
    assert resp.status_code == 200, resp.text
    assert [item["code"] for item in resp.json()] == codes


async def test_blank_search_lists_everything(services: httpx.AsyncClient) -> None:
    resp = await services.get("/api/v1/services", params={"q": ""})
    assert resp.status_code == 200
    assert len(resp.json()) == 6


async def test_unknown_code_is_a_not_found_problem(services: httpx.AsyncClient) -> None:
    resp = await services.get("/api/v1/services/440300-XX-NONE-999")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["code"] == "not_found"
    assert problem["status"] == 404
    assert "440300-XX-NONE-999" in problem["detail"]
    assert problem["instance"] == "/api/v1/services/440300-XX-NONE-999"


async def test_a_long_unknown_code_is_cut_in_the_message(services: httpx.AsyncClient) -> None:
    code = "食" * 500
    resp = await services.get(f"/api/v1/services/{quote(code)}")
    assert resp.status_code == 404
    assert resp.json()["code"] == "not_found"
    assert len(resp.json()["detail"]) < 200


async def test_no_credentials_needed_and_no_writes(services: httpx.AsyncClient) -> None:
    resp = await services.post("/api/v1/services", json={"code": FOOD})
    assert resp.status_code == 405
    assert resp.json()["code"] == "method_not_allowed"
