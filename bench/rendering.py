"""Rendering: first and cached render times of a licence's PDF and QR image, through the HTTP API, and how a
first render shares the worker with scans.

    .venv/bin/python bench/rendering.py [--licences 20] [--database-url URL]

Starts `registry serve --workers 1` on a fresh database, issues licences, then for each one measures the
first GET of its PDF, PNG and SVG QR (rendered: the PDF in the process pool, the QR in a thread) and a second
GET (from the database cache). Then, in the same run, the verify rate alone and while PDFs are being
rendered: the PDF pool keeps reportlab's pure-Python work off the event loop's interpreter, so scans go on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

from bench.issuance import free_port  # noqa: E402
from bench.verify import wait_up  # noqa: E402
from registry.licence_types import default_catalog  # noqa: E402
from tests.factories import new_resident_id, new_uscc  # noqa: E402

BIN = Path(sys.executable).parent
KINDS = ("pdf", "qr.png", "qr.svg")


async def scans_during(client: httpx.AsyncClient, payload: str, seconds: float, busy: list[str] | None) -> float:
    """Scans per second over ``seconds`` (8 at a time), while ``busy`` PDFs are fetched for the first time."""
    done = 0
    stop = time.perf_counter() + seconds

    async def scanner() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            resp = await client.post("/api/v1/verifications", json={"payload": payload})
            assert resp.status_code == 200, resp.text
            done += 1

    async def printer(urls: list[str], headers: dict[str, str]) -> None:
        for url in urls:
            if time.perf_counter() >= stop:
                return
            assert (await client.get(url, headers=headers)).status_code == 200

    tasks = [scanner() for _ in range(8)]
    if busy:
        tasks.append(printer(busy, client.headers))  # type: ignore[arg-type]
    start = time.perf_counter()
    await asyncio.gather(*tasks)
    return done / (time.perf_counter() - start)


async def bench(base: str, org: dict[str, str], n: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        token = (
            await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "client_credentials", "client_id": org["client_id"],
                      "client_secret": org["client_secret"]},
            )
        ).json()["access_token"]  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}
        lt = default_catalog().get("driving_license")
        ex = lt.example_holder
        identifiers, payload = [], ""
        for _ in range(2 * n + 20):
            rid = new_resident_id(male=True)  # the example's 性别 is 男
            example = lt.example_fields().items()
            fields = {k: rid if v == ex.id_number else "王伟" if v == ex.name else v for k, v in example}
            holder = {"id_type": "resident_id", "id_number": rid, "name": "王伟"}
            body = {"type": lt.type, "holder": holder, "fields": fields}
            headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
            resp = await client.post("/api/v1/licenses", json=body, headers=headers)
            assert resp.status_code == 201, resp.text
            identifiers.append(resp.json()["identifier"])
            payload = resp.json()["qr_payload"]
        times: dict[str, list[float]] = {f"{k} {w}": [] for k in KINDS for w in ("first", "cached")}
        for ident in identifiers[:n]:
            for kind in KINDS:
                for when in ("first", "cached"):
                    t0 = time.perf_counter()
                    resp = await client.get(f"/api/v1/licenses/{ident}/{kind}", headers=auth)
                    times[f"{kind} {when}"].append(time.perf_counter() - t0)
                    assert resp.status_code == 200, resp.text
        client.headers.update(auth)
        alone = await scans_during(client, payload, 5.0, None)
        unprinted = [f"/api/v1/licenses/{i}/pdf" for i in identifiers[n:]]
        printing = await scans_during(client, payload, 5.0, unprinted)
    out = {f"{k} ms (median)": statistics.median(v) * 1000 for k, v in times.items()}
    out["scans/s alone"] = alone
    out["scans/s while printing"] = printing
    out["ratio printing / alone"] = printing / alone
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--licences", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        if args.database_url:
            env["REGISTRY_DATABASE_URL"] = args.database_url
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env.update(REGISTRY_BASE_URL=base, REGISTRY_VERIFY_RATE_PER_MINUTE="100000000")
        org = json.loads(
            subprocess.run(
                [str(BIN / "registry"), "admin", "create-org", "--code", new_uscc(), "--name",
                 "深圳市公安局交通警察支队", "--role", "issuer", "--license-types", "driving_license", "--json"],
                cwd=tmp, env=env, capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        server = subprocess.Popen(
            [str(BIN / "registry"), "serve", "--port", str(port), "--workers", "1"],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_up(f"{base}/healthz", server, "registry serve")
            result = asyncio.run(bench(base, org, args.licences))
        finally:
            server.terminate()
            server.wait(timeout=30)
    engine = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    print(f"rendering benchmark ({engine}, 1 worker, {args.licences} licences, driving licence)")
    for key, value in result.items():
        print(f"  {key:28s} {value:10.2f}")


if __name__ == "__main__":
    main()
