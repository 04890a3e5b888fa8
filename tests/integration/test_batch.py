"""Bulk issuance (批量签发): the service that reads a CSV and issues its rows in chunks, and the
``/api/v1/batches`` jobs built on it. Real database, real signatures; each issued licence verifies."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from registry import errors
from registry.app import create_app
from registry.auth.tokens import read_token
from registry.context import Registry
from registry.licenses import batch, bulk
from registry.licenses import rows as rows_
from registry.licenses.batch import issue_batch
from registry.licenses.bulk import Pooled
from registry.licenses.credentials import vc_time
from registry.licenses.rows import CsvSource
from registry.log import entries as log_entries
from registry.log.service import verify_log
from registry.models import IdempotencyRecord, IssueBatch, License, LicenseEvent, LogEntry, Organisation
from registry.orgs.service import rotate_key
from signing.errors import SigningError
from tests.conftest import BASE_URL, Org
from tests.factories import corrupt_check, new_resident_id
from tests.integration.test_bad_input import assert_problem, licences_of
from verification.merkle import leaf_hash

pytestmark = pytest.mark.integration

SSC = "social_security_card"
SSC_HEADER = [
    "holder_id_type",
    "holder_id_number",
    "holder_name",
    "name",
    "social_security_number",
    "card_number",
    "issue_date",
    "issuing_place",
    "service_bank",
]


def ssc_row(id_number: str | None = None, name: str = "张伟", card: str = "D44035168") -> list[str]:
    rid = id_number or new_resident_id()
    return ["resident_id", rid, name, name, rid, card, "2021-06-18", "广东省深圳市", "中国工商银行"]


def ssc_rows(n: int, name: str = "张伟") -> list[list[str]]:
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(new_resident_id())
    return [ssc_row(rid, name) for rid in sorted(ids)]


def csv_bytes(rows: list[list[str]], header: list[str] | None = None, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header or SSC_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def source(registry: Registry, data: bytes, license_type: str = SSC, name: str = "licences.csv") -> CsvSource:
    return CsvSource.from_bytes(data, name, registry.catalog.get(license_type))


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


async def licences(registry: Registry, org: Org) -> list[License]:
    async with registry.db.read() as session:
        rows = await session.exec(select(License).where(License.issuer_code == org.code))
        return list(rows.all())


@pytest.fixture(scope="module")
async def verifier(registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    """A client from its own address: verifying every licence must not spend the suite's rate limit."""
    app = create_app(registry=registry)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.77", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


async def assert_all_verify(verifier: httpx.AsyncClient, found: list[License]) -> None:
    for licence in found:
        resp = await verifier.post("/api/v1/verifications", json={"payload": licence.qr_payload})
        assert resp.status_code == 200, resp.text
        assert resp.json()["verdict"] == "valid", (licence.identifier, resp.json()["checks"])


# --- the service ---------------------------------------------------------------------------------------


async def test_good_file_issues_every_row_in_chunks_and_each_verifies(
    registry: Registry, issuer: Org, verifier: httpx.AsyncClient, tmp_path: Path
) -> None:
    rows = ssc_rows(12)
    seen: list[tuple[int, int | None, int, int, int]] = []
    result = await issue_batch(
        registry,
        issuer.code,
        source(registry, csv_bytes(rows)),
        errors_to=tmp_path / "errors.csv",
        actor="tester",
        progress=lambda *p: seen.append(p),
        chunk_size=5,
    )
    assert (result.processed, result.total, result.issued, result.skipped, result.failed) == (12, 12, 12, 0, 0)
    assert result.error_report is None and not (tmp_path / "errors.csv").exists()
    assert seen == [(5, 12, 5, 0, 0), (10, 12, 10, 0, 0), (12, 12, 12, 0, 0)]
    found = await licences(registry, issuer)
    assert sorted(lic.holder_id_number for lic in found) == sorted(r[1] for r in rows)
    assert {lic.license_type for lic in found} == {SSC}
    await assert_all_verify(verifier, found)
    # The history names the actor and the batch.
    async with registry.db.read() as session:
        events = (
            await session.exec(
                select(LicenseEvent).where(col(LicenseEvent.identifier).in_([f.identifier for f in found]))
            )
        ).all()
    assert {(e.action, e.actor) for e in events} == {("issue", "tester")}
    assert all("licences.csv" in e.reason for e in events)


