"""Bulk issuance (批量签发): licences of one type from a CSV file, each row validated exactly as
``POST /api/v1/licenses`` validates a body, the good rows issued in chunks.

The file (DESIGN §6): header ``holder_id_type,holder_id_number,holder_name,<the template's field names…>``,
optionally ``valid_from,valid_until``; UTF-8 with or without a BOM, or GB18030 (what Chinese Excel saves).
It is streamed twice, never held whole: once to settle its encoding, check its header and count its rows,
once to issue them.

Every row carries a key derived from its content — ``batch:`` + SHA-256 of the canonical row (type, holder,
normalised fields, validity as given) — stored as an idempotency record in the transaction that issues the
row. Running the same file again, after a crash or by mistake, therefore issues only what is missing; the
rows already issued, and a row repeated in the file, count as ``skipped``. A row that fails validation goes
to the error report (CSV ``line,holder_id_number,code,message``) and does not stop the batch.

Used by ``registry issue-batch`` and by the jobs behind ``POST /api/v1/batches``.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import inspect
import io
import logging
import re
import tempfile
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any, BinaryIO, TypeAlias, cast

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licence_types import FieldValue, LicenseType, validate_holder
from registry.licenses.credentials import vc_time
from registry.licenses.service import Draft, parse_time, sign_and_store, validity_window
from registry.models import IdempotencyRecord, IssueBatch, Organisation
from signing.jcs import canonicalize

log = logging.getLogger("registry.batch")

CHUNK_SIZE = 200  # rows per transaction for the CLI
JOB_CHUNK_SIZE = 100  # smaller for jobs inside the server: other writers wait for a chunk on SQLite
HOLDER_COLUMNS = ("holder_id_type", "holder_id_number", "holder_name")
VALIDITY_COLUMNS = ("valid_from", "valid_until")
REPORT_COLUMNS = ("line", "holder_id_number", "code", "message")
KEY_PREFIX = "batch:"
MAX_REPORT_MESSAGE = 1000
HEARTBEAT_TIMEOUT = timedelta(seconds=60)
JOB_LIST_LIMIT = 20

# (processed, total or None, issued, skipped, failed), after each chunk; may be a coroutine function.
Progress: TypeAlias = Callable[[int, int | None, int, int, int], Awaitable[None] | None]

_INTEGER = re.compile(r"[+-]?[0-9]{1,16}")
_EXCEL_NUMBER = re.compile(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"


# --- the file: encoding, header, rows -------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Where each column of the header sits. A template field that shares a holder column's name (结婚证's
    ``holder_name``) is fed by that one column: the template requires the two to be equal anyway."""

    count: int
    id_type: int
    id_number: int
    name: int
    fields: tuple[tuple[str, int], ...]
    valid_from: int | None
    valid_until: int | None


