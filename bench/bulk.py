"""Bulk issuance: `registry issue-batch` on a generated CSV, against the issue's reference pipeline.

    .venv/bin/python bench/bulk.py [--rows 1000000] [--workers N] [--keep DIR]

Generates a CSV of social security cards (unique, check-valid resident IDs), registers a department on a
fresh SQLite database in a temporary folder (or DIR, kept afterwards), and measures in the same run:

  reference   the pipeline issue #7 measures itself by, in this process on one core: build a credential,
              JCS (the pure-Python rfc8785 package) of it and of the proof options, sign (PyNaCl), batched
              SQLite insert -- issue #7 measured ~3,800/s for it and asks 3,000/s of issue-batch
  registry    `registry issue-batch` on the whole file: wall time including reading and checking the file,
              rows/s, and the peak resident memory of the command and its worker processes together

then runs the same file again (everything is skipped: nothing issued twice) and prints the figures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nacl.signing  # noqa: E402
import rfc8785  # noqa: E402

from registry.licence_types import default_catalog  # noqa: E402
from tests.factories import new_uscc  # noqa: E402
from verification.identifiers import resident_id_check  # noqa: E402

BIN = Path(sys.executable).parent
LICENCE_TYPE = "social_security_card"
REGIONS = ("440304", "440305", "440306", "440307", "110101", "310115", "510104", "330106")


def resident_ids(count: int) -> Iterator[str]:
    """``count`` distinct resident IDs with valid check characters, in a fixed order."""
    born0 = date(1950, 1, 1)
    n = 0
    for region in REGIONS:
        for day in range(25_000):
            born = born0 + timedelta(days=day)
            for seq in range(0, 1000, 7):
                if n == count:
                    return
                body = f"{region}{born:%Y%m%d}{seq:03d}"
                yield body + resident_id_check(body)
                n += 1
    raise ValueError(f"cannot make {count} distinct IDs")


def write_csv(path: Path, count: int, start: int = 0) -> None:
    """Rows ``start``..``count`` of one fixed sequence (so files made from different ranges never overlap)."""
    lt = default_catalog().get(LICENCE_TYPE)
    fields = lt.example_fields()
    names = [f.name for f in lt.fields]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["holder_id_type", "holder_id_number", "holder_name", *names])
        for i, rid in enumerate(itertools.islice(resident_ids(count), start, None), start=start):
            row = fields | {"name": "王芳", "social_security_number": rid, "card_number": f"D{i:08d}"}
            writer.writerow(["resident_id", rid, "王芳", *(row[n] for n in names)])


def reference(rows: int = 20_000) -> float:
    """Rows/s of the pipeline issue #7 measures itself by, in this process on one core: build the credential (the
    registry's shape, with its two status entries), canonicalize the proof options and the document with the
    pure-Python rfc8785 package and sign their hashes (eddsa-jcs-2022), insert in batches of 500 into SQLite."""
    key = nacl.signing.SigningKey.generate()
    lt = default_catalog().get(LICENCE_TYPE)
    fields = lt.example_fields()
    base = "https://registry.example"
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE licence (id TEXT PRIMARY KEY, holder TEXT, credential TEXT, proof TEXT)")
    ids = resident_ids(rows)
    start = time.perf_counter()
    batch: list[tuple[str, str, str, str]] = []
    for i in range(rows):
        rid = next(ids)
        credential = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": f"{base}/licenses/{i}",
            "type": ["VerifiableCredential", "ElectronicLicense"],
            "issuer": {"id": "did:web:registry.example:departments:X", "name": "深圳市人力资源和社会保障局"},
            "validFrom": "2026-11-23T00:00:00Z",
            "validUntil": "2036-11-23T00:00:00Z",
            "credentialSubject": {
                "holder": {"idType": "resident_id", "idNumber": rid, "name": "王芳"},
                "licenseType": LICENCE_TYPE,
                "fields": fields | {"social_security_number": rid},
            },
            "credentialStatus": [
                {"type": "BitstringStatusListEntry", "statusPurpose": purpose, "statusListIndex": str(i),
                 "statusListCredential": f"{base}/status-lists/X-{purpose}-1"}
                for purpose in ("revocation", "suspension")
            ],
        }  # fmt: skip
        proof = {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": "2026-11-23T00:00:00Z",
            "verificationMethod": "did:web:registry.example:departments:X#key-1",
            "proofPurpose": "assertionMethod",
            "@context": credential["@context"],
        }
        document = rfc8785.dumps(credential)  # type: ignore[arg-type]
        signature = key.sign(hashlib.sha256(rfc8785.dumps(proof)).digest() + hashlib.sha256(document).digest())
        batch.append((str(i), rid, document.decode(), signature.signature.hex()))
        if len(batch) == 500:
            db.executemany("INSERT INTO licence VALUES (?, ?, ?, ?)", batch)
            db.commit()
            batch.clear()
    db.executemany("INSERT INTO licence VALUES (?, ?, ?, ?)", batch)
    db.commit()
    return rows / (time.perf_counter() - start)


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (from /proc)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{current}/task/{current}/children") as children:
                pending.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run_batch(tmp: Path, env: dict[str, str], org: str, csv_path: Path, workers: int | None) -> tuple[dict, float, int]:  # type: ignore[type-arg]
    cmd = [str(BIN / "registry"), "issue-batch", "--org", org, "--type", LICENCE_TYPE, str(csv_path), "--json"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1) or not out.strip():
        raise SystemExit(f"issue-batch failed ({proc.returncode}): {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1]), seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="issue-batch --workers [default: its own]")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep its database and CSV")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env["REGISTRY_DATA_DIR"] = str(tmp / "var")
        csv_path = tmp / f"ssc-{args.rows}.csv"
        started = time.perf_counter()
        if not csv_path.exists():
            write_csv(csv_path, args.rows)
        made = time.perf_counter() - started
        org = new_uscc()
        subprocess.run(
            [str(BIN / "registry"), "admin", "create-org", "--code", org, "--name", "深圳市人力资源和社会保障局",
             "--role", "issuer", "--license-types", LICENCE_TYPE, "--json"],
            cwd=tmp, env=env, capture_output=True, check=True,
        )  # fmt: skip
        ref_before = reference()
        first, seconds, peak = run_batch(tmp, env, org, csv_path, args.workers)
        ref_after = reference()
        again, again_seconds, _ = run_batch(tmp, env, org, csv_path, args.workers)

    ref = (ref_before + ref_after) / 2
    rate = args.rows / seconds
    print(
        f"bulk issuance benchmark (SQLite, {args.rows} rows, {os.cpu_count()} cores, "
        f"{datetime.now(UTC):%Y-%m-%d}; CSV written in {made:.0f} s)"
    )
    print(f"  reference pipeline (1 core)   {ref:8.0f} rows/s   (before {ref_before:.0f}, after {ref_after:.0f})")
    print(
        f"  registry issue-batch          {rate:8.0f} rows/s   {seconds:6.1f} s for the whole command, "
        f"issued {first['issued']}, skipped {first['skipped']}, failed {first['failed']}"
    )
    print(f"  ratio issue-batch / reference {rate / ref:8.2f}   (the issue: 3,000/s against its ~3,800/s, 0.79)")
    print(f"  peak RSS, command + workers   {peak / 1024:8.0f} MiB   (target ≤ 300)")
    print(
        f"  run again                     {again_seconds:8.1f} s   issued {again['issued']}, "
        f"skipped {again['skipped']} (nothing issued twice)"
    )


if __name__ == "__main__":
    main()
