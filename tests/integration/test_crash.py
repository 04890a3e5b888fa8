"""Crash safety (issue #8): `kill -9` in the middle of real work, then the same work again.

- `registry issue-batch` of thousands of rows, killed (with its worker processes) while it stores chunks, twice,
  then run to the end: every row issued exactly once.
- A real `registry serve` under many concurrent `POST /api/v1/licenses`, killed mid-load and restarted; every
  request whose answer was lost is sent again with its Idempotency-Key: each key ends with exactly one licence.

Afterwards the database is checked directly: one licence per row or key, unique identifiers, serials and status
slots (and the department's counters past every one used, so none is handed out again), every licence with its
issue event and idempotency record and a signature that verifies, and `registry log verify` finds the
transparency log whole. Each test runs on a database of its own (a SQLite file, or a fresh PostgreSQL database
when the suite runs on PostgreSQL), so the shared test database is untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from registry.db import create_engine
from signing.data_integrity import verify_proof
from signing.multikey import multikey_to_public_key
from tests.databases import fresh_database
from tests.factories import new_uscc
from tests.integration.test_batch import SSC, SSC_HEADER, csv_bytes, ssc_rows
from tests.integration.test_servers import _free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REGISTRY = str(Path(sys.executable).parent / "registry")
BATCH_ROWS = 4000
REQUESTS = 400
IN_FLIGHT = 48


@dataclass
class Crashable:
    """A registry of its own: its database URL and the environment every command of the test runs with."""

    url: str
    env: dict[str, str]
    cwd: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REGISTRY, *args], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=600
        )

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        # Its own process group: SIGKILL reaches the command and every worker it started, as a power cut would.
        with log.open("ab") as out:
            return subprocess.Popen(
                [REGISTRY, *args],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async def query() -> list[tuple[Any, ...]]:
            engine = create_engine(self.url)
            try:
                async with engine.connect() as conn:
                    return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]
            finally:
                await engine.dispose()

        return asyncio.run(query())

    def count(self, table: str, org: str) -> int:
        column = "issuer_code" if table == "license" else "org_code"
        return int(self.rows(f"SELECT count(*) FROM {table} WHERE {column} = :org", org=org)[0][0])  # noqa: S608

    def department(self, types: str) -> dict[str, Any]:
        out = self.cli(
            *("admin", "create-org", "--code", new_uscc(), "--name", "深圳市人力资源和社会保障局", "--role", "issuer"),
            *("--license-types", types, "--json"),
        )
        assert out.returncode == 0, out.stderr
        made: dict[str, Any] = json.loads(out.stdout)
        return made


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[Crashable]:
    url, drop = fresh_database(tmp_path, "crash")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_DATABASE_URL=url,
        REGISTRY_DATA_DIR=str(tmp_path / "var"),
        REGISTRY_MASTER_KEY_FILE=str(tmp_path / "master.key"),
    )
    try:
        yield Crashable(url, env, tmp_path)
    finally:
        drop()


def kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already killed and reaped: its whole group is gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_until(condition: Any, proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def settle(reg: Crashable) -> None:
    """Wait until the killed process's PostgreSQL sessions have ended (SQLite: nothing outlives the process)."""
    if not reg.url.startswith("postgresql"):
        return
    deadline = time.monotonic() + 30
    sessions = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    while reg.rows(sessions)[0][0]:
        assert time.monotonic() < deadline, "the killed server's database sessions did not end"
        time.sleep(0.1)


