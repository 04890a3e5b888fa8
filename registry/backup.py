"""Backup and restore of the registry's database (``registry backup FILE``, ``registry restore FILE``).

- **SQLite**: the backup is itself a SQLite database file, copied with SQLite's online backup API in one step,
  that is inside one read transaction: a consistent snapshot, taken while ``registry serve`` keeps writing
  (WAL readers never wait for the writer, nor it for them). It is restored through the same API into the
  configured database file, which SQLite rewrites under its own lock (its WAL included).
- **PostgreSQL**: ``pg_dump -Fc`` (custom archive), run on a snapshot exported by a REPEATABLE READ transaction
  that also reads the schema revision and the licence count, so what is reported is what is in the file. It is
  restored with ``pg_restore --clean --if-exists --single-transaction``: all of it or, on any error, nothing.
  ``pg_dump``/``pg_restore`` are found on ``PATH`` and should match the server's major version.

A restore first checks the whole file (SQLite: header, size, ``quick_check``; PostgreSQL: every block of the
archive is read) and that it is a registry database at this version's migration head; it refuses a database
that holds data unless told ``force``, and one that another process has open (stop ``registry serve`` first:
a running server caches keys and status lists that a restore would pull from under it).

**The master key is not in the backup.** It seals every department's signing key and the trust-list key,
and it lives in its own file (``REGISTRY_MASTER_KEY_FILE``): back it up separately and keep it apart from the
database backups (whoever holds both holds the keys). A restored registry must run with the master key file
that was in use when the backup was made; :func:`restore` checks that the configured one opens the keys.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from registry import errors
from registry.settings import Settings
from signing.keys import fsync_path

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Tables whose rows mean the database is in use: restoring over them needs ``force``.
DATA_TABLES = ("organisation", "holder", "license", "log_entry", "trust_key")
# What a registry backup must hold (besides alembic_version).
REQUIRED_TABLES = ("organisation", "signing_key", "license", "license_event", "log_entry", "counter")
TRUST_SEAL_REF = "registry#trust-1"  # registry.trust.service seals the trust-list key under this reference


@dataclass(frozen=True)
class Contents:
    """What a database or a backup holds, as far as the operator is told."""

    revision: str
    licences: int


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    engine: str  # sqlite | postgresql
    size: int
    contents: Contents


@dataclass(frozen=True)
class KeyCheck:
    """Whether the configured master key file opens the restored database's sealed keys."""

    master_key_file: Path
    present: bool
    opened: int = 0
    failed: list[str] = field(default_factory=list)  # "<org>#key-N" / "registry#trust-1" that did not open
    problem: str | None = None  # the key file itself could not be used

    @property
    def ok(self) -> bool:
        return self.present and not self.failed and self.problem is None


@dataclass(frozen=True)
class RestoreInfo:
    engine: str
    contents: Contents
    keys: KeyCheck


def head_revision(database_url: str) -> str:
    """The migration head of this version of the registry."""
    from alembic.script import ScriptDirectory

    from registry.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None, "the registry has migrations"
    return head


