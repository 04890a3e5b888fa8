"""Verify latency at scale: a scan against a database of one million licences, against one of ten thousand
(issue #7: "verify latency at one million licences within 1.25× of that at ten thousand").

    .venv/bin/python bench/scale.py [--rows 1000000] [--small 10000] [--sample 3000] [--rate 150] [--rounds 3]
                                    [--keep DIR] [--file-cache]

In a temporary folder (or DIR, kept afterwards and reused: a 1M-row issue-batch takes minutes), registers a
department and issues social security cards with `registry issue-batch`:

  small   --small rows, in DIR/var-small
  large   a copy of the small database plus the rows from --small up to --rows, in DIR/var

For each database in turn: starts `registry serve --workers 1`, warms it up on a few licences outside the
sample, then scans --sample random licences (distinct, each once) at a fixed rate, open loop. After the restart
none of them is in the worker's cache of recently scanned licences, so every scan reads its licence from the
database ("cold"); the same scans again are cache hits ("warm", for reference). --rounds alternates the two
databases (small, large, small, …), a fresh random sample each time, and the ratios are of the medians over the
rounds: one round's p99 rests on 30 scans, and this machine's noise moves it by more than the target's 25%.
The operating system's file cache is not dropped: "cold" is the registry's cache, not the disk. Every answer
must be 200 with verdict "valid".

The licences' payloads embed the base URL they were issued under, so DIR/scale.json keeps it (with the
department's code) for later runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bulk import LICENCE_TYPE, write_csv  # noqa: E402
from bench.issuance import free_port  # noqa: E402
from bench.verify import wait_up  # noqa: E402
from tests.factories import new_uscc  # noqa: E402

BIN = Path(sys.executable).parent
WARMUP = 100  # licences scanned before each measurement, outside the sample: first-request costs stay out of it


def db_path(data_dir: Path) -> Path:
    return data_dir / "registry.db"


def count_licences(data_dir: Path) -> int:
    if not db_path(data_dir).exists():
        return 0
    with sqlite3.connect(db_path(data_dir)) as con:
        try:
            return int(con.execute("SELECT count(*) FROM license").fetchone()[0])
        except sqlite3.OperationalError:  # no table yet: create-org never ran
            return 0


def db_size(data_dir: Path) -> int:
    """The database file and its write-ahead log, if one is left."""
    base = db_path(data_dir)
    return sum(p.stat().st_size for p in (base, base.with_name(base.name + "-wal")) if p.exists())


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def issue(env: dict[str, str], workdir: Path, org: str, csv_path: Path) -> tuple[dict[str, Any], float]:
    """`registry issue-batch`; its progress goes to our stderr, a 1M-row run takes minutes."""
    cmd = [str(BIN / "registry"), "issue-batch", "--org", org, "--type", LICENCE_TYPE, str(csv_path), "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise SystemExit(f"issue-batch failed ({proc.returncode}) on {csv_path}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["failed"]:
        raise SystemExit(f"issue-batch: {result['failed']} rows failed on {csv_path}: {result}")
    return result, seconds


def snapshot(source: Path, target: Path) -> None:
    """Copy a data dir; the database through SQLite's backup API (it runs in WAL mode). Renamed into place
    last, so an interrupted copy is not mistaken for a finished one."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=shutil.ignore_patterns("registry.db*"))
    with sqlite3.connect(db_path(source)) as src, sqlite3.connect(db_path(partial)) as dst:
        src.backup(dst)
    partial.rename(target)


def pick_payloads(data_dir: Path, count: int) -> list[str]:
    """``count`` distinct licences' QR payloads, by random rowid: ORDER BY random() would sort a million rows."""
    with sqlite3.connect(db_path(data_dir)) as con:
        lo, hi = con.execute("SELECT min(rowid), max(rowid) FROM license").fetchone()
        if lo is None or hi - lo + 1 < count:
            raise SystemExit(f"{data_dir}: fewer than {count} licences to sample")
        tried: set[int] = set()
        payloads: list[str] = []
        while len(payloads) < count:
            if len(tried) == hi - lo + 1:
                raise SystemExit(f"{data_dir}: fewer than {count} licences to sample")
            rowid = random.randint(lo, hi)
            if rowid in tried:
                continue
            tried.add(rowid)
            row = con.execute("SELECT qr_payload FROM license WHERE rowid = ?", (rowid,)).fetchone()
            if row is not None:  # rowids may have gaps
                payloads.append(str(row[0]))
    return payloads


