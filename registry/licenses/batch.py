"""Bulk issuance (批量签发): licences of one type from a CSV file, each row validated exactly as
``POST /api/v1/licenses`` validates a body, the good rows issued in chunks.

The file and its rows (format, validation, error report) are ``registry.licenses.rows``; the CPU work of
validating and signing is ``registry.licenses.bulk``, in this process or a pool of worker processes. This
module numbers and stores, as a pipeline: while chunk k is signed, chunk k+1 is validated and chunk k-1 stored.
A chunk is numbered in one short transaction (one statement takes its serials and status slots) and stored in
another (three multi-row INSERTs); numbers taken by a chunk that is never stored (the process stopped, a row
failed at signing) stay unused: gaps, never a number handed out twice.

Every row carries a key derived from its content — ``batch:`` + SHA-256 of the canonical row (type, holder,
normalised fields, validity as given) — stored as an idempotency record in the transaction that stores the
row. Running the same file again, after a crash or by mistake, therefore issues only what is missing; the
rows already issued, and a row repeated in the file, count as ``skipped``. A row that fails validation goes
to the error report (CSV ``line,holder_id_number,code,message``) and does not stop the batch.

Used by ``registry issue-batch`` and by the jobs behind ``POST /api/v1/batches``.
"""

from __future__ import annotations

import asyncio
import csv
import inspect
import itertools
import logging
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any, TypeAlias, cast

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licence_types import LicenseType
from registry.licenses.bulk import InProcess, Numbered, Signed, SigningContext, ValidRow, Work
from registry.licenses.credentials import vc_time
from registry.licenses.drafts import Draft, check_may_issue
from registry.licenses.rows import CsvSource, ErrorReport, Failure, PreparedRow, error_message
from registry.licenses.service import Stored, reserve_numbers, sign_and_store, signing_context, store_signed
from registry.models import (
    IdempotencyRecord,
    IssueBatch,
    Organisation,
    SigningKey,
)
from registry.orgs.service import active_key, get_organisation
from signing.keys import Signer

log = logging.getLogger("registry.batch")

CHUNK_SIZE = 500  # rows per chunk for the CLI (a transaction numbers it, another stores it)
JOB_CHUNK_SIZE = 100  # smaller for jobs inside the server: other writers wait for a chunk on SQLite
HEARTBEAT_TIMEOUT = timedelta(seconds=60)
JOB_LIST_LIMIT = 20

# (processed, total or None, issued, skipped, failed), after each chunk; may be a coroutine function.
Progress: TypeAlias = Callable[[int, int | None, int, int, int], Awaitable[None] | None]


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
    check_may_issue(org.role, org.license_types, lt)
    return org.name


@dataclass
class _ChunkOutcome:
    issued: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)


async def _store(
    reg: Registry, session: AsyncSession, org_code: str, row: PreparedRow, now: datetime, actor: str, reason: str
) -> IdempotencyRecord:
    """Sign and store the row's licence; return its idempotency record, for the caller to add to the same
    transaction."""
    licence, _ = await sign_and_store(reg, session, org_code, row.draft, now, actor=actor, reason=reason)
    return IdempotencyRecord(org_code=org_code, key=row.key, request_hash=row.digest, identifier=licence.identifier)


@dataclass
class _Signing:
    reserved: _Reserved
    read: int  # rows of the file in this chunk
    invalid: list[Failure]  # rows that failed validation
    future: asyncio.Future[list[Signed | Failure]] | None


@dataclass
class _Reserved:
    """A chunk numbered and committed to its serials and status slots, waiting to be signed and stored."""

    fresh: list[PreparedRow]
    numbered: list[Numbered]
    skipped: int
    context: SigningContext | None = None
    signer: Signer | None = None
    key_id: int = 0

    def use_key(self, reg: Registry, org_code: str, license_type: str, org_name: str, key: SigningKey) -> None:
        assert key.id is not None
        self.context, self.signer = signing_context(reg, org_code, license_type, org_name, key)
        self.key_id = key.id

    def job(self) -> tuple[SigningContext, list[Numbered], Signer]:
        """What ``Work.sign`` takes."""
        if self.context is None or self.signer is None:
            raise RuntimeError("the chunk has no key to be signed with")
        return self.context, self.numbered, self.signer