async def test_every_licence_type_from_its_example_row(
    registry: Registry, issuer: Org, verifier: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Integer fields, a field sharing a holder column's name (结婚证's holder_name), uscc holders, long
    licences with a compact QR: each template's example row issues from CSV."""
    for lt in registry.catalog.all():
        header = list(
            dict.fromkeys(["holder_id_type", "holder_id_number", "holder_name", *(f.name for f in lt.fields)])
        )
        h = lt.example_holder
        values: dict[str, Any] = {"holder_id_type": h.id_type, "holder_id_number": h.id_number, "holder_name": h.name}
        values.update({k: str(v) for k, v in lt.example_fields().items() if k not in values})
        data = csv_bytes([[values[c] for c in header]], header)
        result = await issue_batch(
            registry, issuer.code, source(registry, data, lt.type), errors_to=tmp_path / f"{lt.type}.csv"
        )
        assert (result.issued, result.failed) == (1, 0), (lt.type, (tmp_path / f"{lt.type}.csv").read_text())
    found = await licences(registry, issuer)
    assert sorted(lic.license_type for lic in found) == sorted(registry.catalog.types())
    await assert_all_verify(verifier, found)


async def test_bad_rows_go_to_the_report_and_good_rows_are_still_issued(
    registry: Registry, issuer: Org, tmp_path: Path
) -> None:
    header = [*SSC_HEADER, "valid_from", "valid_until"]
    good = ssc_rows(4)
    bad_id = corrupt_check(new_resident_id())
    text = csv_bytes(
        [
            [*good[0], "2026-01-01", ""],  # line 2
            [*ssc_row(bad_id), "", ""],  # line 3: wrong check character
            [*ssc_row(card="d-1"), "", ""],  # line 4: card number pattern
            [*good[1], "", "2036-01-01"],  # line 5
            [*ssc_row(), "2026-05-01", "2026-04-01"],  # line 6: ends before it starts
            ssc_row(),  # line 7: two cells short
        ],
        header,
    ).decode()
    multi_line = ssc_row()
    multi_line[7] = "广东省\n深圳市"  # quoted over two lines, and a control character in a one-line field
    extra = io.StringIO()
    writer = csv.writer(extra, lineterminator="\r\n")
    writer.writerow([*multi_line, "", ""])  # lines 8–9
    writer.writerow([*good[2], "", ""])  # line 10
    extra.write("\r\n")  # line 11: blank, ignored
    writer.writerow([*ssc_row("4.40304E+17"), "", ""])  # line 12: what Excel does to an ID number
    writer.writerow([*good[3], "", ""])  # line 13
    data = (text + extra.getvalue()).encode()

    report_path = tmp_path / "report.csv"
    result = await issue_batch(registry, issuer.code, source(registry, data), errors_to=report_path, chunk_size=3)
    assert (result.processed, result.issued, result.skipped, result.failed) == (10, 4, 0, 6)
    assert result.error_report == report_path
    assert report_path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese
    report = read_report(report_path)
    assert list(report[0]) == ["line", "holder_id_number", "code", "message"]
    assert [(r["line"], r["code"]) for r in report] == [
        ("3", "invalid_holder_id"),
        ("4", "invalid_fields"),
        ("6", "validation_failed"),
        ("7", "validation_failed"),
        ("8", "invalid_fields"),
        ("12", "invalid_holder_id"),
    ]
    by_line = {r["line"]: r for r in report}
    assert by_line["3"]["holder_id_number"] == bad_id and "check character" in by_line["3"]["message"]
    assert "card_number" in by_line["4"]["message"]
    assert "valid_until" in by_line["6"]["message"]
    assert "cells" in by_line["7"]["message"]
    assert "issuing_place" in by_line["8"]["message"]
    assert "scientific notation" in by_line["12"]["message"]
    found = await licences(registry, issuer)
    assert sorted(lic.holder_id_number for lic in found) == sorted(r[1] for r in good)
    by_holder = {lic.holder_id_number: lic for lic in found}
    assert by_holder[good[0][1]].valid_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert by_holder[good[1][1]].valid_until == datetime(2036, 1, 1, tzinfo=UTC)