async def scan_at_rate(url: str, payloads: list[str], rate: float) -> tuple[list[float], float]:
    """Open loop: each payload once, one every 1/rate s whatever the answers do, so queueing shows.
    Returns the latencies (s) and the request rate actually achieved."""
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(payload: str) -> None:
            t0 = time.perf_counter()
            resp = await client.post(url, json={"payload": payload})
            latencies.append(time.perf_counter() - t0)
            verdict = resp.json().get("verdict") if resp.status_code == 200 else None
            if verdict != "valid":
                failures.append(f"{resp.status_code} {resp.text[:300]}")

        tasks = []
        start = time.perf_counter()
        for i, payload in enumerate(payloads):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(payload)))
        sent = time.perf_counter() - start
        await asyncio.gather(*tasks)
    if failures:
        raise SystemExit(f"{len(failures)} of {len(payloads)} scans not 200/valid, e.g.: {failures[0]}")
    return sorted(latencies), (len(payloads) - 1) / sent if sent > 0 else float("nan")


def pct(sorted_latencies: list[float], q: float) -> float:
    """Nearest-rank percentile, in ms."""
    n = len(sorted_latencies)
    return sorted_latencies[min(n - 1, int(q * n))] * 1000


def read_through(path: Path) -> None:
    """Read a file once, so that it sits in the operating system's file cache (as a database server's does)."""
    with path.open("rb") as f:
        while f.read(8 * 1024 * 1024):
            pass


