"""Bulk issuance's CPU work -- validating CSV rows and signing numbered licences -- as plain functions over
plain data, run in this process or in a pool of spawned processes. No database and no event loop here.

``registry issue-batch`` uses a pool (one process per core): on two cores, signing a million licences is
CPU-bound work that one process cannot do at the target rate. The workers load the master key from the
same file the main process did and unseal the department's key themselves, so no key material crosses a
pipe; only sealed blobs and row data do.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import types
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from registry import errors
from registry.licence_types import HolderRef, LicenseType
from registry.licenses.credentials import SignedCredential, StatusSlot, full_credential, sign_credential
from registry.licenses.rows import Failure, error_message, prepare_row
from registry.log.content import Entry, issued
from signing.errors import SigningError
from signing.keys import KeyProvider, MasterKey, SealedKeyProvider, Signer

__all__ = [
    "Failure",
    "InProcess",
    "Numbered",
    "Pooled",
    "Signed",
    "SigningContext",
    "ValidRow",
    "Work",
    "sign_row",
    "sign_rows",
    "validate_rows",
]


class ValidRow(NamedTuple):
    """A validated row, without its licence type (the caller has it; pickling it per row would cost more than
    validating)."""

    line: int
    digest: str
    holder: HolderRef
    fields: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None


class Numbered(NamedTuple):
    """A row given its identifier and status slots, ready to sign."""

    identifier: str
    serial: str
    holder: HolderRef
    fields: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None
    status_index: int
    revocation_list_id: str
    suspension_list_id: str


class SigningContext(NamedTuple):
    """What every licence of a chunk shares: its issuer, type, time and key (sealed). ``issued_at`` is the
    licences' recorded issuance time; ``created``, the same second as the proofs print it."""

    license_type: str
    issuer_code: str
    issuer_did: str
    issuer_name: str
    base_url: str
    issued_at: datetime
    created: str
    seal_ref: str
    verification_method: str
    sealed: bytes
    public_key: bytes


def validate_rows(
    lt: LicenseType, columns: Any, now: datetime, records: Sequence[tuple[int, list[str]]]
) -> list[ValidRow | Failure]:
    """Validate each row as ``POST /api/v1/licenses`` validates a body (``rows.prepare_row``)."""
    out: list[ValidRow | Failure] = []
    for line, cells in records:
        try:
            row = prepare_row(lt, columns, line, cells, now)
        except errors.RegistryError as exc:
            id_cell = cells[columns.id_number].strip() if len(cells) > columns.id_number else ""
            out.append(Failure(line, id_cell, exc.code, error_message(exc, id_cell)))
            continue
        d = row.draft
        out.append(ValidRow(line, row.digest, d.holder, d.fields, d.valid_from, d.valid_until))
    return out


class Signed(NamedTuple):
    """A numbered row's signed credential and its ``issued`` log entry (built here, in the signing process, so
    that the one process that writes the database only inserts it)."""

    credential: SignedCredential
    entry: Entry


def sign_row(ctx: SigningContext, row: Numbered, signer: Signer) -> Signed:
    """Build and sign one numbered row's credential (``service.sign_and_store`` does the same for one licence
    outside a group). Raises :class:`~registry.errors.PayloadTooLarge` if it cannot fit a QR code."""
    credential = sign_credential(unsigned_credential(ctx, row), signer, ctx.created)
    entry = issued(
        identifier=row.identifier,
        issuer_code=ctx.issuer_code,
        license_type=ctx.license_type,
        version=1,
        previous=None,
        credential_jcs=credential.credential_jcs,
        at=ctx.issued_at,
    )
    return Signed(credential, entry)


def sign_rows(ctx: SigningContext, rows: Sequence[Numbered], signer: Signer) -> list[Signed | Failure]:
    out: list[Signed | Failure] = []
    for row in rows:
        try:
            out.append(sign_row(ctx, row, signer))
        except errors.PayloadTooLarge as exc:
            out.append(Failure(0, row.holder.id_number, exc.code, exc.detail))
    return out