def check_whole(reg: Crashable, org: str, expected: int) -> list[tuple[Any, ...]]:
    """The department's licences after the crashes: each stored once and whole, and nothing numbered twice."""
    licences = reg.rows(
        "SELECT l.identifier, l.serial, l.holder_id_number, l.revocation_list_id, l.suspension_list_id, "
        "l.status_index, l.credential_jcs, k.public_key_multibase FROM license l "
        "JOIN signing_key k ON k.id = l.signing_key_id WHERE l.issuer_code = :org",
        org=org,
    )
    assert len(licences) == expected
    identifiers = [lic[0] for lic in licences]
    assert len(set(identifiers)) == expected
    assert len({lic[1] for lic in licences}) == expected  # serials
    # No status slot is used twice, in either list.
    for slots in ({(lic[3], lic[5]) for lic in licences}, {(lic[4], lic[5]) for lic in licences}):
        assert len(slots) == expected
    # The department's counters are past every serial and slot used: none will be handed out again.
    size = int(reg.rows("SELECT size FROM status_list WHERE org_code = :org LIMIT 1", org=org)[0][0])
    next_serial, next_slot = reg.rows(
        "SELECT next_serial, next_status_index FROM organisation WHERE code = :org", org=org
    )[0]
    assert next_serial >= max(int(lic[1]) for lic in licences)
    assert next_slot > max((int(lic[3].rsplit("-", 1)[1]) - 1) * size + lic[5] for lic in licences)
    # Each licence has exactly one issue event and one idempotency record, and nothing else has either.
    events = Counter(
        r[0]
        for r in reg.rows(
            "SELECT e.identifier FROM license_event e JOIN license l ON l.identifier = e.identifier "
            "WHERE l.issuer_code = :org AND e.action = 'issue'",
            org=org,
        )
    )
    assert events == Counter(identifiers)
    records = reg.rows("SELECT key, identifier FROM idempotency_record WHERE org_code = :org", org=org)
    assert sorted(r[1] for r in records) == sorted(identifiers)
    # Every stored credential is whole: its signature verifies with the key the licence names.
    for lic in licences:
        verify_proof(json.loads(lic[6]), multikey_to_public_key(lic[7]))
    # And the transparency log holds exactly these records, each once.
    verified = reg.cli("log", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["problems"] == []
    assert report["entries"] == int(reg.rows("SELECT count(*) FROM log_entry")[0][0])
    return records


def test_issue_batch_killed_midway_then_run_again(crashable: Crashable) -> None:
    org = crashable.department(SSC)["code"]
    rows = ssc_rows(BATCH_ROWS)
    data = crashable.cwd / "社保卡.csv"
    data.write_bytes(csv_bytes(rows))
    command = ("issue-batch", "--org", org, "--type", SSC, str(data), "--json")
    log = crashable.cwd / "issue-batch.log"

    # Killed twice: once as soon as a chunk is stored, once after the second run has stored more.
    stored: list[int] = [0]
    for _ in range(2):
        proc = crashable.start(*command, log=log)
        wait_until(lambda: crashable.count("license", org) > stored[-1], proc, "a chunk was stored")
        kill(proc)
        settle(crashable)
        stored.append(crashable.count("license", org))
    assert 0 < stored[1] < stored[2] < BATCH_ROWS, (stored, log.read_text())

    final = crashable.cli(*command)
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout.strip().splitlines()[-1])
    assert summary["failed"] == 0
    assert summary["skipped"] == stored[2]  # what the killed runs committed counts as done ...
    assert summary["issued"] == BATCH_ROWS - stored[2]  # ... and only the rest is issued

    records = check_whole(crashable, org, BATCH_ROWS)
    holders = crashable.rows("SELECT holder_id_number FROM license WHERE issuer_code = :org", org=org)
    assert sorted(h[0] for h in holders) == sorted(row[1] for row in rows)  # one licence per row
    assert all(key.startswith("batch:") for key, _ in records)
    # Running it once more issues nothing.
    again = crashable.cli(*command)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["skipped"] == BATCH_ROWS


def _bodies(count: int) -> dict[str, dict[str, Any]]:
    """Idempotency-Key -> request body, each for another holder."""
    bodies = {}
    for row in ssc_rows(count):
        cells = dict(zip(SSC_HEADER, row, strict=True))
        bodies[f"crash-{uuid.uuid4()}"] = {
            "type": SSC,
            "holder": {"id_type": cells["holder_id_type"], "id_number": cells["holder_id_number"], "name": row[2]},
            "fields": {name: cells[name] for name in SSC_HEADER[3:]},
        }
    return bodies


