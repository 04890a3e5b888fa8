"""Issuance throughput through the HTTP API, one uvicorn worker.

    .venv/bin/python bench/issuance.py [--requests 400] [--concurrency 8] [--database-url URL]

Starts `registry serve --workers 1` on a fresh SQLite database in a temporary folder (or on the database
named), registers a department, then measures in the same run:
  baseline  GET /api/v1/license-types/{type}  — the same server, auth-free, no database write
  issue     POST /api/v1/licenses             — validate, number, sign, store
and prints requests/s for both and their ratio, so the figure survives a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.factories import new_resident_id, new_uscc  # noqa: E402

REGISTRY = str(Path(sys.executable).parent / "registry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(client: httpx.AsyncClient, n: int, concurrency: int, make_request) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            t0 = time.perf_counter()
            resp = await make_request(client, i)
            latencies.append(time.perf_counter() - t0)
            if resp.status_code >= 300:
                raise SystemExit(f"request failed: {resp.status_code} {resp.text[:300]}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def bench(base: str, client_id: str, secret: str, n: int, concurrency: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        token = (
            await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            )
        ).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        lt = (await client.get("/api/v1/license-types/social_security_card")).json()
        fields = {f["name"]: f["example"] for f in lt["fields"]}

        async def baseline(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get("/api/v1/license-types/social_security_card")

        async def issue(c: httpx.AsyncClient, i: int) -> httpx.Response:
            rid = new_resident_id()
            body = {
                "type": "social_security_card",
                "holder": {"id_type": "resident_id", "id_number": rid, "name": "王芳"},
                "fields": fields
                | {k: rid for k, v in fields.items() if isinstance(v, str) and len(v) == 18 and v[:17].isdigit()}
                | {"name": "王芳"},
            }
            return await c.post("/api/v1/licenses", json=body, headers={**auth, "Idempotency-Key": str(uuid.uuid4())})

        await drive(client, 20, concurrency, baseline)  # warm up both paths
        await drive(client, 20, concurrency, issue)
        base_s, base_lat = await drive(client, n, concurrency, baseline)
        issue_s, issue_lat = await drive(client, n, concurrency, issue)
    return {
        "requests": n,
        "concurrency": concurrency,
        "baseline_rps": n / base_s,
        "issue_rps": n / issue_s,
        "ratio_issue_to_baseline": (n / issue_s) / (n / base_s),
        "issue_p50_ms": statistics.median(issue_lat) * 1000,
        "issue_p95_ms": pct(issue_lat, 0.95),
        "baseline_p50_ms": statistics.median(base_lat) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        if args.database_url:
            env["REGISTRY_DATABASE_URL"] = args.database_url
        port = free_port()
        env["REGISTRY_BASE_URL"] = f"http://127.0.0.1:{port}"
        org = json.loads(
            subprocess.run(
                [
                    REGISTRY,
                    "admin",
                    "create-org",
                    "--code",
                    new_uscc(),
                    "--name",
                    "深圳市人力资源和社会保障局",
                    "--role",
                    "issuer",
                    "--license-types",
                    "social_security_card",
                    "--json",
                ],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        server = subprocess.Popen(
            [REGISTRY, "serve", "--port", str(port), "--workers", "1"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            result = asyncio.run(
                bench(
                    f"http://127.0.0.1:{port}",
                    org["client_id"],
                    org["client_secret"],
                    args.requests,
                    args.concurrency,
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=20)
    engine = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    print(f"issuance benchmark ({engine}, 1 worker, {args.requests} requests, concurrency {args.concurrency})")
    for key, value in result.items():
        print(f"  {key:26s} {value:10.2f}" if isinstance(value, float) else f"  {key:26s} {value:10d}")


if __name__ == "__main__":
    main()
