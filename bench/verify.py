"""Verify-by-scan throughput: the registry's POST /api/v1/verifications against a bare ceiling, same machine,
same run, same load.

    .venv/bin/python bench/verify.py [--seconds 8] [--rounds 3] [--connections 16] [--rate 200]
                                     [--database-url URL]

Starts, side by side, `registry serve --workers 1` on a fresh database (SQLite by default) with one issued
licence, and the ceiling (bench/ceiling_app.py: a Litestar app that only decodes the same `LC1:` payload and
checks its proof with the same key, under the same uvicorn settings). Then, in alternating rounds so that
machine noise falls on both alike:

  throughput  wrk (Debian: apt-get install wrk), one thread, N connections, the same scan over and over;
              the median of the rounds, and registry / ceiling
  latency     an open-loop client at a fixed request rate (well under both ceilings): p50 and p99

The registry's per-client rate limit is raised for the run (it would otherwise answer 429 after 120 scans).
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
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.issuance import free_port, run_wrk  # noqa: E402
from registry.licence_types import default_catalog  # noqa: E402
from tests.factories import new_uscc  # noqa: E402

BIN = Path(sys.executable).parent
LICENCE_TYPE = "driving_license"


def wait_up(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit(f"{what} exited with {proc.returncode}") from None
            time.sleep(0.1)
    raise SystemExit(f"{what} did not come up")


def wrk(url: str, body: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    script = workdir / "scan.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n'
    )
    return run_wrk(url, seconds, connections, script, [])


async def fixed_rate(url: str, body: dict[str, Any], rate: float, seconds: float) -> dict[str, float]:
    """Open loop: a request every 1/rate s whatever the answers do, so queueing shows in the latencies."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one() -> None:
            t0 = time.perf_counter()
            resp = await client.post(url, json=body)
            latencies.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise SystemExit(f"{url}: {resp.status_code} {resp.text[:200]}")

        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
    }


def setup(tmp: Path, env: dict[str, str], base: str) -> tuple[str, str]:
    """One issuer, one licence: its QR payload and the department's public key."""
    org = json.loads(
        subprocess.run(
            [str(BIN / "registry"), "admin", "create-org", "--code", new_uscc(), "--name", "深圳市公安局交通警察支队",
             "--role", "issuer", "--license-types", LICENCE_TYPE, "--json"],
            cwd=tmp, env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": org["client_id"], "client_secret": org["client_secret"]},
    ).json()["access_token"]
    lt = default_catalog().get(LICENCE_TYPE)
    h = lt.example_holder
    issued = httpx.post(
        f"{base}/api/v1/licenses",
        json={"type": LICENCE_TYPE, "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
              "fields": lt.example_fields()},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert issued.status_code == 201, issued.text
    did = httpx.get(f"{base}/departments/{org['code']}/did.json").json()
    return str(issued.json()["qr_payload"]), str(did["verificationMethod"][0]["publicKeyMultibase"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per round and target")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s for the latency run")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        if args.database_url:
            env["REGISTRY_DATABASE_URL"] = args.database_url
        reg_port, ceil_port = free_port(), free_port()
        base = f"http://127.0.0.1:{reg_port}"
        env.update(REGISTRY_BASE_URL=base, REGISTRY_VERIFY_RATE_PER_MINUTE="100000000")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            registry = subprocess.Popen(
                [str(BIN / "registry"), "serve", "--port", str(reg_port), "--workers", "1"],
                cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            procs.append(registry)
            wait_up(f"{base}/healthz", registry, "registry serve")
            payload, public_key = setup(tmp, env, base)
            ceiling = subprocess.Popen(
                [str(BIN / "python"), "-m", "uvicorn", "bench.ceiling_app:app", "--port", str(ceil_port),
                 "--workers", "1", "--log-level", "info", "--proxy-headers"],
                cwd=ROOT, env={**env, "BENCH_PUBLIC_KEY": public_key},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            procs.append(ceiling)
            ceil_base = f"http://127.0.0.1:{ceil_port}"
            wait_up(f"{ceil_base}/", ceiling, "ceiling app")
            targets = {"ceiling": f"{ceil_base}/api/v1/verifications", "registry": f"{base}/api/v1/verifications"}
            body = {"payload": payload}
            for name, url in targets.items():  # both answer, and as expected
                answer = httpx.post(url, json=body).json()
                assert answer["verdict"] == "valid", (name, answer)
                wrk(url, json.dumps(body), 2, args.connections, tmp)  # warm up

            runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, url in targets.items():
                    runs[name].append(wrk(url, json.dumps(body), args.seconds, args.connections, tmp))
            latency = {name: asyncio.run(fixed_rate(url, body, args.rate, 5.0)) for name, url in targets.items()}
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=20)

    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    engine = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    print(
        f"verify-by-scan benchmark ({engine}, 1 worker each, wrk -t1 -c{args.connections}, "
        f"{args.rounds}×{args.seconds}s, payload {len(payload)} chars)"
    )
    print(f"  {'':10s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}   at {args.rate:.0f} req/s: {'p50':>6s} {'p99':>6s}")
    for name in targets:
        m, lat = med[name], latency[name]
        print(
            f"  {name:10s} {m['rps']:9.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f}   "
            f"{'':>13s}{lat['p50_ms']:6.2f} {lat['p99_ms']:6.2f}"
        )
    print(f"  ratio registry / ceiling: {med['registry']['rps'] / med['ceiling']['rps']:.2f}  (target ≥ 0.75)")
    rounds = "; ".join(f"{n}: " + ", ".join(f"{r['rps']:.0f}" for r in rs) for n, rs in runs.items())
    print(f"  rounds (req/s): {rounds}")


if __name__ == "__main__":
    main()
