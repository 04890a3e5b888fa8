"""`registry issue-batch`: the real console script in a subprocess, on the engine under test."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from registry.settings import Settings
from tests.factories import corrupt_check, new_resident_id, new_uscc
from tests.integration.test_batch import SSC, SSC_HEADER, csv_bytes, ssc_row, ssc_rows
from tests.integration.test_cli import _db_env, _env, cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def summary(out: subprocess.CompletedProcess[str]) -> dict[str, float]:
    """The last stdout line: exactly one JSON object with the four counts."""
    last = out.stdout.rstrip("\n").split("\n")[-1]
    parsed: dict[str, float] = json.loads(last)
    assert list(parsed) == ["issued", "skipped", "failed", "seconds"]
    return parsed


def test_issue_batch(tmp_path: Path, settings: Settings) -> None:
    env = _env(**_db_env(settings))
    code = new_uscc()
    made = cli(
        tmp_path,
        env,
        *("admin", "create-org", "--code", code, "--name", "深圳市人力资源和社会保障局", "--role", "issuer"),
        *("--license-types", SSC, "--json"),
    )
    assert made.returncode == 0, made.stderr

    rows = ssc_rows(25)
    bad = ssc_row(corrupt_check(new_resident_id()))
    data = tmp_path / "社保卡.csv"
    data.write_bytes(csv_bytes([*rows[:10], bad, *rows[10:]], encoding="gb18030"))
    run = ("issue-batch", "--org", code, "--type", SSC, str(data), "--json")

    first = cli(tmp_path, env, *run)
    assert first.returncode == 1, first.stderr  # one row failed
    counts = summary(first)
    assert (counts["issued"], counts["skipped"], counts["failed"]) == (25, 0, 1)
    assert counts["seconds"] >= 0
    assert len(first.stdout.strip().split("\n")) == 1  # nothing else on stdout: progress and notes go to stderr
    report = tmp_path / "社保卡.errors.csv"
    assert str(report) in first.stderr and "25/26" not in first.stdout
    with report.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert [(r["line"], r["holder_id_number"], r["code"]) for r in lines] == [("12", bad[1], "invalid_holder_id")]

    again = cli(tmp_path, env, *run)
    assert again.returncode == 1
    counts = summary(again)
    assert (counts["issued"], counts["skipped"], counts["failed"]) == (0, 25, 1)

    # A clean file: exit 0, and no report is written.
    clean = tmp_path / "clean.csv"
    clean.write_bytes(csv_bytes(ssc_rows(3)))
    custom = tmp_path / "reports" / "clean-errors.csv"
    custom.parent.mkdir()
    ok = cli(tmp_path, env, "issue-batch", "--org", code, "--type", SSC, str(clean), "--json", "--errors", str(custom))
    assert ok.returncode == 0, ok.stderr
    assert summary(ok)["issued"] == 3
    assert not custom.exists() and not (tmp_path / "clean.errors.csv").exists()
    # Without --json: a summary in words.
    words = cli(tmp_path, env, "issue-batch", "--org", code, "--type", SSC, str(clean))
    assert words.returncode == 0 and "skipped 3" in words.stdout

    # Usage errors: exit 2, a clear message on stderr, nothing issued.
    bad_header = tmp_path / "bad-header.csv"
    bad_header.write_bytes(csv_bytes(ssc_rows(1), [*SSC_HEADER, "colour"]))
    workbook = tmp_path / "book.xlsx"
    workbook.write_bytes(b"PK\x03\x04" + bytes(64))
    cases = [
        (("--org", new_uscc(), "--type", SSC, str(clean)), "organisation_not_found"),
        (("--org", code, "--type", "pet_licence", str(clean)), "unknown_license_type"),
        (("--org", code, "--type", "business_license", str(clean)), "license_type_not_allowed"),
        (("--org", code, "--type", SSC, str(bad_header)), "colour"),
        (("--org", code, "--type", SSC, str(workbook)), "batch_file_unreadable"),
        (("--org", code, "--type", SSC, str(tmp_path / "missing.csv")), "does not exist"),
        (("--type", SSC, str(clean)), "--org"),
        (("--org", code, "--type", SSC, str(clean), "--errors", str(tmp_path / "no" / "such.csv")), "cannot write"),
    ]
    for args, needle in cases:
        out = cli(tmp_path, env, "issue-batch", *args, "--json")
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert needle in out.stderr, (args, out.stderr)
        assert out.stdout == ""