def read_header(lt: LicenseType, cells: Sequence[str]) -> Columns:
    """The header's columns, or :class:`~registry.errors.BatchBadHeader` naming every wrong or missing one."""
    names = [c.strip().lower() for c in cells]
    if names:
        names[0] = names[0].lstrip("\ufeff")
    field_names = [f.name for f in lt.fields]
    allowed = list(dict.fromkeys([*HOLDER_COLUMNS, *field_names, *VALIDITY_COLUMNS]))
    required = list(dict.fromkeys([*HOLDER_COLUMNS, *(f.name for f in lt.fields if f.required)]))
    counts = Counter(names)
    unknown = [n[:80] for n in counts if n not in allowed][:10]
    duplicate = [n for n, times in counts.items() if times > 1 and n in allowed]
    missing = [n for n in required if n not in names]
    problems_cn: list[str] = []
    problems_en: list[str] = []
    if "" in unknown:
        empty = ", ".join(str(i + 1) for i, n in enumerate(names) if not n)
        problems_cn.append(f"第 {empty} 列没有列名")
        problems_en.append(f"column {empty} has no name")
        unknown.remove("")
    if unknown:
        shown = ", ".join(repr(n) for n in unknown)
        problems_cn.append(f"未知的列 {shown}")
        problems_en.append(f"unknown column(s) {shown}")
    if duplicate:
        problems_cn.append(f"重复的列 {', '.join(duplicate)}")
        problems_en.append(f"duplicate column(s) {', '.join(duplicate)}")
    if missing:
        problems_cn.append(f"缺少必需的列 {', '.join(missing)}")
        problems_en.append(f"missing required column(s) {', '.join(missing)}")
    if problems_cn:
        raise errors.BatchBadHeader(
            f"表头有误：{'；'.join(problems_cn)}。「{lt.name}」的列为：{', '.join(allowed)} / "
            f"Bad header: {'; '.join(problems_en)}. The columns of {lt.name_en} are: {', '.join(allowed)}",
            license_type=lt.type,
            unknown_columns=unknown,
            duplicate_columns=duplicate,
            missing_columns=missing,
            allowed_columns=allowed,
        )
    index = {n: i for i, n in enumerate(names)}
    return Columns(
        count=len(names),
        id_type=index["holder_id_type"],
        id_number=index["holder_id_number"],
        name=index["holder_name"],
        fields=tuple((n, index[n]) for n in field_names if n in index),
        valid_from=index.get("valid_from"),
        valid_until=index.get("valid_until"),
    )


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, its cells); blank lines and rows of blank cells are left out."""
    line = 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if any(c.strip() for c in cells):
            yield start, cells


@dataclass(frozen=True)
class CsvSource:
    """A checked CSV file of one licence type: its encoding, header and number of rows are known."""

    name: str
    license_type: LicenseType
    encoding: str  # "utf-8-sig" or "gb18030"
    total: int  # data rows
    columns: Columns
    _open: Callable[[], BinaryIO] = field(repr=False)

    @classmethod
    def from_path(cls, path: Path, lt: LicenseType) -> CsvSource:
        def opener() -> BinaryIO:
            try:
                return path.open("rb")
            except OSError as exc:
                raise errors.BatchFileUnreadable(
                    f"无法读取文件 {path.name} / Cannot read {path.name}: {exc.strerror or exc}"
                ) from exc

        return cls._scan(path.name, lt, opener)

    @classmethod
    def from_bytes(cls, data: bytes, name: str, lt: LicenseType) -> CsvSource:
        """Blocking (it reads the whole upload once): call it in a worker thread from the event loop."""
        return cls._scan(name, lt, lambda: io.BytesIO(data))

    @classmethod
    def _scan(cls, name: str, lt: LicenseType, opener: Callable[[], BinaryIO]) -> CsvSource:
        with opener() as raw:
            head = raw.read(4)
        if not head:
            raise errors.BatchFileUnreadable("文件为空 / The file is empty")
        if head in (_ZIP_MAGIC, _OLE_MAGIC):
            raise errors.BatchFileUnreadable(
                "这是 Excel 工作簿，请另存为「CSV UTF-8（逗号分隔）」后上传 / "
                "This is an Excel workbook; save it as CSV UTF-8 (comma delimited) and upload that"
            )
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                with opener() as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
                    reader = csv.reader(text)
                    records = _records(reader)
                    first = next(records, None)
                    if first is None:
                        raise errors.BatchBadHeader("文件没有表头 / The file has no header row")
                    columns = read_header(lt, first[1])
                    total = sum(1 for _ in records)
            except UnicodeDecodeError:
                continue
            except csv.Error as exc:
                raise errors.BatchFileUnreadable(
                    f"第 {reader.line_num} 行不是合法的 CSV / Line {reader.line_num} is not valid CSV: {exc}"
                ) from exc
            return cls(name, lt, encoding, total, columns, opener)
        raise errors.BatchFileUnreadable(
            "文件编码无法识别，应为 UTF-8 或 GB18030 / The file is neither UTF-8 nor GB18030 text"
        )

    @contextmanager
    def rows(self) -> Iterator[Iterator[tuple[int, list[str]]]]:
        """The data rows as (line, cells), streamed from the file."""
        with self._open() as raw, io.TextIOWrapper(raw, encoding=self.encoding, newline="") as text:
            records = _records(csv.reader(text))
            next(records, None)  # the header, checked by the scan
            yield records


# --- one row: plain functions, no database and no event loop (issue #7 may run them in a process pool) ------


@dataclass(frozen=True)
class PreparedRow:
    """A validated row: what to sign, and the key that says whether it was issued already."""

    line: int
    holder_id_number: str
    digest: str  # SHA-256 hex of the canonical row
    draft: Draft

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.digest


def _cell_value(lt: LicenseType, name: str, text: str) -> str | int:
    """CSV cells are text; integer fields take the number they spell (anything else fails validation)."""
    if lt.field(name).type == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    return text


def row_digest(
    lt: LicenseType,
    holder_id_type: str,
    holder_id_number: str,
    holder_name: str,
    fields: dict[str, FieldValue],
    valid_from: str | None,
    valid_until: str | None,
) -> str:
    """The row's identity: validated values only, and the validity *as given* (not today's default), so the
    same file run again tomorrow still finds its rows."""
    canonical = {
        "type": lt.type,
        "holder": {"id_type": holder_id_type, "id_number": holder_id_number, "name": holder_name},
        "fields": fields,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    return hashlib.sha256(canonicalize(canonical)).hexdigest()


def prepare_row(lt: LicenseType, columns: Columns, line: int, cells: Sequence[str], now: datetime) -> PreparedRow:
    """Validate one row as ``POST /api/v1/licenses`` validates a body; raise its :class:`RegistryError`."""
    if len(cells) != columns.count:
        raise errors.ValidationFailed(
            f"此行有 {len(cells)} 列，表头有 {columns.count} 列（值中含逗号时须加英文双引号） / "
            f"This row has {len(cells)} cells, the header {columns.count} "
            "(quote values that contain commas)"
        )
    cells = [c.strip() for c in cells]
    holder = validate_holder(cells[columns.id_type], cells[columns.id_number], cells[columns.name], lt.holder_id_types)
    raw = {name: _cell_value(lt, name, cells[i]) for name, i in columns.fields}
    fields = lt.validate_fields(raw, holder)
    from_text = cells[columns.valid_from] if columns.valid_from is not None else ""
    until_text = cells[columns.valid_until] if columns.valid_until is not None else ""
    valid_from, valid_until = validity_window(lt, from_text or None, until_text or None, now)
    digest = row_digest(
        lt,
        holder.id_type,
        holder.id_number,
        holder.name,
        fields,
        parse_time(from_text, "valid_from").isoformat() if from_text else None,
        parse_time(until_text, "valid_until").isoformat() if until_text else None,
    )
    return PreparedRow(line, holder.id_number, digest, Draft(lt, holder, fields, valid_from, valid_until))


# --- the error report ----------------------------------------------------------------------------------


def _spreadsheet_safe(text: str) -> str:
    """A cell Excel will not run as a formula (the report is opened in Excel)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def error_message(error: errors.RegistryError, holder_id_number: str = "") -> str:
    """One line for the report: every field problem of an invalid row, not just their count."""
    items = error.extra.get("errors")
    if isinstance(items, list) and items:
        message = "; ".join(f"{e.get('field', '')}: {e.get('message', '')}" for e in items if isinstance(e, dict))
    else:
        message = error.detail
    if error.code == "invalid_holder_id" and _EXCEL_NUMBER.fullmatch(holder_id_number):
        message += (
            "（Excel 把证件号码变成了科学计数法，请将该列设为「文本」后重新导出 / Excel turned the ID number into "
            "scientific notation: format the column as Text and export again）"
        )
    return message.replace("\r", " ").replace("\n", " ")[:MAX_REPORT_MESSAGE]


