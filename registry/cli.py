"""The ``registry`` command line: serve, demo data, administration."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from registry import errors
from registry.context import Registry
from registry.migrate import upgrade
from registry.settings import Settings

T = TypeVar("T")


def _run(work: Callable[[Registry], Awaitable[T]]) -> T:
    """Migrate, then run one piece of async work against a fresh registry container."""
    settings = Settings.from_env()
    upgrade(settings.database_url)

    async def main() -> T:
        reg = Registry.from_settings(settings)
        try:
            return await work(reg)
        finally:
            await reg.close()

    try:
        return asyncio.run(main())
    except errors.RegistryError as exc:
        click.echo(f"错误 / error [{exc.code}]: {exc.detail}", err=True)
        sys.exit(1)


@click.group(help="电子证照库 — electronic licence registry")
def main() -> None:
    pass


@main.command(help="Apply migrations, then serve the API and pages / 迁移数据库并启动服务")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    from signing.keys import MasterKey

    # Credential ids and did:web names derive from the base URL; by default it is where we listen.
    os.environ.setdefault("REGISTRY_BASE_URL", f"http://{host}:{port}")
    settings = Settings.from_env()
    MasterKey.load_or_create(settings.master_key_file)  # before workers fork, so they all read one key
    upgrade(settings.database_url)
    click.echo(
        f"电子证照库 serving {settings.base_url} on http://{host}:{port} ({settings.database_url.split(':')[0]})"
    )
    uvicorn.run(
        "registry.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


@main.command(help="Seed departments, an agency and a licence of every type / 写入演示数据")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON")
def demo(as_json: bool) -> None:
    from registry.demo import seed_demo

    result = _run(seed_demo)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo("演示数据已写入 / Demo data seeded\n")
    click.echo("机构 / Organisations (client credentials for POST /api/v1/auth/token):")
    for org in result["organisations"]:
        click.echo(
            f"  [{org['role']}] {org['name']}  client_id={org['client_id']}  client_secret={org['client_secret']}"
        )
    click.echo("\n证照 / Licences:")
    for lic in result["licenses"]:
        click.echo(
            f"  {lic['type_name']}  {lic['identifier']}  持证人 {lic['holder_name']} ({lic['holder_id_number']})"
        )


@main.group(help="Administration / 管理")
def admin() -> None:
    pass


@admin.command("create-org", help="Register a department (issuer) or an agency; prints its client credentials")
@click.option("--code", required=True, help="统一社会信用代码 (18 chars)")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["issuer", "agency"]))
@click.option("--license-types", default="", help="Comma-separated licence types an issuer may issue")
@click.option("--json", "as_json", is_flag=True)
def create_org(code: str, name: str, role: str, license_types: str, as_json: bool) -> None:
    from registry.orgs.service import create_organisation

    types = [t.strip() for t in license_types.split(",") if t.strip()]

    async def work(reg: Registry) -> Any:
        return await create_organisation(reg, code=code, name=name, role=role, license_types=types)

    org = _run(work)
    out = {
        "code": org.code,
        "name": org.name,
        "role": org.role,
        "license_types": org.license_types,
        "client_id": org.client_id,
        "client_secret": org.client_secret,
    }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        for k, v in out.items():
            click.echo(f"{k}: {v}")
        click.echo(
            "请妥善保存 client_secret，它不会再次显示 / Keep the client_secret: it is not shown again.",
            err=True,
        )


if __name__ == "__main__":
    main()