async def test_running_the_same_file_again_issues_nothing(
    registry: Registry, issuer: Org, make_org: Any, tmp_path: Path
) -> None:
    rows = ssc_rows(7)
    data = csv_bytes([*rows, rows[2]])  # the last row repeats the third: skipped the first time already
    first = await issue_batch(registry, issuer.code, source(registry, data), errors_to=tmp_path / "1.csv", chunk_size=3)
    assert (first.issued, first.skipped, first.failed) == (7, 1, 0)
    again = await issue_batch(registry, issuer.code, source(registry, data), errors_to=tmp_path / "2.csv", chunk_size=3)
    assert (again.processed, again.issued, again.skipped, again.failed) == (8, 0, 8, 0)
    assert await licences_of(registry, issuer) == 7
    # The same rows spelled differently (spaces around the values, another encoding) are the same rows.
    respelled = [[f" {cell} " for cell in row] for row in rows]
    gb = csv_bytes(respelled, encoding="gb18030")
    third = await issue_batch(registry, issuer.code, source(registry, gb), errors_to=tmp_path / "3.csv")
    assert (third.issued, third.skipped) == (0, 7)
    assert await licences_of(registry, issuer) == 7
    # Keys belong to the department: another department issues the same file in full.
    other = await make_org("issuer", types=[SSC])
    fourth = await issue_batch(registry, other.code, source(registry, data), errors_to=tmp_path / "4.csv")
    assert (fourth.issued, fourth.skipped) == (7, 1)