def measure(
    data_dir: Path, env: dict[str, str], port: int, sample: int, rate: float, log: Path, file_cache: bool = False
) -> dict[str, float]:
    chosen = pick_payloads(data_dir, sample + WARMUP)
    if file_cache:
        read_through(data_dir / "registry.db")
    warmup, payloads = chosen[:WARMUP], chosen[WARMUP:]
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/api/v1/verifications"
    with log.open("w") as out:
        # A fresh process each time: its cache of recently scanned licences starts empty.
        server = subprocess.Popen(
            [str(BIN / "registry"), "serve", "--port", str(port), "--workers", "1"],
            cwd=data_dir.parent, env={**env, "REGISTRY_DATA_DIR": str(data_dir)}, stdout=out, stderr=out,
        )  # fmt: skip
        try:
            wait_up(f"{base}/healthz", server, f"registry serve (log: {log})")
            with httpx.Client(timeout=30) as client:
                for payload in warmup:
                    answer = client.post(url, json={"payload": payload})
                    if answer.status_code != 200 or answer.json().get("verdict") != "valid":
                        raise SystemExit(f"warm-up scan: {answer.status_code} {answer.text[:300]}")
            cold, cold_rate = asyncio.run(scan_at_rate(url, payloads, rate))
            warm, _ = asyncio.run(scan_at_rate(url, payloads, rate))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "licences": count_licences(data_dir),
        "size": db_size(data_dir),
        "cold_p50": pct(cold, 0.50),
        "cold_p90": pct(cold, 0.90),
        "cold_p99": pct(cold, 0.99),
        "warm_p50": pct(warm, 0.50),
        "warm_p99": pct(warm, 0.99),
        "rate": cold_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="licences in the large database")
    parser.add_argument("--small", type=int, default=10_000, help="licences in the small database")
    parser.add_argument("--sample", type=int, default=3000, help="distinct licences scanned per measurement")
    parser.add_argument("--rate", type=float, default=150.0, help="scans/s, open loop")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per database, alternating")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR, keep it, and reuse what it holds")
    parser.add_argument(
        "--file-cache",
        action="store_true",
        help="read each database file once before measuring, so it is in the OS file cache (else it is as the "
        "machine left it: on a VM that drops its page cache, a million licences' rows come from disk)",
    )
    args = parser.parse_args()
    if not 0 < args.small < args.rows:
        raise SystemExit("need 0 < --small < --rows")
    if args.sample + WARMUP > args.small:
        raise SystemExit(f"--sample + {WARMUP} (warm-up) must not exceed --small")

    with tempfile.TemporaryDirectory() as scratch:
        work = (args.keep or Path(scratch)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        state_file = work / "scale.json"
        state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {}
        if "port" not in state:
            state = {"port": free_port(), "org": new_uscc()}
            state_file.write_text(json.dumps(state))
        # Issued payloads name this base URL; the server must be started under the same one. If the port is taken
        # now, listen elsewhere: the scan path reads the base URL from settings, it never dials it.
        base_url = f"http://127.0.0.1:{state['port']}"
        listen = state["port"] if port_free(state["port"]) else free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(REGISTRY_BASE_URL=base_url, REGISTRY_VERIFY_RATE_PER_MINUTE="100000000")
        small_dir, large_dir = work / "var-small", work / "var"

        for data_dir, want in ((small_dir, args.small), (large_dir, args.rows)):
            held = count_licences(data_dir)
            if held > want:
                raise SystemExit(f"{data_dir} holds {held} licences, more than {want}: use another --keep DIR")
        t0 = time.perf_counter()
        if count_licences(small_dir) < args.small:
            phase_env = {**env, "REGISTRY_DATA_DIR": str(small_dir)}
            if not db_path(small_dir).exists():
                subprocess.run(
                    [str(BIN / "registry"), "admin", "create-org", "--code", state["org"],
                     "--name", "深圳市人力资源和社会保障局", "--role", "issuer", "--license-types", LICENCE_TYPE,
                     "--json"],
                    cwd=work, env=phase_env, capture_output=True, check=True,
                )  # fmt: skip
            csv_small = work / f"ssc-0-{args.small}.csv"
            if not csv_small.exists():
                write_csv(csv_small, args.small)
            result, seconds = issue(phase_env, work, state["org"], csv_small)
            print(f"small: issued {result['issued']}, skipped {result['skipped']} in {seconds:.0f} s", file=sys.stderr)
        if count_licences(large_dir) < args.rows:
            if not db_path(large_dir).exists():
                snapshot(small_dir, large_dir)  # the large database starts as the small one
            csv_rest = work / f"ssc-{args.small}-{args.rows}.csv"
            if not csv_rest.exists():
                write_csv(csv_rest, args.rows, start=args.small)
            result, seconds = issue({**env, "REGISTRY_DATA_DIR": str(large_dir)}, work, state["org"], csv_rest)
            print(f"large: issued {result['issued']}, skipped {result['skipped']} in {seconds:.0f} s", file=sys.stderr)
        prepared = time.perf_counter() - t0

        rounds: dict[str, list[dict[str, float]]] = {"small": [], "large": []}
        for _ in range(args.rounds):
            for name, data_dir in (("small", small_dir), ("large", large_dir)):
                log = work / f"serve-{name}.log"
                rounds[name].append(measure(data_dir, env, listen, args.sample, args.rate, log, args.file_cache))

    print(
        f"verify latency at scale (SQLite, serve --workers 1, {os.cpu_count()} cores, "
        f"{datetime.now(UTC):%Y-%m-%d}; databases prepared in {prepared:.0f} s; "
        f"{'database files read into the OS file cache first' if args.file_cache else 'OS file cache as found'})"
    )
    print(
        f"  {args.sample} distinct licences per database, each scanned once after a restart (cold: read from the "
        f"database) then again (warm: cache hits), open loop at {args.rate:.0f}/s; {args.rounds} rounds, alternating"
    )
    print(
        f"  {'':6s} {'licences':>10s} {'db MiB':>8s}   {'cold p50':>8s} {'p90':>6s} {'p99':>6s}   "
        f"{'warm p50':>8s} {'p99':>6s}   {'sent/s':>6s}"
    )
    for i in range(args.rounds):
        for name in ("small", "large"):
            r = rounds[name][i]
            print(
                f"  {f'#{i + 1}':6s} {r['licences']:>10,.0f} {r['size'] / 2**20:8.0f}   {r['cold_p50']:8.2f} "
                f"{r['cold_p90']:6.2f} {r['cold_p99']:6.2f}   {r['warm_p50']:8.2f} {r['warm_p99']:6.2f}   "
                f"{r['rate']:6.0f}"
            )
    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in rounds.items()}
    small, large = med["small"], med["large"]
    print(
        f"  medians: small cold p50 {small['cold_p50']:.2f} p99 {small['cold_p99']:.2f}; "
        f"large cold p50 {large['cold_p50']:.2f} p99 {large['cold_p99']:.2f}"
    )
    print(
        f"  ratio large / small, cold: p50 {large['cold_p50'] / small['cold_p50']:.2f}, "
        f"p99 {large['cold_p99'] / small['cold_p99']:.2f}  (target ≤ 1.25)"
    )


if __name__ == "__main__":
    main()