def _serve(reg: Crashable, port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = reg.start("serve", "--port", str(port), log=log)
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.2)


async def _load(
    url: str, auth: dict[str, str], bodies: dict[str, dict[str, Any]], proc: subprocess.Popen[bytes], kill_after: int
) -> tuple[dict[str, str], dict[str, str]]:
    """Send every request, IN_FLIGHT at a time; SIGKILL the server once ``kill_after`` answers have come back.

    Returns (key -> identifier of the 201 the client saw, key -> identifier of a 201 the client "lost"). Every
    eighth answer counts as lost on the way back (a dropped connection, a client that timed out): the server
    committed those and the client must not know it. Requests in flight when the server dies get no answer."""
    seen: dict[str, str] = {}
    dropped: dict[str, str] = {}
    gate = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def send(n: int, key: str, body: dict[str, Any]) -> None:
            async with gate:
                try:
                    resp = await client.post("/api/v1/licenses", json=body, headers={**auth, "Idempotency-Key": key})
                except httpx.TransportError:
                    return  # the server died with this request in flight, or before it was sent
            assert resp.status_code == 201, resp.text
            lost = n % 8 == 0
            (dropped if lost else seen)[key] = resp.json()["identifier"]
            # Only a counted answer may trigger the kill: answers already on the way once the server is dead must
            # not kill it a second time.
            if not lost and len(seen) == kill_after:
                kill(proc)

        await asyncio.gather(*(send(n, key, body) for n, (key, body) in enumerate(bodies.items())))
    return seen, dropped


def test_server_killed_under_issuance_load(crashable: Crashable) -> None:
    port = _free_port()
    crashable.env["REGISTRY_BASE_URL"] = url = f"http://127.0.0.1:{port}"
    org = crashable.department(SSC)
    log = crashable.cwd / "serve.log"
    bodies = _bodies(REQUESTS)

    server = _serve(crashable, port, log)
    try:
        token = httpx.post(
            f"{url}/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": org["client_id"],
                "client_secret": org["client_secret"],
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        seen, dropped = asyncio.run(_load(url, auth, bodies, server, kill_after=REQUESTS // 8))
    finally:
        if server.poll() is None:
            kill(server)
    unanswered = [key for key in bodies if key not in seen]
    assert len(seen) >= REQUESTS // 8 and dropped, (len(seen), len(dropped))
    assert len(unanswered) > len(dropped)  # some requests were still in flight, or unsent, when it died
    settle(crashable)
    # What the database committed: every answer the client saw, and perhaps more (the dropped ones at least).
    committed = dict(
        crashable.rows("SELECT key, identifier FROM idempotency_record WHERE org_code = :org", org=org["code"])
    )
    assert seen.items() <= committed.items() and dropped.items() <= committed.items()

    server = _serve(crashable, port, log)  # the same address: the same base URL, as after a real restart
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            # Every request without an answer is sent again, with its key; and a few answered ones, as a client
            # unsure of them would.
            for key in unanswered + list(seen)[:10]:
                resp = client.post("/api/v1/licenses", json=bodies[key], headers={**auth, "Idempotency-Key": key})
                assert resp.status_code == 201, resp.text
                identifier = resp.json()["identifier"]
                replayed = resp.headers.get("Idempotent-Replayed") == "true"
                # Committed before the crash: the same licence again, said to be a replay; else issued now.
                assert (identifier, replayed) == ((committed[key], True) if key in committed else (identifier, False))
                seen[key] = identifier
    finally:
        server.terminate()
        server.wait(timeout=30)

    records = check_whole(crashable, org["code"], REQUESTS)
    # Each key has exactly one licence: the one its answers named, for the holder its body named.
    assert dict(records) == seen
    holders = dict(
        crashable.rows("SELECT identifier, holder_id_number FROM license WHERE issuer_code = :org", org=org["code"])
    )
    assert all(holders[seen[key]] == body["holder"]["id_number"] for key, body in bodies.items())
    assert "Traceback" not in log.read_text().split("Started server process")[-1]  # the restarted server ran clean
