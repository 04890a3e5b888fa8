"""The ``registry`` command line: serve, demo data, administration."""

from __future__ import annotations

import asyncio
import dataclasses
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
from signing.errors import SigningError
from signing.keys import SealedKeyProvider

T = TypeVar("T")


def _run(work: Callable[[Registry], Awaitable[T]], **overrides: Any) -> T:
    """Migrate, then run one piece of async work against a fresh registry container (``overrides``: settings
    this command needs other than the environment's)."""
    settings = dataclasses.replace(Settings.from_env(), **overrides)
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
    except SigningError as exc:  # e.g. a sealed key that this master key cannot open
        click.echo(f"密钥错误 / key error: {exc}", err=True)
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
    click.echo("\n持证人 / Holders (POST /api/v1/auth/holder-token, or the citizen app):")
    for h in result["holders"]:
        click.echo(f"  {h['name']}  id_number={h['id_number']}  password={h['password']}")
    click.echo("\n工作人员 / Staff (log in at /login: /window for the agency, /console for departments):")
    for u in result["staff"]:
        click.echo(f"  {u['org_name']}  username={u['username']}  password={u['password']}")
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


@admin.command("create-holder", help="Give a holder (person or company) a login for the citizen app and API")
@click.option("--id-number", required=True, help="公民身份号码 or 统一社会信用代码")
@click.option("--name", required=True)
@click.option("--password", required=True, help="8–128 characters")
@click.option("--json", "as_json", is_flag=True)
def create_holder(id_number: str, name: str, password: str, as_json: bool) -> None:
    from registry.holders.service import create_holder as make

    async def work(reg: Registry) -> dict[str, str]:
        holder = await make(reg, id_number=id_number, name=name, password=password)
        return {"id_number": holder.id_number, "id_type": holder.id_type, "name": holder.name}

    out = _run(work)
    click.echo(
        json.dumps(out, ensure_ascii=False) if as_json else f"{out['name']} ({out['id_number']}) 可登录 / can log in"
    )


@admin.command("create-user", help="Give a clerk or officer of an organisation a login for the pages")
@click.option("--org", "org_code", required=True, help="The organisation's code (统一社会信用代码)")
@click.option("--username", required=True, help="3–64 lowercase letters, digits or . _ -")
@click.option("--password", required=True, help="8–128 characters")
@click.option("--name", "display_name", default="", help="The name shown on the pages (default: the username)")
@click.option("--json", "as_json", is_flag=True)
def create_user(org_code: str, username: str, password: str, display_name: str, as_json: bool) -> None:
    from registry.staff.service import create_user as make

    async def work(reg: Registry) -> dict[str, str]:
        user = await make(reg, org_code=org_code, username=username, password=password, display_name=display_name)
        return {"username": user.username, "org_code": user.org_code, "display_name": user.display_name}

    out = _run(work)
    click.echo(
        json.dumps(out, ensure_ascii=False)
        if as_json
        else f"{out['username']} ({out['org_code']}) 可登录页面 / can log in to the pages"
    )


@main.group(help="Department signing keys / 部门签名密钥")
def keys() -> None:
    pass


def _key_rows(org: str) -> list[dict[str, Any]]:
    from registry.orgs.service import keys_of

    async def work(reg: Registry) -> list[dict[str, Any]]:
        async with reg.db.read() as session:
            return [
                {
                    "key": k.key_ref,
                    "state": k.state,
                    "verification_method": reg.settings.key_id(org, k.key_ref),
                    "public_key_multibase": k.public_key_multibase,
                    "created_at": k.created_at.isoformat(),
                    "retired_at": k.retired_at.isoformat() if k.retired_at else None,
                    "compromised_at": k.compromised_at.isoformat() if k.compromised_at else None,
                }
                for k in await keys_of(session, org)
            ]

    return _run(work)