async def _reserve_chunk(
    reg: Registry, org_code: str, lt: LicenseType, rows: list[PreparedRow], in_flight: set[str]
) -> _Reserved:
    """Leave out the rows issued already (by an earlier run, earlier in this file, or in a chunk still being
    signed) and number the rest, in one short transaction. Numbers reserved here and never stored (the process
    stopped, or a row failed at signing) stay unused: serials and status slots are never handed out twice."""
    async with reg.db.transaction() as session:
        keys = list({row.key for row in rows})
        done = in_flight.intersection(keys)
        done.update(
            (
                await session.exec(
                    select(IdempotencyRecord.key).where(
                        IdempotencyRecord.org_code == org_code, col(IdempotencyRecord.key).in_(keys)
                    )
                )
            ).all()
        )
        fresh: list[PreparedRow] = []
        for row in rows:
            if row.key not in done:
                done.add(row.key)
                fresh.append(row)
        skipped = len(rows) - len(fresh)
        if not fresh:
            return _Reserved([], [], skipped)
        numbered, org_name = await reserve_numbers(reg, session, org_code, lt, [row.draft for row in fresh])
        key = await active_key(session, org_code)
    reserved = _Reserved(fresh, numbered, skipped)
    reserved.use_key(reg, org_code, lt.type, org_name, key)
    return reserved


async def _resign(reg: Registry, org_code: str, lt: LicenseType, reserved: _Reserved) -> None:
    """Point a chunk at the department's current key (its numbers stay)."""
    async with reg.db.read() as session:
        key = await active_key(session, org_code)
        org = await get_organisation(session, org_code)
    reserved.use_key(reg, org_code, lt.type, org.name, key)


class _KeyChanged(Exception):
    """The department's key was rotated or revoked while a chunk was being signed with it."""