def unsigned_credential(ctx: SigningContext, row: Numbered) -> dict[str, Any]:
    status_base = f"{ctx.base_url}/status-lists/"
    return full_credential(
        credential_id=f"{ctx.base_url}/licenses/{row.identifier}",
        issuer_did=ctx.issuer_did,
        issuer_name=ctx.issuer_name,
        holder=row.holder,
        license_type=ctx.license_type,
        fields=row.fields,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=[
            StatusSlot("revocation", status_base + row.revocation_list_id, row.status_index),
            StatusSlot("suspension", status_base + row.suspension_list_id, row.status_index),
        ],
    )


class Work(Protocol):
    """Where a batch's CPU work runs."""

    async def validate(
        self, lt: LicenseType, columns: Any, now: datetime, records: list[tuple[int, list[str]]]
    ) -> list[ValidRow | Failure]: ...

    async def sign(self, ctx: SigningContext, rows: list[Numbered], signer: Signer) -> list[Signed | Failure]: ...

    def close(self) -> None: ...


class InProcess:
    """In the calling thread: for jobs inside the server, small batches and the tests."""

    async def validate(
        self, lt: LicenseType, columns: Any, now: datetime, records: list[tuple[int, list[str]]]
    ) -> list[ValidRow | Failure]:
        return validate_rows(lt, columns, now, records)

    async def sign(self, ctx: SigningContext, rows: list[Numbered], signer: Signer) -> list[Signed | Failure]:
        return sign_rows(ctx, rows, signer)

    def close(self) -> None:
        pass


# --- the pool --------------------------------------------------------------------------------------------

_provider: KeyProvider | None = None
_signers: dict[tuple[str, bytes], Signer] = {}


def _init_worker(master_key_file: str) -> None:
    global _provider
    _provider = SealedKeyProvider(MasterKey.load_or_create(Path(master_key_file)))


def _worker_sign(ctx: SigningContext, rows: list[Numbered]) -> list[Signed | Failure]:
    assert _provider is not None, "bulk worker used before its initializer ran"
    signer = _signers.get((ctx.seal_ref, ctx.sealed))
    if signer is None:
        signer = _provider.load(ctx.seal_ref, ctx.verification_method, ctx.sealed)
        if signer.public_key != ctx.public_key:  # a different master key file than the main process's
            raise SigningError(f"bulk worker unsealed {ctx.seal_ref} to a different key")
        _signers[(ctx.seal_ref, ctx.sealed)] = signer
    return sign_rows(ctx, rows, signer)


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    size = -(-len(items) // parts)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _ready() -> int:
    return os.getpid()


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """A spawned process first re-runs its parent's ``__main__``: for ``registry issue-batch`` the whole CLI,
    ~60 MB per worker that needs only this module. Workers started inside this block skip that."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class Pooled:
    """Spawned worker processes, each given a share of every chunk. The main process keeps the database."""

    def __init__(self, master_key_file: Path, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(str(master_key_file),),
        )
        # Start them all now (the pool would start them one per submit, later) without the parent's __main__.
        with _main_module_hidden():
            started = [self._pool.submit(_ready) for _ in range(self.workers)]
        for future in started:
            future.result()

    async def _map(self, fn: Any, head: tuple[Any, ...], items: list[Any]) -> list[Any]:
        if not items:
            return []
        loop = asyncio.get_running_loop()
        parts = await asyncio.gather(
            *(loop.run_in_executor(self._pool, fn, *head, part) for part in _split(items, self.workers))
        )
        return [item for part in parts for item in part]

    async def validate(
        self, lt: LicenseType, columns: Any, now: datetime, records: list[tuple[int, list[str]]]
    ) -> list[ValidRow | Failure]:
        return await self._map(validate_rows, (lt, columns, now), records)

    async def sign(self, ctx: SigningContext, rows: list[Numbered], signer: Signer) -> list[Signed | Failure]:
        # ``signer`` stays here: the workers unseal the key from ``ctx`` (and check it is the same key).
        return await self._map(_worker_sign, (ctx,), rows)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