async def test_crash_then_resume_issues_only_what_is_missing(registry: Registry, issuer: Org, tmp_path: Path) -> None:
    rows = ssc_rows(11)
    data = csv_bytes(rows)

    class Crash(Exception):
        pass

    def crash(processed: int, total: int | None, issued: int, skipped: int, failed: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        await issue_batch(
            registry, issuer.code, source(registry, data), errors_to=tmp_path / "e.csv", progress=crash, chunk_size=4
        )
    assert await licences_of(registry, issuer) == 4  # the first chunk was committed before the crash

    resumed = await issue_batch(
        registry, issuer.code, source(registry, data), errors_to=tmp_path / "e.csv", chunk_size=4
    )
    assert (resumed.issued, resumed.skipped, resumed.failed) == (7, 4, 0)
    found = await licences(registry, issuer)
    assert len(found) == 11
    assert sorted(lic.holder_id_number for lic in found) == sorted(r[1] for r in rows)
    # No serial, identifier or status-list slot was handed out twice. The chunk being signed when the batch
    # stopped had taken serials 5-8; they stay unused (a gap, never a reuse).
    assert sorted(int(lic.serial) for lic in found) == [1, 2, 3, 4, *range(9, 16)]
    assert len({lic.identifier for lic in found}) == 11
    assert len({(lic.revocation_list_id, lic.status_index) for lic in found}) == 11
    assert len({(lic.suspension_list_id, lic.status_index) for lic in found}) == 11
    async with registry.db.read() as session:
        keys = (await session.exec(select(IdempotencyRecord).where(IdempotencyRecord.org_code == issuer.code))).all()
    assert len(keys) == 11 and all(k.key.startswith("batch:") for k in keys)
    assert {k.identifier for k in keys} == {lic.identifier for lic in found}


async def test_a_failed_chunk_is_rolled_back_whole(registry: Registry, make_org: Any, tmp_path: Path) -> None:
    """A department that loses the right to issue mid-batch: the batch stops, the chunk then being signed writes
    nothing, and nothing is numbered twice when it runs again."""
    org = await make_org("issuer", types=[SSC])
    rows = ssc_rows(9)
    data = csv_bytes(rows)

    async def revoke_right(processed: int, total: int | None, issued: int, skipped: int, failed: int) -> None:
        async with registry.db.transaction() as session:
            row = await session.get(Organisation, org.code)
            assert row is not None
            row.license_types = "business_license" if processed == 3 else SSC
            session.add(row)

    with pytest.raises(errors.LicenseTypeNotAllowed):
        await issue_batch(
            registry,
            org.code,
            source(registry, data),
            errors_to=tmp_path / "e.csv",
            progress=revoke_right,
            chunk_size=3,
        )
    # The first chunk was stored; the second had been numbered (serials 4-6) and signed, and was refused as it
    # was about to be stored.
    assert await licences_of(registry, org) == 3
    async with registry.db.transaction() as session:
        row = await session.get(Organisation, org.code)
        assert row is not None
        row.license_types = SSC
        session.add(row)
    again = await issue_batch(registry, org.code, source(registry, data), errors_to=tmp_path / "e.csv", chunk_size=3)
    assert (again.issued, again.skipped) == (6, 3)
    found = await licences(registry, org)
    assert sorted(int(lic.serial) for lic in found) == [1, 2, 3, *range(7, 13)]


async def test_a_key_rotated_mid_batch_signs_the_rest_with_the_new_key(
    registry: Registry, issuer: Org, verifier: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The chunk signed with the old key while the key was rotated is signed again with the new one, under the
    numbers it already had: every licence names the key that was active when it was stored."""
    rows = ssc_rows(9)

    async def rotate_once(processed: int, total: int | None, issued: int, skipped: int, failed: int) -> None:
        if processed == 3:
            await rotate_key(registry, issuer.code)

    result = await issue_batch(
        registry,
        issuer.code,
        source(registry, csv_bytes(rows)),
        errors_to=tmp_path / "e.csv",
        progress=rotate_once,
        chunk_size=3,
    )
    assert (result.issued, result.failed) == (9, 0)
    found = sorted(await licences(registry, issuer), key=lambda lic: lic.serial)
    assert [int(lic.serial) for lic in found] == list(range(1, 10))
    keys = [lic.signing_key_id for lic in found]
    assert len(set(keys[:3])) == 1 and len(set(keys[3:])) == 1 and keys[0] != keys[3]
    await assert_all_verify(verifier, found)


async def test_a_process_pool_issues_what_this_process_would(
    registry: Registry, issuer: Org, verifier: httpx.AsyncClient, tmp_path: Path
) -> None:
    """``registry issue-batch``'s pool: the workers unseal the key from the master key file themselves; bad rows
    are reported from the workers; the licences verify."""
    rows = ssc_rows(40)
    bad = ssc_row(corrupt_check(new_resident_id()))
    work = Pooled(registry.settings.master_key_file, 2)
    try:
        result = await issue_batch(
            registry,
            issuer.code,
            source(registry, csv_bytes([*rows[:20], bad, *rows[20:]])),
            errors_to=tmp_path / "e.csv",
            chunk_size=7,
            work=work,
        )
    finally:
        work.close()
    assert (result.issued, result.skipped, result.failed) == (40, 0, 1)
    report = list(csv.DictReader(io.StringIO((tmp_path / "e.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["line"], r["code"]) for r in report] == [("22", "invalid_holder_id")]
    found = await licences(registry, issuer)
    assert sorted(int(lic.serial) for lic in found) == list(range(1, 41))
    await assert_all_verify(verifier, found)
    # The workers built each licence's log entry: the one the log holds is the one recomputed from the stored
    # row (its credential's hash, its issuance time, which is the second the proof was created).
    async with registry.db.read() as session:
        entries = {e.ref: e for e in (await session.exec(select(LogEntry).where(LogEntry.kind == "issued"))).all()}
    for lic in found:
        expected = log_entries.issued_licence(lic)
        assert entries[lic.identifier].content == expected.content.decode()
        assert entries[lic.identifier].leaf_hash == leaf_hash(expected.content)
        assert json.loads(lic.credential_jcs)["proof"]["created"] == vc_time(lic.issued_at)
    assert (await verify_log(registry)).problems == []


def test_a_worker_with_another_master_key_refuses_to_sign(tmp_path: Path) -> None:
    """A worker that unseals the key to something else (another master key file) signs nothing."""
    from signing.keys import MasterKey, SealedKeyProvider

    ours, theirs = tmp_path / "ours.key", tmp_path / "theirs.key"
    provider = SealedKeyProvider(MasterKey.load_or_create(ours))
    MasterKey.load_or_create(theirs)
    generated = provider.generate("X#key-1", "did:web:x#key-1")
    bulk._init_worker(str(theirs))
    context = bulk.SigningContext(
        SSC,
        "X",
        "did:web:x",
        "X",
        BASE_URL,
        datetime(2026, 11, 23, tzinfo=UTC),
        "2026-11-23T00:00:00Z",
        "X#key-1",
        "did:web:x#key-1",
        generated.sealed,
        generated.public_key,
    )
    with pytest.raises(SigningError):
        bulk._worker_sign(context, [])


async def test_concurrent_runs_of_one_file_issue_each_row_once(registry: Registry, issuer: Org, tmp_path: Path) -> None:
    """Two runs at once (two operators, or a retry while the first still runs). On PostgreSQL they really
    interleave, and a chunk that loses the race is retried row by row."""
    rows = ssc_rows(30)
    data = csv_bytes(rows)
    results = await asyncio.gather(
        *(
            issue_batch(registry, issuer.code, source(registry, data), errors_to=tmp_path / f"{i}.csv", chunk_size=4)
            for i in range(2)
        )
    )
    assert sum(r.issued for r in results) == 30
    assert sum(r.skipped for r in results) == 30
    found = await licences(registry, issuer)
    assert len(found) == 30 and len({lic.holder_id_number for lic in found}) == 30


async def test_encodings(registry: Registry, issuer: Org, tmp_path: Path) -> None:
    gb_rows = ssc_rows(3, name="欧阳娜娜")
    gb = csv_bytes(gb_rows, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        gb.decode("utf-8")
    src = source(registry, gb)
    assert (src.encoding, src.total) == ("gb18030", 3)
    result = await issue_batch(registry, issuer.code, src, errors_to=tmp_path / "gb.csv")
    assert (result.issued, result.failed) == (3, 0)

    bom_rows = ssc_rows(2, name="李娜")
    bom = b"\xef\xbb\xbf" + csv_bytes(bom_rows)
    path = tmp_path / "bom.csv"
    path.write_bytes(bom)
    src = CsvSource.from_path(path, registry.catalog.get(SSC))
    assert (src.encoding, src.total) == ("utf-8-sig", 2)
    result = await issue_batch(registry, issuer.code, src, errors_to=tmp_path / "bom-errors.csv")
    assert (result.issued, result.failed) == (2, 0)

    names = {lic.holder_id_number: lic.holder_name for lic in await licences(registry, issuer)}
    assert {names[r[1]] for r in gb_rows} == {"欧阳娜娜"}
    assert {names[r[1]] for r in bom_rows} == {"李娜"}


@pytest.mark.parametrize(
    ("header", "names"),
    [
        ([*SSC_HEADER, "colour"], ["colour"]),
        ([h for h in SSC_HEADER if h != "card_number"], ["card_number"]),
        ([h for h in SSC_HEADER if h != "holder_id_type"], ["holder_id_type"]),
        ([*SSC_HEADER, "name"], ["name"]),
        (["姓名", *SSC_HEADER[1:]], ["姓名", "holder_id_type"]),
        ([*SSC_HEADER, ""], ["column 10 has no name"]),
    ],
)
def test_bad_header_names_the_columns(registry: Registry, header: list[str], names: list[str]) -> None:
    with pytest.raises(errors.BatchBadHeader) as caught:
        source(registry, csv_bytes(ssc_rows(1), header, encoding="gb18030"))
    assert caught.value.status == 422
    for name in names:
        assert name in caught.value.detail
    assert " / " in caught.value.detail  # 中文 / English


def test_unreadable_files(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(errors.BatchFileUnreadable, match="empty"):
        source(registry, b"")
    with pytest.raises(errors.BatchBadHeader, match="no header"):
        source(registry, b"\r\n\r\n")
    with pytest.raises(errors.BatchFileUnreadable, match="Excel workbook"):
        source(registry, b"PK\x03\x04" + bytes(200))
    with pytest.raises(errors.BatchFileUnreadable, match="CSV"):
        source(registry, csv_bytes(ssc_rows(2)) + b"resident_id," + b"9" * 200_000 + b"\r\n")  # a runaway cell
    with pytest.raises(errors.BatchFileUnreadable, match="neither UTF-8 nor GB18030"):
        source(registry, ",".join(SSC_HEADER).encode() + b"\r\n\x80\x80\xff\xff\r\n")
    assert source(registry, csv_bytes([])).total == 0  # a header alone is a file with nothing to do


# --- the HTTP API --------------------------------------------------------------------------------------


async def upload(
    client: httpx.AsyncClient,
    org: Org | None,
    data: bytes,
    license_type: str | None = SSC,
    filename: str = "licences.csv",
) -> httpx.Response:
    form = {"type": license_type} if license_type is not None else {}
    return await client.post(
        "/api/v1/batches",
        data=form,
        files={"file": (filename, data, "text/csv")},
        headers=org.auth if org else {},
    )


async def wait_for(client: httpx.AsyncClient, org: Org, job_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        resp = await client.get(f"/api/v1/batches/{job_id}", headers=org.auth)
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.05)


async def test_upload_runs_to_done(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, verifier: httpx.AsyncClient
) -> None:
    rows = ssc_rows(130)  # two chunks of a job
    bad = ssc_row(corrupt_check(new_resident_id()))
    data = csv_bytes([*rows[:60], bad, *rows[60:]], encoding="gb18030")
    resp = await upload(client, issuer, data, filename="二〇二六年社保卡.csv")
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert set(job) == {
        "id",
        "type",
        "filename",
        "state",
        "total",
        "processed",
        "issued",
        "skipped",
        "failed",
        "created_at",
        "finished_at",
        "error_report",
        "detail",
    }
    assert (job["type"], job["filename"], job["state"], job["total"]) == (SSC, "二〇二六年社保卡.csv", "queued", 131)
    assert resp.headers["location"] == f"/api/v1/batches/{job['id']}"

    done = await wait_for(client, issuer, job["id"])
    assert done["state"] == "done", done
    assert (done["processed"], done["issued"], done["skipped"], done["failed"]) == (131, 130, 0, 1)
    assert done["finished_at"] and done["detail"] is None
    assert done["error_report"] == f"{BASE_URL}/api/v1/batches/{job['id']}/errors.csv"
    report = await client.get(f"/api/v1/batches/{job['id']}/errors.csv", headers=issuer.auth)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    assert f'filename="{job["id"]}.errors.csv"' in report.headers["content-disposition"]
    assert "filename*=UTF-8''" in report.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert [(r["line"], r["holder_id_number"], r["code"]) for r in lines] == [("62", bad[1], "invalid_holder_id")]
    assert await licences_of(registry, issuer) == 130
    found = await licences(registry, issuer)
    await assert_all_verify(verifier, found[:5])

    listed = await client.get("/api/v1/batches", headers=issuer.auth)
    assert listed.status_code == 200 and [j["id"] for j in listed.json()] == [job["id"]]

    # The same file again: nothing new, no error report needed beyond the bad row.
    again = await upload(client, issuer, data)
    assert again.status_code == 202
    second = await wait_for(client, issuer, again.json()["id"])
    assert (second["state"], second["issued"], second["skipped"], second["failed"]) == ("done", 0, 130, 1)
    assert await licences_of(registry, issuer) == 130
    listed = await client.get("/api/v1/batches", headers=issuer.auth)
    assert [j["id"] for j in listed.json()] == [second["id"], job["id"]]


async def test_a_job_without_failures_has_no_report(client: httpx.AsyncClient, issuer: Org) -> None:
    resp = await upload(client, issuer, b"\xef\xbb\xbf" + csv_bytes(ssc_rows(3)))
    assert resp.status_code == 202, resp.text
    done = await wait_for(client, issuer, resp.json()["id"])
    assert (done["state"], done["issued"], done["error_report"]) == ("done", 3, None)
    missing = await client.get(f"/api/v1/batches/{done['id']}/errors.csv", headers=issuer.auth)
    assert_problem(missing, 404, "not_found")


async def test_who_may_upload_and_see(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    data = csv_bytes(ssc_rows(2))
    assert_problem(await upload(client, None, data), 401, "not_authenticated")
    agency = await make_org("agency", name="深圳市福田区政务服务中心")
    assert_problem(await upload(client, agency, data), 403, "forbidden")
    holder = await make_holder()
    resp = await client.post(
        "/api/v1/batches", data={"type": SSC}, files={"file": ("a.csv", data, "text/csv")}, headers=holder.auth
    )
    assert_problem(resp, 403, "forbidden")
    other_type = await make_org("issuer", types=["business_license"])
    assert_problem(await upload(client, other_type, data), 403, "license_type_not_allowed")
    assert await licences_of(registry, other_type) == 0

    job = (await upload(client, issuer, data)).json()
    await wait_for(client, issuer, job["id"])
    other = await make_org("issuer", types=[SSC], name="深圳市另一局")
    for path in (f"/api/v1/batches/{job['id']}", f"/api/v1/batches/{job['id']}/errors.csv"):
        assert_problem(await client.get(path, headers=other.auth), 404, "batch_not_found")
        assert_problem(await client.get(path, headers=agency.auth), 403, "forbidden")
        assert_problem(await client.get(path, headers=holder.auth), 403, "forbidden")
        assert_problem(await client.get(path), 401, "not_authenticated")
    assert (await client.get("/api/v1/batches", headers=other.auth)).json() == []
    assert_problem(await client.get("/api/v1/batches/not-a-job", headers=issuer.auth), 404, "batch_not_found")
    assert_problem(await client.get("/api/v1/batches/" + "0" * 32, headers=issuer.auth), 404, "batch_not_found")


async def test_malformed_uploads(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    data = csv_bytes(ssc_rows(1))
    url = "/api/v1/batches"
    auth = issuer.auth
    body = assert_problem(
        await client.post(url, json={"type": SSC, "file": "x"}, headers=auth), 415, "unsupported_media_type"
    )
    assert "multipart/form-data" in body["detail"]
    assert_problem(await client.post(url, data={"type": SSC}, headers=auth), 415, "unsupported_media_type")
    no_file = await client.post(
        url, data={"type": SSC}, files={"attachment": ("a.csv", data, "text/csv")}, headers=auth
    )
    assert "'file'" in assert_problem(no_file, 422, "validation_failed")["detail"]
    as_text = await client.post(url, data={"type": SSC, "file": data.decode()}, files={"x": ("x", b"x")}, headers=auth)
    assert_problem(as_text, 422, "validation_failed")
    twice = await client.post(
        url, data={"type": SSC}, files=[("file", ("a.csv", data, "text/csv")), ("file", ("b.csv", data))], headers=auth
    )
    assert_problem(twice, 422, "validation_failed")
    assert (
        "'type'"
        in assert_problem(await upload(client, issuer, data, license_type=None), 422, "validation_failed")["detail"]
    )
    assert_problem(await upload(client, issuer, data, license_type="pet_licence"), 422, "unknown_license_type")
    assert_problem(await upload(client, issuer, b""), 422, "batch_file_unreadable")
    assert_problem(
        await upload(client, issuer, b"PK\x03\x04" + bytes(100), filename="a.xlsx"), 422, "batch_file_unreadable"
    )
    bad_header = await upload(client, issuer, csv_bytes(ssc_rows(1), [*SSC_HEADER, "colour"]))
    problem = assert_problem(bad_header, 422, "batch_bad_header")
    assert "colour" in problem["detail"] and problem["unknown_columns"] == ["colour"]
    broken = await client.post(
        url,
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nunterminated',
        headers={**auth, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code in (400, 422) and broken.headers["content-type"].startswith("application/problem+json")
    no_boundary = await client.post(url, content=b"abc", headers={**auth, "Content-Type": "multipart/form-data"})
    assert no_boundary.status_code in (400, 422) and no_boundary.json()["code"]
    assert await licences_of(registry, issuer) == 0

    oversized = await upload(client, issuer, data + b"#" * (20 * 1024 * 1024))
    assert_problem(oversized, 413, "body_too_large")
    assert (await client.get(url, headers=auth)).json() == []  # no job was stored for any of these


async def test_a_job_whose_worker_died_reads_interrupted_and_reupload_completes_it(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, tmp_path: Path
) -> None:
    rows = ssc_rows(9)
    data = csv_bytes(rows)

    # A worker took the upload, issued the first chunk, and died.
    class Died(Exception):
        pass

    def die(*_: object) -> None:
        raise Died

    with pytest.raises(Died):
        await issue_batch(
            registry, issuer.code, source(registry, data), errors_to=tmp_path / "e.csv", progress=die, chunk_size=4
        )
    stale = datetime.now(UTC) - timedelta(seconds=90)
    job_id = uuid.uuid4().hex
    async with registry.db.transaction() as session:
        session.add(
            IssueBatch(
                id=job_id,
                org_code=issuer.code,
                license_type=SSC,
                filename="licences.csv",
                actor=issuer.code,
                state="running",
                total=9,
                processed=4,
                issued=4,
                content=data,
                created_at=stale,
                heartbeat_at=stale,
            )
        )
    job = (await client.get(f"/api/v1/batches/{job_id}", headers=issuer.auth)).json()
    assert (job["state"], job["processed"], job["issued"]) == ("interrupted", 4, 4)
    assert "Upload the same file again" in job["detail"]
    listed = (await client.get("/api/v1/batches", headers=issuer.auth)).json()
    assert [(j["id"], j["state"]) for j in listed] == [(job_id, "interrupted")]

    resp = await upload(client, issuer, data)
    done = await wait_for(client, issuer, resp.json()["id"])
    assert (done["state"], done["issued"], done["skipped"], done["failed"]) == ("done", 5, 4, 0)
    assert await licences_of(registry, issuer) == 9


async def test_a_running_job_in_this_worker_is_not_interrupted(registry: Registry, issuer: Org) -> None:
    """A live job whose heartbeat is late (a slow chunk) stays running while its task is alive here."""
    job_id = uuid.uuid4().hex
    async with registry.db.transaction() as session:
        session.add(
            IssueBatch(
                id=job_id,
                org_code=issuer.code,
                license_type=SSC,
                filename="x.csv",
                actor=issuer.code,
                state="running",
                content=b"",
                heartbeat_at=datetime.now(UTC) - timedelta(seconds=120),
            )
        )
    gate = asyncio.Event()

    async def hold() -> None:
        await gate.wait()

    batch._RUNNING[job_id] = asyncio.create_task(hold())
    try:
        principal = await read_token(registry, issuer.token)
        job, _ = await batch.get_job(registry, principal, job_id)
        assert job.state == "running"
    finally:
        gate.set()
        await batch._RUNNING.pop(job_id)


async def test_row_by_row_retry(registry: Registry, issuer: Org, tmp_path: Path) -> None:
    """What a chunk falls back to when it loses a race: each row alone, those already issued skipped."""
    rows = ssc_rows(5)
    src = source(registry, csv_bytes(rows))
    first = await issue_batch(registry, issuer.code, source(registry, csv_bytes(rows[:2])), errors_to=tmp_path / "e")
    assert first.issued == 2
    now = datetime.now(UTC)
    with src.rows() as records:
        prepared = [rows_.prepare_row(src.license_type, src.columns, line, cells, now) for line, cells in records]
    outcome = await batch._issue_one_by_one(registry, issuer.code, [*prepared, prepared[4]], "tester", "retry")
    assert (outcome.issued, outcome.skipped, outcome.failures) == (3, 3, [])
    assert await licences_of(registry, issuer) == 5