class ErrorReport:
    """CSV ``line,holder_id_number,code,message``, one row per failed line. Written to a file (created at the
    first failed row, UTF-8 with a BOM so that Excel shows the Chinese) or to an open text stream."""

    def __init__(self, target: Path | IO[str]) -> None:
        self.target = target
        self.count = 0
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self._writer: Any = None

    def add(self, line: int, holder_id_number: str, error: errors.RegistryError) -> None:
        if self._writer is None:
            if isinstance(self.target, Path):
                self._file = self.target.open("w", encoding="utf-8-sig", newline="")
                self.path = self.target
                self._writer = csv.writer(self._file)
            else:
                self._writer = csv.writer(self.target)
            self._writer.writerow(REPORT_COLUMNS)
        message = error_message(error, holder_id_number)
        self._writer.writerow([line, _spreadsheet_safe(holder_id_number[:64]), error.code, _spreadsheet_safe(message)])
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# --- issuing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    processed: int
    total: int
    issued: int
    skipped: int
    failed: int
    seconds: float
    error_report: Path | None  # the report file, when rows failed and the report went to a file

    def summary(self) -> dict[str, int | float]:
        """What ``registry issue-batch --json`` prints."""
        return {"issued": self.issued, "skipped": self.skipped, "failed": self.failed, "seconds": self.seconds}


async def check_issuer(reg: Registry, org_code: str, lt: LicenseType) -> str:
    """The department's name, if it exists and may issue ``lt``; else the error issuing would end with."""
    async with reg.db.read() as session:
        org = await session.get(Organisation, org_code)
    if org is None:
        raise errors.OrganisationNotFound(f"机构 {org_code} 不存在 / No organisation {org_code}")
    if org.role != "issuer" or lt.type not in org.license_type_list:
        raise errors.LicenseTypeNotAllowed(
            f"本部门无权签发「{lt.name}」/ This department may not issue {lt.name_en}", license_type=lt.type
        )
    return org.name


