"""`registry backup` / `registry restore` (issue #8): the real commands in subprocesses, on the engine under test.

A registry with licences, status changes, access records, a rotated key and a signed log is backed up while
another transaction holds uncommitted changes, and restored into a fresh database: the restored registry gives
the same verdicts, its log verifies, its keys open with the same master key file, and its numbering carries on.
A restore over data without --force, over a running server, or from a damaged file is refused, and changes
nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import base58
import httpx
import pytest
from sqlalchemy import func, inspect, text
from sqlmodel import select

from registry.app import create_app
from registry.context import Registry
from registry.db import create_engine
from registry.log.service import integrate, verify_log
from registry.migrate import upgrade
from registry.models import (
    AccessLog,
    License,
    LicenseEvent,
    LogCheckpoint,
    LogEntry,
    Organisation,
    SigningKey,
    TrustKey,
)
from registry.orgs.service import create_organisation, rotate_key, seal_ref
from registry.settings import Settings
from registry.trust.service import TRUST_KEY_REF
from signing.multikey import multikey_to_public_key
from tests.databases import fresh_database
from tests.factories import new_uscc
from tests.integration.test_servers import _free_port, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REGISTRY = str(Path(sys.executable).parent / "registry")
BASE = "http://backup.registry.test"
TYPES = ["driving_license", "business_license", "social_security_card"]
ON_POSTGRES = bool(os.environ.get("REGISTRY_TEST_DATABASE_URL"))


@dataclass
class Place:
    """One registry's database (a SQLite file, or a fresh PostgreSQL database) and the environment naming it."""

    url: str
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)


def run(place: Place, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGISTRY, *args], cwd=cwd, env=place.env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backup")


@pytest.fixture(scope="module")
def make_place(workdir: Path) -> Iterator[Callable[[str], Place]]:
    drops: list[Callable[[], None]] = []

    def make(name: str, master_key: Path | None = None) -> Place:
        url, drop = fresh_database(workdir, f"backup_{name}")
        drops.append(drop)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(
            REGISTRY_DATABASE_URL=url,
            REGISTRY_DATA_DIR=str(workdir / f"var-{name}"),
            REGISTRY_MASTER_KEY_FILE=str(master_key or workdir / "master.key"),
            REGISTRY_BASE_URL=BASE,
        )
        return Place(url, env)

    yield make
    for drop in drops:
        drop()


# --- the registry that is backed up ---------------------------------------------------------------------------


@dataclass
class Made:
    """What the source registry holds, as its own API reported it."""

    org_code: str
    client_secret: str
    verdicts: dict[str, str]  # identifier -> verdict, from POST /api/v1/verifications
    payloads: dict[str, str]  # identifier -> QR payload
    counts: dict[str, int]
    root: str  # the latest checkpoint's root hash


async def _counts(reg: Registry) -> dict[str, int]:
    out: dict[str, int] = {}
    async with reg.db.read() as session:
        for name, model in (
            ("licences", License),
            ("events", LicenseEvent),
            ("access", AccessLog),
            ("log", LogEntry),
            ("keys", SigningKey),
        ):
            out[name] = int((await session.exec(select(func.count()).select_from(model))).one())
    return out


async def _verdicts(client: httpx.AsyncClient, payloads: dict[str, str]) -> dict[str, str]:
    verdicts = {}
    for identifier, payload in payloads.items():
        resp = await client.post("/api/v1/verifications", json={"payload": payload})
        assert resp.status_code == 200, resp.text
        verdicts[identifier] = resp.json()["verdict"]
    return verdicts