async def _store_chunk(
    reg: Registry,
    org_code: str,
    lt: LicenseType,
    reserved: _Reserved,
    signed: list[Signed | Failure],
    actor: str,
    reason: str,
) -> _ChunkOutcome:
    """Store a signed chunk in one transaction: one multi-row INSERT per table and one commit."""
    outcome = _ChunkOutcome(skipped=reserved.skipped)
    keep: list[Stored] = []
    kept: list[PreparedRow] = []
    for row, number, result in zip(reserved.fresh, reserved.numbered, signed, strict=True):
        if isinstance(result, Failure):
            outcome.failures.append(Failure(row.line, row.holder_id_number, result.code, result.message))
        else:
            keep.append(Stored(row.key, row.digest, number, result, actor))
            kept.append(row)
    if not keep:
        return outcome
    try:
        async with reg.db.transaction() as session:
            # Checked again as the rows are stored: a right withdrawn or a key replaced while the chunk was
            # being signed stops it here, before anything of it is written.
            org = await session.get(Organisation, org_code)
            if org is None:
                raise errors.OrganisationNotFound(f"机构 {org_code} 不存在 / No organisation {org_code}")
            check_may_issue(org.role, org.license_types, lt)
            if (await active_key(session, org_code)).id != reserved.key_id:
                raise _KeyChanged
            context, _, _ = reserved.job()  # the context the chunk was signed under: its time is the licences'
            await store_signed(session, context, reserved.key_id, keep, reason)
    except IntegrityError:
        # A concurrent run of the same file stored some of these rows first: take them one at a time.
        alone = await _issue_one_by_one(reg, org_code, kept, actor, reason)
        alone.skipped += outcome.skipped
        alone.failures[:0] = outcome.failures
        return alone
    outcome.issued = len(keep)
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
            outcome.failures.append(
                Failure(row.line, row.holder_id_number, exc.code, error_message(exc, row.holder_id_number))
            )
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
    work: Work | None = None,
) -> BatchResult:
    """Issue every good row of ``source`` for ``org_code``; report the bad ones to ``errors_to``.

    ``work`` is where rows are validated and signed: this process by default, or a :class:`bulk.Pooled`.

    ``progress`` is called after each chunk of ``chunk_size`` rows, once that chunk is committed; if it
    raises, the batch stops there and running it again carries on from that point.
    """
    lt = source.license_type
    await check_issuer(reg, org_code, lt)
    actor = actor or org_code
    reason = reason or f"批量签发 / bulk issuance: {source.name}"
    work = work or InProcess()
    started = time.monotonic()
    report = ErrorReport(errors_to)
    processed = issued = skipped = failed = 0
    in_flight: set[str] = set()  # keys of rows numbered and not yet stored
    validating: asyncio.Future[list[ValidRow | Failure]] | None = None
    signing: _Signing | None = None

    def validate(chunk: list[tuple[int, list[str]]]) -> asyncio.Future[list[ValidRow | Failure]] | None:
        return asyncio.ensure_future(work.validate(lt, source.columns, datetime.now(UTC), chunk)) if chunk else None

    async def finish(chunk: _Signing) -> None:
        nonlocal processed, issued, skipped, failed
        signed = await chunk.future if chunk.future is not None else []
        while True:
            try:
                outcome = await _store_chunk(reg, org_code, lt, chunk.reserved, signed, actor, reason)
                break
            except _KeyChanged:  # sign the same numbers again with the department's new key
                await _resign(reg, org_code, lt, chunk.reserved)
                signed = await work.sign(*chunk.reserved.job())
        in_flight.difference_update(row.key for row in chunk.reserved.fresh)
        bad = chunk.invalid + outcome.failures
        for failure in sorted(bad, key=lambda b: b.line):
            report.add_failure(failure)
        processed += chunk.read
        issued += outcome.issued
        skipped += outcome.skipped
        failed += len(bad)
        if progress is not None:
            waiting = progress(processed, source.total, issued, skipped, failed)
            if inspect.isawaitable(waiting):
                await waiting

    # A pipeline: while chunk k is signed (in the pool, when there is one), chunk k+1 is validated and
    # chunk k-1 stored, so neither the workers nor the database wait for each other.
    try:
        with source.rows() as records:
            chunk = list(itertools.islice(records, chunk_size))
            validating = validate(chunk)
            while validating is not None or signing is not None:
                current: _Signing | None = None
                if validating is not None:
                    validated = await validating
                    read = len(chunk)
                    chunk = list(itertools.islice(records, chunk_size))
                    validating = validate(chunk)
                    good = [
                        PreparedRow(
                            v.line,
                            v.holder.id_number,
                            v.digest,
                            Draft(lt, v.holder, v.fields, v.valid_from, v.valid_until),
                        )
                        for v in validated
                        if isinstance(v, ValidRow)
                    ]
                    reserved = await _reserve_chunk(reg, org_code, lt, good, in_flight)
                    in_flight.update(row.key for row in reserved.fresh)
                    future = asyncio.ensure_future(work.sign(*reserved.job())) if reserved.fresh else None
                    invalid = [v for v in validated if isinstance(v, Failure)]
                    current = _Signing(reserved, read, invalid, future)
                if signing is not None:
                    await finish(signing)
                signing = current
    except (csv.Error, UnicodeDecodeError) as exc:  # the file changed since it was checked
        raise errors.BatchFileUnreadable(f"文件不是合法的 CSV / The file is not valid CSV: {exc}") from exc
    finally:
        for pending in (validating, signing.future if signing is not None else None):
            if pending is not None:
                pending.cancel()
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
