"""Issuance throughput through the HTTP API, one uvicorn worker.

    .venv/bin/python bench/issuance.py [--seconds 8] [--rounds 3] [--connections 32] [--database-url URL]

Starts `registry serve --workers 1` on a fresh SQLite database in a temporary folder (or on the database
named), registers a department, then, in alternating rounds so that machine noise falls on both alike, drives
with wrk (a C load generator: a Python client would be the bottleneck; Debian: apt-get install wrk):
  baseline  GET /api/v1/license-types/{type}  — the same server, auth-free, no database write
  issue     POST /api/v1/licenses             — validate, number, sign, store (a fresh Idempotency-Key each)
and prints requests/s for both (medians), their ratio, and wrk's p50/p99. Rendering is not on this path
(PDFs and QR images are drawn on first request).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.licence_types import default_catalog  # noqa: E402
from tests.factories import new_resident_id, new_uscc  # noqa: E402

REGISTRY = str(Path(sys.executable).parent / "registry")
LICENCE_TYPE = "social_security_card"

# One thread's Lua state: bodies from a file, cycled; a new Idempotency-Key for every request.
ISSUE_LUA = """
local bodies, n, prefix, token = {}, 0, "", ""
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  prefix, token = args[2], args[3]
end
function request()
  n = n + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token,
                   ["Idempotency-Key"] = prefix .. n}
  return wrk.format("POST", "/api/v1/licenses", headers, bodies[n % #bodies + 1])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_wrk(url: str, seconds: int, connections: int, script: Path | None, args: list[str]) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url, *args], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m is not None, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99")}


def bodies_file(path: Path, count: int) -> None:
    lt = default_catalog().get(LICENCE_TYPE)
    fields = lt.example_fields()
    with path.open("w", encoding="utf-8") as out:
        for _ in range(count):
            rid = new_resident_id()
            body = {
                "type": LICENCE_TYPE,
                "holder": {"id_type": "resident_id", "id_number": rid, "name": "王芳"},
                "fields": fields | {"social_security_number": rid, "name": "王芳"},
            }
            out.write(json.dumps(body, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        if args.database_url:
            env["REGISTRY_DATABASE_URL"] = args.database_url
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env["REGISTRY_BASE_URL"] = base
        org = json.loads(
            subprocess.run(
                [REGISTRY, "admin", "create-org", "--code", new_uscc(), "--name", "深圳市人力资源和社会保障局",
                 "--role", "issuer", "--license-types", LICENCE_TYPE, "--json"],
                cwd=tmp, env=env, capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        bodies = tmp / "bodies.jsonl"
        bodies_file(bodies, 500)
        script = tmp / "issue.lua"
        script.write_text(ISSUE_LUA)
        server = subprocess.Popen(
            [REGISTRY, "serve", "--port", str(port), "--workers", "1"],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(300):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"grant_type": "client_credentials", "client_id": org["client_id"],
                      "client_secret": org["client_secret"]},
            ).json()["access_token"]  # fmt: skip
            baseline_url = f"{base}/api/v1/license-types/{LICENCE_TYPE}"
            run_wrk(baseline_url, 2, args.connections, None, [])  # warm up both
            run_wrk(base, 2, args.connections, script, [str(bodies), "warm-", token])
            runs: dict[str, list[dict[str, float]]] = {"baseline": [], "issue": []}
            for r in range(args.rounds):
                runs["baseline"].append(run_wrk(baseline_url, args.seconds, args.connections, None, []))
                lua_args = [str(bodies), f"r{r}-", token]
                runs["issue"].append(run_wrk(base, args.seconds, args.connections, script, lua_args))
            issued = httpx.get(f"{base}/api/v1/licenses?limit=1", headers={"Authorization": f"Bearer {token}"})
            assert issued.status_code == 200, issued.text
        finally:
            server.terminate()
            server.wait(timeout=20)

    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    engine = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    print(
        f"issuance benchmark ({engine}, 1 worker, wrk -t1 -c{args.connections}, {args.rounds}×{args.seconds}s, "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)"
    )
    print(f"  {'':10s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for name, m in med.items():
        print(f"  {name:10s} {m['rps']:9.0f} {m['p50_ms']:8.1f} {m['p99_ms']:8.1f}")
    print(f"  ratio issue / baseline: {med['issue']['rps'] / med['baseline']['rps']:.2f}  (target: 500 issued/s)")
    rounds = "; ".join(f"{n}: " + ", ".join(f"{r['rps']:.0f}" for r in rs) for n, rs in runs.items())
    print(f"  rounds (req/s): {rounds}")


if __name__ == "__main__":
    main()