async def _token(client: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


async def _issue(reg: Registry, client: httpx.AsyncClient, auth: dict[str, str], license_type: str) -> dict[str, Any]:
    lt = reg.catalog.get(license_type)
    h = lt.example_holder
    body = {
        "type": license_type,
        "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
        "fields": lt.example_fields(),
    }
    resp = await client.post("/api/v1/licenses", json=body, headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def _populate(settings: Settings) -> Made:
    reg = Registry.from_settings(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(registry=reg)), base_url=BASE) as c:
            made = await create_organisation(
                reg, code=new_uscc(), name="深圳市交通运输局", role="issuer", license_types=TYPES
            )
            auth = await _token(c, made.client_id, made.client_secret)
            licences = [await _issue(reg, c, auth, t) for t in TYPES]
            suspended, revoked, read = licences
            for lic, action in ((suspended, "suspend"), (revoked, "revoke")):
                resp = await c.post(
                    f"/api/v1/licenses/{lic['identifier']}/{action}", json={"reason": "依法处理"}, headers=auth
                )
                assert resp.status_code == 200, resp.text
            assert (await c.get(f"/api/v1/licenses/{read['identifier']}", headers=auth)).status_code == 200  # logged
            await rotate_key(reg, made.code)
            licences.append(await _issue(reg, c, auth, "driving_license"))  # signed with key-2
            payloads = {lic["identifier"]: lic["qr_payload"] for lic in licences}
            verdicts = await _verdicts(c, payloads)
            assert sorted(verdicts.values()) == ["revoked", "suspended", "valid", "valid"]
            assert (await c.get("/api/v1/trust-list")).status_code == 200  # makes the trust-list key
            await integrate(reg)
            checkpoint = (await c.get("/api/v1/log/checkpoint")).json()
            assert (await verify_log(reg)).ok
            counts = await _counts(reg)
            assert counts["access"] >= 1 and counts["keys"] == 2
            return Made(made.code, made.client_secret, verdicts, payloads, counts, checkpoint["root_hash"])
    finally:
        await reg.close()


@dataclass
class Backup:
    source: Place
    made: Made
    file: Path
    output: subprocess.CompletedProcess[str]


async def _backup_under_an_open_transaction(source: Place, cwd: Path, org_code: str, file: Path) -> Any:
    """Run `registry backup` while another connection holds an uncommitted change: the backup must not wait for
    it (it is online) and must not contain it (it is a consistent snapshot)."""
    engine = create_engine(source.settings.database_url)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await conn.execute(text("UPDATE organisation SET name = 'UNCOMMITTED' WHERE code = :c"), {"c": org_code})
            out = await asyncio.to_thread(run, source, cwd, "backup", str(file), "--json")
            await transaction.rollback()
    finally:
        await engine.dispose()
    return out


@pytest.fixture(scope="module")
def backed_up(make_place: Callable[..., Place], workdir: Path) -> Backup:
    source = make_place("source")
    settings = source.settings
    upgrade(settings.database_url)
    made = asyncio.run(_populate(settings))
    file = workdir / "registry.backup"
    out = asyncio.run(_backup_under_an_open_transaction(source, workdir, made.org_code, file))
    return Backup(source, made, file, out)


def test_backup_reports_what_it_holds_and_leaves_the_master_key_out(backed_up: Backup) -> None:
    out = backed_up.output
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["engine"] == ("postgresql" if ON_POSTGRES else "sqlite")
    assert report["licences"] == backed_up.made.counts["licences"] == 4
    assert report["bytes"] == backed_up.file.stat().st_size > 0
    assert (backed_up.file.stat().st_mode & 0o777) == 0o600  # it holds personal data
    # The master key is not in the file, in any encoding, and the command says so.
    assert "master key is NOT in this backup" in out.stderr and "主密钥不在备份中" in out.stderr
    key = Path(backed_up.source.env["REGISTRY_MASTER_KEY_FILE"]).read_bytes()
    data = backed_up.file.read_bytes()
    for form in (key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key), base58.b58encode(key)):
        assert form not in data
    # Human output: the same facts in words.
    words = run(backed_up.source, backed_up.file.parent, "backup", str(backed_up.file.with_suffix(".again")))
    assert words.returncode == 0, words.stderr
    assert "4 份证照 licences" in words.stdout and "master key is NOT" in words.stderr


async def _check_restored(settings: Settings, made: Made) -> dict[str, Any]:
    reg = Registry.from_settings(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(registry=reg)), base_url=BASE) as c:
            # 1. The same verdicts, for the same licences.
            assert await _verdicts(c, made.payloads) == made.verdicts
            assert await _counts(reg) == made.counts
            async with reg.db.read() as session:
                org = await session.get(Organisation, made.org_code)
                checkpoints = (await session.exec(select(LogCheckpoint))).all()
                keys = (await session.exec(select(SigningKey))).all()
                trust = await session.get(TrustKey, TRUST_KEY_REF)
            assert org is not None and org.name == "深圳市交通运输局"  # not what was uncommitted during the backup
            assert max(cp.tree_size for cp in checkpoints) == made.counts["log"]
            # 2. The log verifies, and its head is the one the source signed.
            report = await verify_log(reg)
            assert report.ok, report.problems
            assert (await c.get("/api/v1/log/checkpoint")).json()["root_hash"] == made.root
            # 3. The keys open with the same master key file and are the keys the registry publishes.
            for key in keys:
                signer = reg.key_provider.load(
                    seal_ref(key.org_code, key.key_ref), settings.key_id(key.org_code, key.key_ref), key.sealed_secret
                )
                assert signer.public_key == multikey_to_public_key(key.public_key_multibase)
            assert trust is not None
            trust_signer = reg.key_provider.load(f"registry#{TRUST_KEY_REF}", "did:key", trust.sealed_secret)
            assert trust_signer.public_key == multikey_to_public_key(trust.public_key_multibase)
            # 4. It carries on: the department logs in with its old secret, and a new licence (with the active
            # key, key-2) takes a new number and verifies.
            auth = await _token(c, made.org_code, made.client_secret)
            fresh = await _issue(reg, c, auth, "driving_license")
            assert fresh["identifier"] not in made.payloads
            assert fresh["credential"]["proof"]["verificationMethod"].endswith("#key-2")
            assert (await _verdicts(c, {fresh["identifier"]: fresh["qr_payload"]}))[fresh["identifier"]] == "valid"
            assert (await verify_log(reg)).ok
            return {"fresh": fresh["identifier"], "licences": (await _counts(reg))["licences"]}
    finally:
        await reg.close()


