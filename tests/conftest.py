"""Shared fixtures: one database per test run (SQLite by default, PostgreSQL when
REGISTRY_TEST_DATABASE_URL names one), migrated with Alembic exactly as `registry serve` does, and the app
served in-process. Tests isolate themselves by making their own organisations (fresh codes)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from registry.app import create_app
from registry.context import Registry
from registry.migrate import upgrade
from registry.orgs.service import create_organisation
from registry.settings import Settings, normalise_database_url
from tests.factories import new_uscc

BASE_URL = "http://testserver.local"


def _reset_postgres(url: str) -> None:
    import asyncio

    async def reset() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("registry-var")
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if url:
        url = normalise_database_url(url)
        _reset_postgres(url)
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'registry.db'}"
    # Every in-process request comes from one address: the login throttle's tests set their own small bucket.
    env = {
        "REGISTRY_DATA_DIR": str(data_dir),
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_BASE_URL": BASE_URL,
        "REGISTRY_LOGIN_RATE_PER_MINUTE": "100000",
    }
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    return settings


@pytest.fixture(scope="session")
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    reg = Registry.from_settings(settings)
    yield reg
    await reg.close()


@pytest.fixture(scope="session")
def asgi_app(registry: Registry) -> Litestar:
    return create_app(registry=registry)


@pytest.fixture(scope="session")
async def client(asgi_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    # httpx's ASGI transport runs the app on the test's own event loop (Litestar's test client uses a
    # portal thread, and asyncpg connections cannot cross event loops).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app), base_url=BASE_URL) as c:
        yield c


@pytest.fixture
async def browser_like(asgi_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, like one browser: for the pages and their sessions."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app), base_url=BASE_URL, headers={"Origin": BASE_URL}
    ) as c:
        yield c


@dataclass
class Org:
    code: str
    name: str
    role: str
    client_id: str
    client_secret: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _org(registry: Registry, client: httpx.AsyncClient, role: str, types: list[str], name: str) -> Org:
    code = new_uscc()
    made = await create_organisation(registry, code=code, name=name, role=role, license_types=types)
    resp = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": made.client_id,
            "client_secret": made.client_secret,
        },
    )
    assert resp.status_code == 200, resp.text
    return Org(code, name, role, made.client_id, made.client_secret, resp.json()["access_token"])


@pytest.fixture
async def make_org(registry: Registry, client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    async def make(role: str = "issuer", types: list[str] | None = None, name: str = "深圳市测试局") -> Org:
        if types is None:
            types = [lt.type for lt in registry.catalog.all()] if role == "issuer" else []
        return await _org(registry, client, role, types, name)

    return make


@dataclass
class StaffAccount:
    username: str
    password: str
    org: Org


@pytest.fixture
async def make_staff(registry: Registry, make_org):  # type: ignore[no-untyped-def]
    """A staff member of a new organisation (``role`` issuer or agency) who can log in to the pages."""
    from registry.staff.service import create_user

    async def make(role: str = "issuer", types: list[str] | None = None, org: Org | None = None) -> StaffAccount:
        org = org or await make_org(role, types)
        username = f"clerk-{uuid.uuid4().hex[:10]}"
        password = "Counter-Shift-7"
        await create_user(registry, org_code=org.code, username=username, password=password, display_name="李娜")
        return StaffAccount(username, password, org)

    return make


async def page_login(c: httpx.AsyncClient, path: str, **form: str) -> httpx.Response:
    """Log in through a login page as a browser does: fetch the form (its CSRF cookie and field), post it."""
    page = await c.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text
    return await c.post(path, data={"_csrf": token.group(1), **form})


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
async def issuer(make_org) -> Org:  # type: ignore[no-untyped-def]
    return await make_org("issuer", name="深圳市政务服务数据管理局")


REPO = Path(__file__).resolve().parent.parent


@dataclass
class HolderAccount:
    id_number: str
    name: str
    password: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def make_holder(registry: Registry, client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    from registry.holders.service import create_holder
    from tests.factories import new_resident_id

    async def make(name: str = "张伟", male: bool = True, id_number: str | None = None) -> HolderAccount:
        rid = id_number or new_resident_id(male=male)
        password = "Correct-Horse-42"
        await create_holder(registry, id_number=rid, name=name, password=password)
        resp = await client.post("/api/v1/auth/holder-token", json={"id_number": rid, "password": password})
        assert resp.status_code == 200, resp.text
        return HolderAccount(rid, name, password, resp.json()["access_token"])

    return make