def backup(settings: Settings, target: Path) -> BackupInfo:
    """Write a consistent copy of the configured database to ``target`` (replaced atomically, mode 0600).
    Blocking: run it outside an event loop (the CLI does)."""
    target = Path(target).resolve()
    if not target.parent.is_dir():
        raise errors.BackupFailed(f"文件夹不存在 / No such folder: {target.parent}")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        # Created private before anything is written: the backup holds personal data.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        if settings.is_sqlite:
            contents = _sqlite_backup(_sqlite_path(settings), tmp)
            engine = "sqlite"
        else:
            contents = asyncio.run(_pg_backup(make_url(settings.database_url), tmp))
            engine = "postgresql"
        fsync_path(tmp)
        os.replace(tmp, target)
        fsync_path(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupInfo(target, engine, target.stat().st_size, contents)


def restore(settings: Settings, source: Path, *, force: bool = False) -> RestoreInfo:
    """Replace the configured database with the backup at ``source``, after checking the file whole.
    Blocking: run it outside an event loop (the CLI does)."""
    source = Path(source).resolve()
    if not source.is_file():
        raise errors.BackupInvalid(f"备份文件不存在 / No backup file at {source}")
    head = head_revision(settings.database_url)
    with source.open("rb") as fh:
        magic = fh.read(len(SQLITE_MAGIC))
    if settings.is_sqlite:
        if magic.startswith(PG_MAGIC):
            raise errors.BackupInvalid(
                "这是 PostgreSQL 备份（pg_dump），当前数据库是 SQLite / This is a PostgreSQL backup (pg_dump); "
                "the configured database is SQLite"
            )
        contents = _sqlite_restore(source, _sqlite_path(settings), head, force)
        engine = "sqlite"
    else:
        if magic == SQLITE_MAGIC:
            raise errors.BackupInvalid(
                "这是 SQLite 备份，当前数据库是 PostgreSQL / This is a SQLite backup; the configured database is "
                "PostgreSQL"
            )
        if not magic.startswith(PG_MAGIC):
            raise errors.BackupInvalid(
                f"不是 pg_dump 自定义格式的备份 / Not a pg_dump custom-format archive: {source.name}"
            )
        contents = asyncio.run(_pg_restore(make_url(settings.database_url), source, head, force))
        engine = "postgresql"
    return RestoreInfo(engine, contents, asyncio.run(check_keys(settings)))


async def check_keys(settings: Settings) -> KeyCheck:
    """Try the configured master key file on every sealed key of the database (never creating the file)."""
    from sqlmodel import select

    from registry.db import Database
    from registry.models import SigningKey, TrustKey
    from registry.orgs.service import seal_ref
    from signing.errors import SigningError
    from signing.keys import MasterKey, SealedKeyProvider

    path = settings.master_key_file
    if not path.exists():
        return KeyCheck(path, present=False)
    try:
        provider = SealedKeyProvider(MasterKey.load_or_create(path))
    except SigningError as exc:
        return KeyCheck(path, present=True, problem=str(exc))
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            sealed = [
                (seal_ref(k.org_code, k.key_ref), settings.key_id(k.org_code, k.key_ref), k.sealed_secret)
                for k in (await session.exec(select(SigningKey))).all()
            ]
            sealed += [
                (TRUST_SEAL_REF, "did:key", t.sealed_secret) for t in (await session.exec(select(TrustKey))).all()
            ]
    finally:
        await db.dispose()
    opened, failed = 0, []
    for ref, verification_method, blob in sealed:
        try:
            provider.load(ref, verification_method, blob)
        except SigningError:
            failed.append(ref)
        else:
            opened += 1
    return KeyCheck(path, present=True, opened=opened, failed=failed)


# --- SQLite ------------------------------------------------------------------------------------------------


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise errors.BackupFailed("内存数据库无法备份或恢复 / An in-memory database cannot be backed up or restored")
    return Path(database).resolve()


def _sqlite_backup(db: Path, tmp: Path) -> Contents:
    if not db.is_file():
        raise errors.BackupFailed(f"没有数据库文件 / No database file at {db}")
    try:
        src = sqlite3.connect(db, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # pages=-1: every page in one step, inside one read transaction
                # One self-contained file: no -wal beside it to lose.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise errors.BackupFailed(f"SQLite 备份失败 / SQLite backup failed: {exc}") from exc
    return _inspect_sqlite(tmp, what="backup")


def _inspect_sqlite(path: Path, *, what: str) -> Contents:
    """Check a SQLite file whole and read what it holds; :class:`errors.BackupInvalid` if it is not usable."""
    with path.open("rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise errors.BackupInvalid(f"不是 SQLite 数据库文件 / Not a SQLite database file: {path.name}")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The in-header size is valid when the change counter matches "version-valid-for" (SQLite ≥ 3.7.0 writes both).
    if header[24:28] == header[92:96] and path.stat().st_size < pages * page_size:
        raise errors.BackupInvalid(
            f"文件不完整（被截断）/ The file is truncated: {path.stat().st_size} bytes of {pages * page_size}"
        )
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise errors.BackupInvalid(
                    f"数据库文件已损坏 / The database file is damaged: {'; '.join(problems[:3])}"
                )
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            _require_tables(tables, what)
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            licences = conn.execute("SELECT count(*) FROM license").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise errors.BackupInvalid(f"无法读取数据库文件 / The database file cannot be read: {exc}") from exc
    if revision is None:
        raise errors.BackupInvalid("备份没有记录数据库版本 / The backup records no schema revision")
    return Contents(str(revision[0]), int(licences))


def _require_tables(tables: set[str], what: str) -> None:
    missing = [t for t in ("alembic_version", *REQUIRED_TABLES) if t not in tables]
    if missing:
        raise errors.BackupInvalid(
            f"不是登记库的{'备份' if what == 'backup' else '数据库'}，缺少表 / Not a registry {what}: it lacks the "
            f"tables {', '.join(missing)}"
        )


def _check_head(revision: str, head: str) -> None:
    if revision != head:
        raise errors.BackupInvalid(
            f"备份的数据库版本为 {revision}，本版本为 {head}：请用制作该备份的版本恢复后再升级 / The backup is "
            f"at schema revision {revision}, this registry at {head}: restore it with the version that made "
            "it, then upgrade",
            revision=revision,
            head=head,
        )


def _sqlite_holds_data(db: Path) -> bool:
    """Whether the file at ``db`` holds anything worth keeping (a file that is not a database counts)."""
    if not db.exists() or db.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in DATA_TABLES:
                # Names come from DATA_TABLES, never from input.
                if table in tables and conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():  # noqa: S608
                    return True
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True
    return False


def _sqlite_restore(source: Path, db: Path, head: str, force: bool) -> Contents:
    _check_head(_inspect_sqlite(source, what="backup").revision, head)
    if not force and _sqlite_holds_data(db):
        raise errors.RestoreTargetNotEmpty(
            f"数据库 {db} 已有数据；确要以备份替换它，请加 --force / The database {db} holds data; add --force to "
            "replace it with the backup"
        )
    db.parent.mkdir(parents=True, exist_ok=True)
    if force and _not_a_database(db):
        for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            leftover.unlink(missing_ok=True)
    try:
        dst = sqlite3.connect(db, timeout=2, isolation_level=None)
        try:
            # Leaving WAL mode needs every other connection closed: this is how a running server is noticed.
            try:
                mode = dst.execute("PRAGMA journal_mode=DELETE").fetchone()
            except sqlite3.OperationalError as exc:
                raise _in_use(db) from exc
            if mode is None or str(mode[0]).lower() != "delete":
                raise _in_use(db)
            src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
            try:
                src.backup(dst)
            finally:
                src.close()
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise errors.BackupFailed(f"SQLite 恢复失败 / SQLite restore failed: {exc}") from exc
    return _inspect_sqlite(db, what="database")


def _not_a_database(db: Path) -> bool:
    if not db.exists() or db.stat().st_size == 0:
        return False
    with db.open("rb") as fh:
        return fh.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC


def _in_use(db: Path) -> errors.DatabaseInUse:
    return errors.DatabaseInUse(
        f"数据库 {db} 正被其他进程使用；请先停止 registry serve / The database {db} is open in another process: "
        "stop registry serve first"
    )


# --- PostgreSQL --------------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise errors.BackupToolMissing(
            f"找不到 {name}：请安装与服务器主版本一致的 PostgreSQL 客户端 / "
            f"{name} is not on PATH: install the PostgreSQL client tools matching the server's major version "
            "(Debian: apt-get install postgresql-client)"
        )
    return found


def _libpq_env(url: URL) -> dict[str, str]:
    """Connection settings for pg_dump/pg_restore as libpq variables: the password never goes on a command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    values = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGPASSWORD": url.password}
    env.update({name: str(value) for name, value in values.items() if value is not None})
    env["PGDATABASE"] = url.database or ""
    return env


def _connect_args(url: URL) -> dict[str, Any]:
    return {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "database": url.database,
    }


async def _run_tool(args: list[str], env: Mapping[str, str], what: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *args, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        message = err.decode("utf-8", "replace").strip()[-800:]
        raise errors.BackupFailed(f"{what}: {message}")
    return out


async def _pg_contents(conn: Any, what: str) -> Contents:
    present = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    _require_tables({row[0] for row in present}, what)
    revision = await conn.fetchval("SELECT version_num FROM alembic_version")
    return Contents(str(revision), int(await conn.fetchval("SELECT count(*) FROM license")))


async def _pg_connect(url: URL) -> Any:
    import asyncpg  # type: ignore[import-untyped]

    try:
        return await asyncpg.connect(**_connect_args(url))
    except (OSError, asyncpg.PostgresError) as exc:
        raise errors.BackupFailed(f"无法连接数据库 / Cannot connect to the database {url.database}: {exc}") from exc


async def _pg_backup(url: URL, tmp: Path) -> Contents:
    pg_dump = _tool("pg_dump")
    conn = await _pg_connect(url)
    try:
        # pg_dump reads the snapshot this transaction exported: the counts below are those of the file.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            contents = await _pg_contents(conn, "database")
            await _run_tool(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={tmp}"], _libpq_env(url), "pg_dump"
            )
    finally:
        await conn.close()
    return contents


async def _archive_revision(pg_restore: str, source: Path) -> str:
    """Read the whole archive (a truncated one fails here) and return its schema revision, restoring nothing."""
    env = _libpq_env(URL.create("postgresql"))
    with source.open("rb") as fh:
        if fh.read(len(PG_MAGIC)) != PG_MAGIC:
            raise errors.BackupInvalid(
                f"不是 pg_dump 自定义格式的备份 / Not a pg_dump custom-format archive: {source.name}"
            )
    try:
        toc = (await _run_tool([pg_restore, "--list", str(source)], env, "pg_restore --list")).decode(
            "utf-8", "replace"
        )
        await _run_tool([pg_restore, f"--file={os.devnull}", str(source)], env, "pg_restore")
        data = await _run_tool(
            [pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(source)], env, "pg_restore"
        )
    except errors.BackupFailed as exc:
        raise errors.BackupInvalid(
            f"备份文件不完整或已损坏 / The backup is incomplete or damaged: {exc.detail}"
        ) from exc
    tables = {parts[-2] for line in toc.splitlines() if " TABLE " in line and len(parts := line.split()) >= 3}
    _require_tables(tables, "backup")
    revision = _copy_rows(data.decode("utf-8", "replace"))
    if len(revision) != 1:
        raise errors.BackupInvalid("备份没有记录数据库版本 / The backup records no schema revision")
    return revision[0]


def _copy_rows(script: str) -> list[str]:
    """The data lines of the COPY blocks of a plain-SQL script."""
    rows: list[str] = []
    inside = False
    for line in script.splitlines():
        if line.startswith("COPY "):
            inside = True
        elif inside and line == "\\.":
            inside = False
        elif inside:
            rows.append(line)
    return rows


async def _pg_restore(url: URL, source: Path, head: str, force: bool) -> Contents:
    pg_restore = _tool("pg_restore")
    _check_head(await _archive_revision(pg_restore, source), head)
    conn = await _pg_connect(url)
    try:
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if others:
            raise errors.DatabaseInUse(
                f"数据库 {url.database} 有 {others} 个其他连接；请先停止 registry serve / The database {url.database} "
                f"has {others} other connections: stop registry serve first"
            )
        if not force:
            for table in DATA_TABLES:
                exists = await conn.fetchval("SELECT to_regclass($1)", table)
                # Names come from DATA_TABLES, never from input.
                if exists and await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):  # noqa: S608
                    raise errors.RestoreTargetNotEmpty(
                        f"数据库 {url.database} 已有数据；确要以备份替换它，请加 --force / The database {url.database} "
                        "holds data; add --force to replace it with the backup"
                    )
    finally:
        await conn.close()
    await _run_tool(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--dbname={url.database}",
            str(source),
        ],
        _libpq_env(url),
        "pg_restore",
    )
    conn = await _pg_connect(url)
    try:
        return await _pg_contents(conn, "database")
    finally:
        await conn.close()