@dataclass
class _ChunkOutcome:
    issued: int = 0
    skipped: int = 0
    failures: list[tuple[PreparedRow, errors.RegistryError]] = field(default_factory=list)


async def _store(
    reg: Registry, session: AsyncSession, org_code: str, row: PreparedRow, now: datetime, actor: str, reason: str
) -> IdempotencyRecord:
    """Sign and store the row's licence; return its idempotency record, for the caller to add to the same
    transaction (a chunk adds its records together: one multi-row INSERT instead of one per row)."""
    licence, _ = await sign_and_store(reg, session, org_code, row.draft, now, actor=actor, reason=reason)
    return IdempotencyRecord(org_code=org_code, key=row.key, request_hash=row.digest, identifier=licence.identifier)


async def _issue_chunk(reg: Registry, org_code: str, rows: list[PreparedRow], actor: str, reason: str) -> _ChunkOutcome:
    """Issue the rows not issued yet in one transaction (one commit, not one per row)."""
    outcome = _ChunkOutcome()
    if not rows:
        return outcome
    try:
        async with reg.db.transaction() as session:
            keys = {row.key for row in rows}
            done = set(
                (
                    await session.exec(
                        select(IdempotencyRecord.key).where(
                            IdempotencyRecord.org_code == org_code, col(IdempotencyRecord.key).in_(keys)
                        )
                    )
                ).all()
            )
            now = datetime.now(UTC)
            records: list[IdempotencyRecord] = []
            for row in rows:
                if row.key in done:  # issued by an earlier run, or earlier in this file
                    outcome.skipped += 1
                    continue
                done.add(row.key)
                records.append(await _store(reg, session, org_code, row, now, actor, reason))
                outcome.issued += 1
            session.add_all(records)
    except (IntegrityError, errors.ValidationFailed):
        # A concurrent run committed some of these keys first, or one row cannot be signed (its QR payload
        # is too large): the chunk was rolled back whole, so take its rows one at a time.
        return await _issue_one_by_one(reg, org_code, rows, actor, reason)
    return outcome


async def _issue_one_by_one(
    reg: Registry, org_code: str, rows: list[PreparedRow], actor: str, reason: str
) -> _ChunkOutcome:
    outcome = _ChunkOutcome()
    for row in rows:
        try:
            async with reg.db.transaction() as session:
                if await session.get(IdempotencyRecord, (org_code, row.key)) is not None:
                    outcome.skipped += 1
                    continue
                session.add(await _store(reg, session, org_code, row, datetime.now(UTC), actor, reason))
            outcome.issued += 1
        except errors.ValidationFailed as exc:
            outcome.failures.append((row, exc))
        except IntegrityError:
            async with reg.db.read() as session:
                if await session.get(IdempotencyRecord, (org_code, row.key)) is None:
                    raise  # not a concurrent run's commit: a real fault
            outcome.skipped += 1
    return outcome