def _print_keys(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        extra = f" compromised_at={row['compromised_at']}" if row["compromised_at"] else ""
        click.echo(f"{row['key']:8s} {row['state']:8s} {row['public_key_multibase']} since {row['created_at']}{extra}")


@keys.command("list", help="List a department's keys and their state")
@click.option("--org", required=True)
@click.option("--json", "as_json", is_flag=True)
def keys_list(org: str, as_json: bool) -> None:
    _print_keys(_key_rows(org), as_json)


@keys.command("rotate", help="Make a new active key; the old one retires and stays trusted for what it signed")
@click.option("--org", required=True)
@click.option("--json", "as_json", is_flag=True)
def keys_rotate(org: str, as_json: bool) -> None:
    from registry.orgs.service import rotate_key

    async def work(reg: Registry) -> None:
        await rotate_key(reg, org)

    _run(work)
    _print_keys(_key_rows(org), as_json)


@keys.command("revoke", help="Revoke a compromised key: what it signed after --compromised-at verifies as key_revoked")
@click.option("--org", required=True)
@click.option("--key", "key_ref", required=True, help="e.g. key-1")
@click.option("--compromised-at", required=True, help="RFC 3339 time, e.g. 2026-11-20T08:00:00+08:00")
@click.option("--json", "as_json", is_flag=True)
def keys_revoke(org: str, key_ref: str, compromised_at: str, as_json: bool) -> None:
    from datetime import datetime

    from registry.orgs.service import revoke_key

    try:
        when = datetime.fromisoformat(compromised_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an RFC 3339 time: {compromised_at}") from exc
    if when.tzinfo is None:
        raise click.BadParameter("the time needs a zone, e.g. +08:00 or Z")

    async def work(reg: Registry) -> None:
        await revoke_key(reg, org, key_ref, when)

    _run(work)
    _print_keys(_key_rows(org), as_json)


@main.group("trust-list", help="The signed trust list / 信任列表")
def trust_list() -> None:
    pass


@trust_list.command("export", help="Write the signed trust list (and, with --status-lists, every status list)")
@click.argument("file", required=False, type=click.Path(dir_okay=False, writable=True))
@click.option("--status-lists", "status_dir", type=click.Path(file_okay=False), help="Folder for the status lists")
def trust_list_export(file: str | None, status_dir: str | None) -> None:
    from pathlib import Path

    from sqlmodel import select

    from registry.models import StatusList
    from registry.trust.service import status_list_document, trust_list_document, trust_list_fingerprint

    async def work(reg: Registry) -> tuple[dict[str, Any], str, dict[str, dict[str, Any]]]:
        published = await trust_list_document(reg)
        lists: dict[str, dict[str, Any]] = {}
        if status_dir:
            async with reg.db.read() as session:
                ids = list((await session.exec(select(StatusList.id))).all())
            for list_id in ids:
                lists[list_id] = (await status_list_document(reg, list_id)).document
        return published.document, await trust_list_fingerprint(reg), lists

    document, fp, lists = _run(work)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if file:
        Path(file).write_text(text, encoding="utf-8")
    else:
        click.echo(text)
    if status_dir:
        Path(status_dir).mkdir(parents=True, exist_ok=True)
        for list_id, doc in lists.items():
            (Path(status_dir) / f"{list_id}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    click.echo(f"信任列表密钥指纹 / trust-list key fingerprint (pin it): {fp}", err=True)


VERDICT_WORDS = {
    "valid": "有效 / VALID",
    "revoked": "无效：已撤销 / INVALID: revoked",
    "suspended": "无效：已暂扣 / INVALID: suspended",
    "expired": "无效：已过期 / INVALID: expired",
    "not_yet_valid": "无效：尚未生效 / INVALID: not yet valid",
    "bad_signature": "无效：签名不符 / INVALID: bad signature",
    "unknown_issuer": "无效：发证机关未知 / INVALID: unknown issuer",
    "key_revoked": "无效：签名密钥已吊销 / INVALID: signing key revoked",
    "malformed": "无法识别 / INVALID: not a licence code",
    "unsupported": "不支持的格式 / INVALID: unsupported",
}


@main.command(
    help="Verify a licence: PAYLOAD (scanned text) or FILE (image, JSON credential or text). "
    "Exit 0 valid, 1 not valid, 2 usage error."
)
@click.argument("subject")
@click.option("--trust-list", "trust_list_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--fingerprint", "fingerprints", multiple=True, help="Pinned SHA-256 of the trust-list key")
@click.option("--status-lists", "status_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--trust-key", "trust_keys", multiple=True, help="An issuer's Ed25519 Multikey (z6Mk…)")
@click.option("--online", "online_url", help="Ask this registry instead (its base URL)")
@click.option("--json", "as_json", is_flag=True)
def verify(
    subject: str,
    trust_list_file: str | None,
    fingerprints: tuple[str, ...],
    status_dir: str | None,
    trust_keys: tuple[str, ...],
    online_url: str | None,
    as_json: bool,
) -> None:
    from registry.verify.offline import UsageError, read_subject, verify_offline, verify_online

    try:
        inputs = read_subject(subject)
        if online_url:
            result = verify_online(inputs, online_url)
        else:
            result = verify_offline(
                inputs,
                trust_list_file=trust_list_file,
                fingerprints=list(fingerprints),
                trust_keys=list(trust_keys),
                status_dir=status_dir,
            )
    except UsageError as exc:
        click.echo(f"错误 / error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_verdict(result)
    sys.exit(0 if result.get("valid") else 1)


def _print_verdict(result: dict[str, Any]) -> None:
    click.echo(VERDICT_WORDS.get(result["verdict"], result["verdict"]))
    lic = result.get("license") or {}
    if lic:
        click.echo(
            f"  {lic.get('type_name') or lic.get('type')}  {lic.get('identifier')}\n"
            f"  持证人 Holder: {lic.get('holder_name')}   发证机关 Issuer: {lic.get('issuer_name')}\n"
            f"  有效期 Valid: {lic.get('valid_from')} – {lic.get('valid_until') or '长期'}"
        )
    for check in result.get("checks", []):
        mark = {True: "✓", False: "✗", None: "?"}[check["ok"]]
        click.echo(f"  {mark} {check['name']}: {check['detail']}")
    for key in ("trust_freshness", "status_freshness"):
        fresh = result.get(key)
        if fresh:
            state = "已过期 STALE" if fresh["stale"] else "新鲜 fresh"
            click.echo(f"  {key}: {state}, {fresh['age_seconds']:.0f} s old ({fresh['source']})")
    click.echo(f"  mode: {result.get('mode', 'online')}")
    for warning in result.get("warnings", []):
        click.echo(f"  ! {warning}")


class _BatchProgress:
    """issue-batch's progress on stderr: one line rewritten in place on a terminal, else a line every 10 s."""

    def __init__(self) -> None:
        import time

        self.clock = time.monotonic
        self.tty = sys.stderr.isatty()
        self.started = self.clock()
        self.last = 0.0
        self.drawn = False

    def __call__(self, processed: int, total: int | None, issued: int, skipped: int, failed: int) -> None:
        now = self.clock()
        if not self.tty and now - self.last < 10 and processed != total:
            return
        self.last = now
        rate = processed / max(now - self.started, 1e-6)
        done = f"{processed}/{total} ({processed * 100 // total}%)" if total else str(processed)
        line = (
            f"已处理 processed {done}  签发 issued {issued}  跳过 skipped {skipped}  失败 failed {failed}  "
            f"{rate:.0f} 行/秒 rows/s"
        )
        if self.tty:
            click.echo(f"\r{line}\x1b[K", err=True, nl=False)
            self.drawn = True
        else:
            click.echo(line, err=True)

    def finish(self) -> None:
        if self.drawn:
            click.echo("", err=True)


def _cli_actor() -> str:
    """Who to name in the licences' history: the operating-system user who ran the command."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"[:64]


@main.command(
    "issue-batch",
    help="Issue licences of one type from a CSV file / 批量签发. Header: holder_id_type,holder_id_number,"
    "holder_name,<the type's field names…>[,valid_from,valid_until]; UTF-8 or GB18030. Running the same file "
    "again issues only what is missing. Exit 0 every row issued or skipped, 1 some rows failed (see the error "
    "report), 2 usage error.",
)
@click.option("--org", required=True, help="The issuing department's code (统一社会信用代码)")
@click.option("--type", "license_type", required=True, help="Licence type, e.g. social_security_card")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help='End stdout with {"issued", "skipped", "failed", "seconds"}')
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the error report, if a row fails [default: FILE.errors.csv beside FILE]",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=None,
    help="Processes that validate and sign [default: one per core; 0 = in this process]",
)
def issue_batch(
    org: str, license_type: str, file: str, as_json: bool, errors_file: str | None, workers: int | None
) -> None:
    from pathlib import Path

    from registry.licenses import batch, bulk, rows

    path = Path(file)
    report = Path(errors_file) if errors_file else path.with_suffix(".errors.csv")
    if not report.parent.is_dir() or not os.access(report.parent, os.W_OK):
        click.echo(f"错误 / error: 无法写入错误报告 / cannot write the error report to {report}", err=True)
        sys.exit(2)
    progress = _BatchProgress()
    usage_errors = (
        errors.UnknownLicenseType,
        errors.OrganisationNotFound,
        errors.LicenseTypeNotAllowed,
        errors.BatchBadHeader,
        errors.BatchFileUnreadable,
    )

    async def work(reg: Registry) -> batch.BatchResult | errors.RegistryError:
        try:
            lt = reg.catalog.get(license_type)
            await batch.check_issuer(reg, org, lt)
            source = rows.CsvSource.from_path(path, lt)
            encoding = "GB18030" if source.encoding == "gb18030" else "UTF-8"
            click.echo(f"{path.name}: {source.total} 行 rows, {encoding}, {lt.name} / {lt.name_en}", err=True)
            work: bulk.Work = bulk.InProcess()
            if workers != 0 and isinstance(reg.key_provider, SealedKeyProvider):
                # Workers unseal keys from the same master key file; another key provider signs in here.
                work = bulk.Pooled(reg.settings.master_key_file, workers)
            try:
                return await batch.issue_batch(
                    reg, org, source, errors_to=report, actor=_cli_actor(), progress=progress, work=work
                )
            finally:
                work.close()
        except usage_errors as exc:
            return exc

    try:
        # One writer connection does the inserts: give it a big page cache (memory stays under 300 MB in all).
        outcome = _run(work, sqlite_cache_mib=max(Settings.from_env().sqlite_cache_mib, 64))
    except KeyboardInterrupt:
        progress.finish()
        click.echo(
            "已中断；重新运行同一命令即可补签未签发的行 / "
            "Interrupted: run the same command again to issue what is missing",
            err=True,
        )
        sys.exit(130)
    progress.finish()
    if isinstance(outcome, errors.RegistryError):
        click.echo(f"错误 / error [{outcome.code}]: {outcome.detail}", err=True)
        sys.exit(2)
    if outcome.error_report is not None:
        click.echo(f"错误报告 / error report ({outcome.failed} 行 rows): {outcome.error_report}", err=True)
    if as_json:
        click.echo(json.dumps(outcome.summary()))
    else:
        click.echo(
            f"签发 issued {outcome.issued}，跳过 skipped {outcome.skipped}，失败 failed {outcome.failed}，"
            f"用时 {outcome.seconds:.1f} s"
        )
    sys.exit(1 if outcome.failed else 0)


@main.group("log", help="The transparency log (RFC 9162) / 透明日志")
def log_group() -> None:
    pass


@log_group.command("integrate", help="Add the log's waiting entries to its tree and sign a checkpoint")
def log_integrate() -> None:
    from registry.log.service import integrate, latest_checkpoint

    async def work(reg: Registry) -> dict[str, Any]:
        await integrate(reg)
        return await latest_checkpoint(reg)

    checkpoint = _run(work)
    click.echo(f"树大小 tree size {checkpoint['tree_size']}  根 root {checkpoint['root_hash']}")


@log_group.command(
    "verify", help="Re-check the whole log against the database: leaves, nodes, checkpoints, and every record"
)
@click.option("--json", "as_json", is_flag=True)
def log_verify(as_json: bool) -> None:
    from registry.log.service import LogReport, verify_log

    async def work(reg: Registry) -> LogReport:
        return await verify_log(reg)

    report = _run(work)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "entries": report.entries, "checkpoints": report.checkpoints,
                               "problems": report.problems}, ensure_ascii=False))  # fmt: skip
    elif report.ok:
        click.echo(f"透明日志完好 / log intact: {report.entries} 条 entries, {report.checkpoints} 个 checkpoints")
    else:
        click.echo(f"透明日志与数据库不符 / the log does not match the database ({len(report.problems)}):", err=True)
        for problem in report.problems:
            click.echo(f"  - {problem}", err=True)
    sys.exit(0 if report.ok else 1)


@main.group("federation", help="Peer registries (跨省通办) / 互信登记库")
def federation() -> None:
    pass


def _peer_line(peer: dict[str, Any]) -> str:
    age = f"{peer['age_seconds']:.0f} s" if peer["age_seconds"] is not None else "—"
    state = "已过期 STALE" if peer["stale"] else "新鲜 fresh" if peer["stale"] is False else "未同步 never synced"
    line = f"{peer['name']}  {peer['url']}  {peer['registry_id'] or '?'} {peer['registry_name'] or ''}  {age}  {state}"
    return line + (f"\n    错误 error: {peer['last_error']}" if peer["last_error"] else "")


@federation.command("add", help="Pin a peer registry by the SHA-256 fingerprint of its trust-list key")
@click.option("--name", required=True)
@click.option("--url", required=True, help="The peer's base URL, e.g. https://dzzz.beijing.example")
@click.option("--fingerprint", required=True, help="64 hex digits, as `registry trust-list export` prints them")
@click.option("--json", "as_json", is_flag=True)
def federation_add(name: str, url: str, fingerprint: str, as_json: bool) -> None:
    from registry.federation.service import add_peer

    async def work(reg: Registry) -> dict[str, Any] | errors.RegistryError:
        try:
            return await add_peer(reg, name, url, fingerprint)
        except errors.RegistryError as exc:
            return exc

    peer = _run(work)
    if isinstance(peer, errors.RegistryError):
        click.echo(f"错误 / error [{peer.code}]: {peer.detail}", err=True)
        sys.exit(2)
    click.echo(json.dumps(peer, ensure_ascii=False) if as_json else "已固定 / pinned: " + _peer_line(peer))


@federation.command("list", help="The pinned peers, their trust lists' age and last error")
@click.option("--json", "as_json", is_flag=True)
def federation_list(as_json: bool) -> None:
    from registry.federation.service import list_peers

    peers = _run(list_peers)
    if as_json:
        click.echo(json.dumps(peers, ensure_ascii=False))
        return
    for peer in peers:
        click.echo(_peer_line(peer))
    if not peers:
        click.echo("尚无对端 / no peers pinned")


@federation.command("sync", help="Fetch the peers' trust lists now (all, or --name)")
@click.option("--name", default=None)
@click.option("--json", "as_json", is_flag=True)
def federation_sync(name: str | None, as_json: bool) -> None:
    from registry.federation.service import list_peers, sync_peer

    async def work(reg: Registry) -> list[dict[str, Any]] | errors.RegistryError:
        try:
            names = [name] if name else [p["name"] for p in await list_peers(reg)]
            return [await sync_peer(reg, n) for n in names]
        except errors.RegistryError as exc:
            return exc

    peers = _run(work)
    if isinstance(peers, errors.RegistryError):
        click.echo(f"错误 / error [{peers.code}]: {peers.detail}", err=True)
        sys.exit(2)
    for peer in peers:
        click.echo(json.dumps(peer, ensure_ascii=False) if as_json else _peer_line(peer))
    sys.exit(1 if any(p["last_error"] for p in peers) else 0)


def _master_key_note(settings: Settings) -> str:
    return (
        f"主密钥不在备份中：它加密保护各部门的签名密钥。请另行备份 {settings.master_key_file}，与数据库备份分开保存；"
        "恢复后须使用同一主密钥文件。/ The master key is NOT in this backup: it seals the department signing "
        f"keys. Back up {settings.master_key_file} separately, keep it apart from the database backups, and run "
        "the restored registry with that same key file."
    )


@main.command(
    "backup",
    help="Write a consistent copy of the database to FILE, also while the server runs (SQLite: online backup; "
    "PostgreSQL: pg_dump -Fc). The master key is NOT in it: back it up separately / 备份数据库（不含主密钥）",
)
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--json", "as_json", is_flag=True, help='Print {"file", "engine", "bytes", "revision", "licences"}')
def backup_database(file: str, as_json: bool) -> None:
    from pathlib import Path

    from registry import backup as backups

    settings = Settings.from_env()
    try:
        info = backups.backup(settings, Path(file))
    except errors.RegistryError as exc:
        click.echo(f"错误 / error [{exc.code}]: {exc.detail}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"file": str(info.path), "engine": info.engine, "bytes": info.size,
                               "revision": info.contents.revision, "licences": info.contents.licences}))  # fmt: skip
    else:
        click.echo(
            f"已备份 / backed up: {info.path} ({info.engine}, {info.size} bytes, "
            f"{info.contents.licences} 份证照 licences, schema {info.contents.revision})"
        )
    click.echo(_master_key_note(settings), err=True)


@main.command(
    "restore",
    help="Replace the database with the backup in FILE, after checking it whole (stop the server first). A "
    "database that holds data is replaced only with --force. Run it with the master key file of the backup's "
    "registry / 从备份恢复数据库",
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that holds data")
@click.option("--json", "as_json", is_flag=True)
def restore_database(file: str, force: bool, as_json: bool) -> None:
    from pathlib import Path

    from registry import backup as backups

    settings = Settings.from_env()
    try:
        info = backups.restore(settings, Path(file), force=force)
    except errors.RegistryError as exc:
        click.echo(f"错误 / error [{exc.code}]: {exc.detail}", err=True)
        sys.exit(1)
    keys = info.keys
    if as_json:
        click.echo(json.dumps({"engine": info.engine, "revision": info.contents.revision,
                               "licences": info.contents.licences, "master_key_file": str(keys.master_key_file),
                               "master_key_present": keys.present, "keys_opened": keys.opened,
                               "keys_failed": keys.failed, "key_problem": keys.problem}))  # fmt: skip
    else:
        click.echo(
            f"已恢复 / restored: {info.engine}, {info.contents.licences} 份证照 licences, "
            f"schema {info.contents.revision}"
        )
    if not keys.present:
        click.echo(
            f"注意：{keys.master_key_file} 处还没有主密钥文件。启动服务前，请放回制作备份时使用的主密钥文件"
            "（否则服务会新建一个，打不开任何密钥）。/ Note: there is no master key file at "
            f"{keys.master_key_file} yet. Put back the one in use when the backup was made before `registry serve` "
            "(it would otherwise make a new key that opens none of the restored keys).",
            err=True,
        )
    elif not keys.ok:
        why = keys.problem or f"{len(keys.failed)}/{len(keys.failed) + keys.opened}: {', '.join(keys.failed[:5])}"
        click.echo(
            f"错误 / error: 主密钥文件 {keys.master_key_file} 打不开恢复的密钥 / the master key file "
            f"{keys.master_key_file} does not open the restored keys ({why}). 请使用制作备份时的主密钥文件 / Use "
            "the master key file that was in use when the backup was made.",
            err=True,
        )
        sys.exit(1)
    else:
        click.echo(
            f"主密钥文件可打开全部 {keys.opened} 个密钥 / the master key file opens all {keys.opened} keys", err=True
        )


if __name__ == "__main__":
    main()