def test_restore_into_a_fresh_database_gives_the_same_registry(
    backed_up: Backup, make_place: Callable[..., Place], workdir: Path
) -> None:
    target = make_place("restored")
    out = run(target, workdir, "restore", str(backed_up.file), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["licences"], report["master_key_present"], report["keys_failed"]) == (4, True, [])
    assert report["keys_opened"] == 3  # key-1, key-2 and the trust-list key
    after = asyncio.run(_check_restored(target.settings, backed_up.made))
    assert after["licences"] == 5

    # Again, over what is now a registry with data: refused without --force, and nothing changes.
    again = run(target, workdir, "restore", str(backed_up.file))
    assert again.returncode == 1
    assert "restore_target_not_empty" in again.stderr and "--force" in again.stderr
    assert _licences(target) == 5
    # With --force, the database is the backup again: the licence issued since is gone.
    forced = run(target, workdir, "restore", str(backed_up.file), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "opens all 3 keys" in forced.stderr
    assert _licences(target) == 4

    # Not while a server has it open: its cached keys and lists would no longer match the database.
    port = _free_port()
    serve_env = {**target.env, "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}"}
    with serving(serve_env, workdir, port) as url:
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        busy = run(target, workdir, "restore", str(backed_up.file), "--force")
        assert busy.returncode == 1
        assert "database_in_use" in busy.stderr and "stop registry serve" in busy.stderr
    assert _licences(target) == 4


def test_the_master_key_file_is_checked_after_a_restore(
    backed_up: Backup, make_place: Callable[..., Place], workdir: Path
) -> None:
    # On a new machine, before the master key file is put back: restored, with a warning.
    missing = make_place("nokey", master_key=workdir / "nokey" / "master.key")
    out = run(missing, workdir, "restore", str(backed_up.file))
    assert out.returncode == 0, out.stderr
    assert "no master key file" in out.stderr
    assert not (workdir / "nokey" / "master.key").exists()  # restore never creates one
    # Another registry's master key: the keys do not open, and the command fails saying why.
    other_key = workdir / "other.key"
    other_key.write_bytes(os.urandom(32))
    other_key.chmod(0o600)
    wrong = make_place("wrongkey", master_key=other_key)
    out = run(wrong, workdir, "restore", str(backed_up.file))
    assert out.returncode == 1
    assert "does not open the restored keys" in out.stderr and "3/3" in out.stderr


def _licences(place: Place) -> int:
    async def count() -> int:
        engine = create_engine(place.settings.database_url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(text("SELECT count(*) FROM license"))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


def _tables(place: Place) -> set[str]:
    async def names() -> set[str]:
        engine = create_engine(place.settings.database_url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(names())


def test_a_damaged_or_foreign_file_is_refused(
    backed_up: Backup, make_place: Callable[..., Place], workdir: Path
) -> None:
    target = make_place("refused")
    data = backed_up.file.read_bytes()
    truncated = workdir / "truncated.backup"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = workdir / "garbage.backup"
    garbage.write_bytes(b"this is not a backup\n" * 100)
    empty = workdir / "empty.backup"
    empty.write_bytes(b"")
    other_engine = workdir / "other-engine.backup"
    if ON_POSTGRES:
        conn = sqlite3.connect(other_engine)
        conn.execute("CREATE TABLE license (identifier TEXT)")
        conn.close()
    else:
        other_engine.write_bytes(b"PGDMP" + bytes(200))
    not_registry = workdir / "not-registry.backup"
    if not ON_POSTGRES:
        conn = sqlite3.connect(not_registry)
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()
        conn.close()
    cases = [
        (truncated, ("truncated", "incomplete")),
        (garbage, ("Not a",)),
        (empty, ("Not a",)),
        (other_engine, ("backup; the configured database is", "backup (pg_dump); the configured database is")),
        (workdir / "missing.backup", ("No backup file",)),
    ]
    if not ON_POSTGRES:
        cases.append((not_registry, ("Not a registry backup",)))
    for file, needles in cases:
        out = run(target, workdir, "restore", str(file), "--force")
        assert out.returncode == 1, (file.name, out.stdout, out.stderr)
        assert "backup_invalid" in out.stderr, (file.name, out.stderr)
        assert any(n in out.stderr for n in needles), (file.name, out.stderr)
        assert out.stdout == ""
    # Nothing was written to the target: no tables at all (a SQLite file may exist, empty).
    assert not _tables(target)