async def issue_batch(
    reg: Registry,
    org_code: str,
    source: CsvSource,
    *,
    errors_to: Path | IO[str],
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> BatchResult:
    """Issue every good row of ``source`` for ``org_code``; report the bad ones to ``errors_to``.

    ``progress`` is called after each chunk of ``chunk_size`` rows, once that chunk is committed; if it
    raises, the batch stops there and running it again carries on from that point.
    """
    lt = source.license_type
    await check_issuer(reg, org_code, lt)
    actor = actor or org_code
    reason = reason or f"批量签发 / bulk issuance: {source.name}"
    started = time.monotonic()
    report = ErrorReport(errors_to)
    processed = issued = skipped = failed = 0
    try:
        with source.rows() as records:
            while True:
                now = datetime.now(UTC)
                good: list[PreparedRow] = []
                bad: list[tuple[int, str, errors.RegistryError]] = []
                read = 0
                for line, cells in records:
                    try:
                        good.append(prepare_row(lt, source.columns, line, cells, now))
                    except errors.RegistryError as exc:
                        id_cell = (
                            cells[source.columns.id_number].strip() if len(cells) > source.columns.id_number else ""
                        )
                        bad.append((line, id_cell, exc))
                    read += 1
                    if read == chunk_size:
                        break
                if read == 0:
                    break
                outcome = await _issue_chunk(reg, org_code, good, actor, reason)
                bad.extend((row.line, row.holder_id_number, problem) for row, problem in outcome.failures)
                for failed_line, failed_id, problem in sorted(bad, key=lambda b: b[0]):
                    report.add(failed_line, failed_id, problem)
                processed += read
                issued += outcome.issued
                skipped += outcome.skipped
                failed += len(bad)
                if progress is not None:
                    waiting = progress(processed, source.total, issued, skipped, failed)
                    if inspect.isawaitable(waiting):
                        await waiting
    except (csv.Error, UnicodeDecodeError) as exc:  # the file changed since it was checked
        raise errors.BatchFileUnreadable(f"文件不是合法的 CSV / The file is not valid CSV: {exc}") from exc
    finally:
        report.close()
    return BatchResult(
        processed=processed,
        total=source.total,
        issued=issued,
        skipped=skipped,
        failed=failed,
        seconds=round(time.monotonic() - started, 3),
        error_report=report.path,
    )


# --- jobs: the HTTP API's batches, run in the background of the worker that took the upload ---------------


class BatchPublic(BaseModel):
    """A bulk issuance job as ``/api/v1/batches`` shows it."""

    id: str
    type: str
    filename: str
    state: str  # queued | running | done | failed | interrupted
    total: int | None
    processed: int
    issued: int
    skipped: int
    failed: int
    created_at: str
    finished_at: str | None
    error_report: str | None  # URL of the error report (CSV), once the job has finished with failed rows
    detail: str | None


# Running jobs of this process, held so the event loop does not drop them (it keeps only weak references).
_RUNNING: dict[str, asyncio.Task[None]] = {}

_INTERRUPTED = (
    "处理中断（处理它的进程已退出）；重新上传同一文件即可补签未签发的行 / Interrupted: the process running it "
    "stopped. Upload the same file again: only the rows not yet issued will be issued"
)


def _clean_filename(name: str | None) -> str:
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:200] or "upload.csv"


async def submit_job(
    reg: Registry, principal: Principal, license_type: str | None, filename: str | None, data: bytes
) -> IssueBatch:
    """Check the upload (the caller's right to issue the type, the file's encoding and header), store it as
    a job, and start issuing in the background. Returns the queued job."""
    principal.require_scope("licenses:issue")
    if not license_type:
        raise errors.ValidationFailed("缺少表单字段 type（证照类型） / The form field 'type' (licence type) is missing")
    lt = reg.catalog.get(license_type)
    await check_issuer(reg, principal.subject, lt)
    name = _clean_filename(filename)
    source = await asyncio.to_thread(CsvSource.from_bytes, data, name, lt)
    job = IssueBatch(
        id=uuid.uuid4().hex,
        org_code=principal.subject,
        license_type=lt.type,
        filename=name,
        actor=principal.actor[:64],
        total=source.total,
        content=data,
    )
    async with reg.db.transaction() as session:
        session.add(job)
    task = asyncio.create_task(run_job(reg, job.id, source, job.org_code, job.actor), name=f"batch-{job.id}")
    _RUNNING[job.id] = task
    task.add_done_callback(lambda _: _RUNNING.pop(job.id, None))
    return job


async def _update_job(reg: Registry, job_id: str, **values: Any) -> None:
    async with reg.db.transaction() as session:
        await session.exec(update(IssueBatch).where(col(IssueBatch.id) == job_id).values(**values))


async def run_job(reg: Registry, job_id: str, source: CsvSource, org_code: str, actor: str) -> None:
    """Issue a job's file, writing its progress to its row after every chunk; never raises."""

    async def progress(processed: int, total: int | None, issued: int, skipped: int, failed: int) -> None:
        await _update_job(
            reg,
            job_id,
            state="running",
            processed=processed,
            issued=issued,
            skipped=skipped,
            failed=failed,
            heartbeat_at=datetime.now(UTC),
        )

    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024, mode="w+", encoding="utf-8", newline="") as report:
        final: dict[str, Any]
        try:
            await _update_job(reg, job_id, state="running", heartbeat_at=datetime.now(UTC))
            result = await issue_batch(
                reg,
                org_code,
                source,
                errors_to=report,
                actor=actor,
                reason=f"批量签发 / bulk issuance {job_id}",
                progress=progress,
                chunk_size=JOB_CHUNK_SIZE,
            )
            final = {
                "state": "done",
                "total": result.processed,
                "processed": result.processed,
                "issued": result.issued,
                "skipped": result.skipped,
                "failed": result.failed,
            }
        except errors.RegistryError as exc:
            final = {"state": "failed", "detail": exc.detail}
        except Exception:
            log.exception("bulk issuance job %s failed", job_id)
            final = {
                "state": "failed",
                "detail": "内部错误，任务已停止；重新上传同一文件即可补签未签发的行 / Internal error: the job "
                "stopped. Upload the same file again: only the rows not yet issued will be issued",
            }
        report.seek(0)
        text = report.read()
    try:
        now = datetime.now(UTC)
        await _update_job(reg, job_id, **final, error_report=text or None, heartbeat_at=now, finished_at=now)
    except Exception:  # the database went away: the stale heartbeat will report the job as interrupted
        log.exception("could not record the end of bulk issuance job %s", job_id)


