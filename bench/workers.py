"""Throughput with `registry serve --workers 2` against `--workers 1` on PostgreSQL, and cache coherence between
the two workers (issue #7, item 6).

    .venv/bin/python bench/workers.py [--seconds 8] [--rounds 3] [--connections 32]
                                      [--database-url URL]

By default it creates a fresh PostgreSQL database (bench_workers_<random> on 127.0.0.1:5432, user postgres) and
drops it at the end; it never touches `test`, which the test suite uses. It registers one department, issues a
few licences, then in alternating rounds (1, 2, 1, 2, … so that machine noise falls on both alike) starts
`registry serve --workers N` and measures:

  scans     wrk (Debian: apt-get install wrk), one thread, --connections, POST /api/v1/verifications with the
            same licence payload over and over (as bench/verify.py)
  issuance  wrk the same way, POST /api/v1/licenses, each request with its own Idempotency-Key (as
            bench/issuance.py)

and prints the medians per N and the ratios 2 workers / 1 worker. On the first 2-worker server it also revokes
a licence through the API and scans it over fresh connections (so either worker may answer): every answer from
~2 s after the revocation on must say "revoked" (workers learn of changes through the database's counters,
registry/trust/caches.py).

The registry's per-client scan rate limit is raised for the run (it would otherwise answer 429 after 120 scans).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; only CREATE and DROP DATABASE here
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.issuance import ISSUE_LUA, bodies_file, free_port, run_wrk  # noqa: E402
from bench.verify import wait_up, wrk  # noqa: E402
from registry.licence_types import default_catalog  # noqa: E402
from tests.factories import new_uscc  # noqa: E402

BIN = Path(sys.executable).parent
SCAN_TYPE = "driving_license"  # what bench/verify.py scans, so the figures compare
ISSUE_TYPE = "social_security_card"  # what bench/issuance.py issues
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
STALE_LIMIT_S = 2.0  # how long after a revocation a worker may still answer from its old status bits
WORKER_COUNTS = (1, 2)


@dataclass
class Department:
    client_id: str
    client_secret: str


# ---------------------------------------------------------------------------------------------------- database


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database(url: str | None) -> Iterator[str]:
    """The database URL named, as is; else a new PostgreSQL database, dropped afterwards."""
    if url:
        yield url
        return
    name = f"bench_workers_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        # FORCE: a server killed uncleanly may leave a connection behind (PostgreSQL 13+).
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---------------------------------------------------------------------------------------------------- server


@contextmanager
def serving(workers: int, env: dict[str, str], cwd: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "registry"), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{url}/healthz", proc, f"registry serve --workers {workers}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def create_department(env: dict[str, str], cwd: Path) -> Department:
    org = json.loads(
        subprocess.run(
            [str(BIN / "registry"), "admin", "create-org", "--code", new_uscc(), "--name", "深圳市公安局",
             "--role", "issuer", "--license-types", f"{SCAN_TYPE},{ISSUE_TYPE}", "--json"],
            cwd=cwd, env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    return Department(org["client_id"], org["client_secret"])


def token(base: str, dept: Department) -> dict[str, str]:
    resp = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": dept.client_id, "client_secret": dept.client_secret},
    )
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def issue_scan_licence(base: str, auth: dict[str, str]) -> dict[str, Any]:
    lt = default_catalog().get(SCAN_TYPE)
    h = lt.example_holder
    resp = httpx.post(
        f"{base}/api/v1/licenses",
        json={"type": SCAN_TYPE, "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
              "fields": lt.example_fields()},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def scan(base: str, payload: str, client: httpx.Client | None = None) -> str:
    post = client.post if client is not None else httpx.post  # without a client: a new connection each time
    resp = post(f"{base}/api/v1/verifications", json={"payload": payload})
    resp.raise_for_status()
    return str(resp.json()["verdict"])


# ---------------------------------------------------------------------------------------------------- issuance


def issuance_run(base: str, token_value: str, seconds: int, connections: int, tmp: Path, tag: str) -> dict[str, float]:
    """wrk (a C client: a Python one was the bottleneck) posting licences from bench/issuance.py's bodies, each with
    its own Idempotency-Key."""
    bodies, script = tmp / "bodies.jsonl", tmp / "issue.lua"
    if not bodies.exists():
        bodies_file(bodies, 500)
        script.write_text(ISSUE_LUA)
    run_wrk(base, 1, connections, script, [str(bodies), f"warm-{tag}-", token_value])  # every worker warmed
    return run_wrk(base, seconds, connections, script, [str(bodies), f"{tag}-", token_value])


# ---------------------------------------------------------------------------------------------------- coherence


def coherence_check(base: str, auth: dict[str, str], payload: str, identifier: str, scans: int = 20) -> str:
    """Revoke through one worker, then scan on fresh connections (either worker may take each one)."""
    with httpx.Client() as client:  # kept-alive connections: warm every worker's status bits with "valid"
        warm = [scan(base, payload, client) for _ in range(10)]
    warm += [scan(base, payload) for _ in range(10)]
    assert set(warm) == {"valid"}, warm
    resp = httpx.post(f"{base}/api/v1/licenses/{identifier}/revoke", json={"reason": "依法撤销"}, headers=auth)
    assert resp.status_code == 200, resp.text
    revoked_at = time.monotonic()
    span = 1.5 * STALE_LIMIT_S  # so that some scans fall after the limit, where a stale answer is a failure
    answers: list[tuple[float, str]] = []
    for i in range(scans):
        delay = revoked_at + i * span / (scans - 1) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        verdict = scan(base, payload)  # no shared client: a new connection each time
        answers.append((time.monotonic() - revoked_at, verdict))
    stale = [(t, v) for t, v in answers if v != "revoked"]
    late = [(t, v) for t, v in stale if t >= STALE_LIMIT_S]
    n_revoked = len(answers) - len(stale)
    last = f"last other answer at {max(t for t, _ in stale):.2f}s ({stale[-1][1]})" if stale else "none other"
    verdict = "FAIL" if late else "PASS"
    return (
        f"{verdict}: {n_revoked}/{len(answers)} scans over {answers[-1][0]:.1f}s said revoked, {last}; "
        f"limit {STALE_LIMIT_S:.0f}s"
    )


# ---------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration, and issuance duration, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--database-url", default=None, help="default: a fresh PostgreSQL database, dropped after")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    scans: dict[int, list[dict[str, float]]] = {n: [] for n in WORKER_COUNTS}
    issues: dict[int, list[dict[str, float]]] = {n: [] for n in WORKER_COUNTS}
    coherence = "not run"
    with fresh_database(args.database_url) as db_url, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        # Each server gets a free port, but the base URL (credential ids, status list URLs, did:web names) must
        # stay the same across servers, or the licences issued by the first would not be this registry's.
        env.update(
            REGISTRY_DATABASE_URL=db_url,
            REGISTRY_DATA_DIR=str(tmp / "var"),  # one master key for every server
            REGISTRY_BASE_URL=f"http://127.0.0.1:{free_port()}",
            REGISTRY_VERIFY_RATE_PER_MINUTE="100000000",
        )
        dept: Department | None = None
        payload = revoke_id = revoke_payload = ""
        for _ in range(args.rounds):
            for n in WORKER_COUNTS:
                with serving(n, env, tmp) as base:
                    if dept is None:  # the first server has migrated the database: set up through it
                        dept = create_department(env, tmp)
                        auth = token(base, dept)
                        payload = issue_scan_licence(base, auth)["qr_payload"]
                        other = issue_scan_licence(base, auth)
                        revoke_id, revoke_payload = other["identifier"], other["qr_payload"]
                        issue_scan_licence(base, auth)  # a third, so the scanned one is not alone
                    auth = token(base, dept)
                    if n == 2 and coherence == "not run":
                        coherence = coherence_check(base, auth, revoke_payload, revoke_id)
                        print(f"coherence (2 workers): {coherence}", flush=True)
                    url = f"{base}/api/v1/verifications"
                    assert scan(base, payload) == "valid"
                    body = json.dumps({"payload": payload})
                    wrk(url, body, 1, args.connections, tmp)  # warm up every worker's caches
                    scans[n].append(wrk(url, body, args.seconds, args.connections, tmp))
                    bearer = auth["Authorization"].removeprefix("Bearer ")
                    tag = f"n{n}r{len(issues[n])}"
                    issues[n].append(issuance_run(base, bearer, args.seconds, args.connections, tmp, tag))
                    print(
                        f"  round: {n} worker(s)  scans {scans[n][-1]['rps']:.0f} req/s, "
                        f"issuance {issues[n][-1]['rps']:.0f} req/s",
                        flush=True,
                    )

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    engine = "postgresql" if "postgres" in db_url else db_url.split(":")[0]
    print(
        f"\nworkers benchmark ({engine}, {datetime.now().astimezone():%Y-%m-%d %H:%M %z}, "
        f"os.cpu_count()={os.cpu_count()}, {args.rounds}×{args.seconds}s per N; "
        f"wrk -t1 -c{args.connections} for scans and issuance)"
    )
    print(f"  {'workers':8s} {'scan req/s':>10s} {'p50 ms':>7s} {'p99 ms':>7s}   {'issue req/s':>11s} {'p50 ms':>7s}")
    for n in WORKER_COUNTS:
        print(
            f"  {n:<8d} {med(scans[n], 'rps'):10.0f} {med(scans[n], 'p50_ms'):7.2f} {med(scans[n], 'p99_ms'):7.2f}"
            f"   {med(issues[n], 'rps'):11.1f} {med(issues[n], 'p50_ms'):7.1f}"
        )
    scan_ratio = med(scans[2], "rps") / med(scans[1], "rps")
    issue_ratio = med(issues[2], "rps") / med(issues[1], "rps")
    print(f"  ratio 2 workers / 1: scans {scan_ratio:.2f}, issuance {issue_ratio:.2f}")
    for label, runs in (("scans", scans), ("issuance", issues)):
        rounds = "; ".join(f"{n}: " + ", ".join(f"{r['rps']:.0f}" for r in rs) for n, rs in runs.items())
        print(f"  rounds, {label} (req/s): {rounds}")
    print(f"  coherence (2 workers): {coherence}")
    if coherence.startswith("FAIL"):
        sys.exit(1)


if __name__ == "__main__":
    main()