async def _settle(reg: Registry, jobs: list[IssueBatch]) -> None:
    """Report a queued or running job whose worker stopped beating as interrupted (and record it)."""
    now = datetime.now(UTC)
    cutoff = now - HEARTBEAT_TIMEOUT
    for job in jobs:
        if job.state in ("queued", "running") and job.heartbeat_at < cutoff and job.id not in _RUNNING:
            async with reg.db.transaction() as session:
                await session.exec(
                    update(IssueBatch)
                    .where(
                        col(IssueBatch.id) == job.id,
                        col(IssueBatch.state).in_(("queued", "running")),
                        col(IssueBatch.heartbeat_at) < cutoff,
                    )
                    .values(state="interrupted", detail=_INTERRUPTED, finished_at=now)
                )
            job.state, job.detail, job.finished_at = "interrupted", _INTERRUPTED, now


def _job_query(org_code: str) -> Any:
    return (
        select(IssueBatch, col(IssueBatch.error_report).is_not(None))
        .options(defer(cast(QueryableAttribute[Any], IssueBatch.content)))
        .options(defer(cast(QueryableAttribute[Any], IssueBatch.error_report)))
        .where(col(IssueBatch.org_code) == org_code)
    )


def _valid_job_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


async def get_job(reg: Registry, principal: Principal, job_id: str) -> tuple[IssueBatch, bool]:
    """A job of the caller's organisation and whether it has an error report; another's does not exist."""
    principal.require_scope("licenses:issue")
    row = None
    if _valid_job_id(job_id):
        async with reg.db.read() as session:
            row = (await session.exec(_job_query(principal.subject).where(col(IssueBatch.id) == job_id))).first()
    if row is None:
        raise errors.BatchNotFound(f"批量签发任务 {job_id[:40]} 不存在 / No bulk issuance job {job_id[:40]}")
    job, has_report = row
    await _settle(reg, [job])
    return job, bool(has_report)


async def list_jobs(reg: Registry, principal: Principal) -> list[tuple[IssueBatch, bool]]:
    """The caller's organisation's latest jobs, newest first."""
    principal.require_scope("licenses:issue")
    query = _job_query(principal.subject).order_by(col(IssueBatch.created_at).desc()).limit(JOB_LIST_LIMIT)
    async with reg.db.read() as session:
        rows = [(job, bool(has)) for job, has in (await session.exec(query)).all()]
    await _settle(reg, [job for job, _ in rows])
    return rows


async def job_error_report(reg: Registry, principal: Principal, job_id: str) -> tuple[str, str]:
    """(file name, CSV text) of a job's error report."""
    job, has_report = await get_job(reg, principal, job_id)
    text = None
    if has_report:
        async with reg.db.read() as session:
            text = (await session.exec(select(IssueBatch.error_report).where(col(IssueBatch.id) == job.id))).first()
    if not text:
        raise errors.NotFound(
            f"任务 {job.id} 没有错误报告（没有失败的行，或尚未完成） / Job {job.id} has no error report "
            "(no row failed, or it has not finished)"
        )
    stem = job.filename[:-4] if job.filename.lower().endswith(".csv") else job.filename
    return f"{stem}.errors.csv", text


def to_public(reg: Registry, job: IssueBatch, has_report: bool) -> BatchPublic:
    return BatchPublic(
        id=job.id,
        type=job.license_type,
        filename=job.filename,
        state=job.state,
        total=job.total,
        processed=job.processed,
        issued=job.issued,
        skipped=job.skipped,
        failed=job.failed,
        created_at=vc_time(job.created_at),
        finished_at=vc_time(job.finished_at) if job.finished_at else None,
        error_report=f"{reg.settings.base_url}/api/v1/batches/{job.id}/errors.csv" if has_report else None,
        detail=job.detail,
    )
