"""What goes into the log, and how it gets there without any caller having to remember.

Each entry is the JCS text of a small JSON object. The registry's own records stay the source of truth; the
log commits to them, so that rewriting or deleting one afterwards shows (``registry log verify``):

- ``issued``: a licence version — identifier, issuer, type, version, the version it replaces, and the SHA-256
  of the exact credential signed;
- ``status``: a lifecycle event (suspended, reinstated, revoked, cancelled, superseded…);
- ``key``: a department key created, retired or revoked, with its public key;
- ``access``: a pull or read of someone's licences — only the SHA-256 of the access record: the log is
  public, the record holds personal data.

Entries are collected from the ORM's flushes (new licences, events, access records, keys and key state
changes) and from :func:`pending` for rows written at the driver (bulk issuance). They are appended when the
transaction commits, as its last statements (:func:`install`): the leaf indexes come from one counter row
(``log_next``), whose lock is then held only for the append and the commit. A transaction that rolls back
takes its entries and its indexes with it, so committed entries are always a gap-free prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import event, inspect, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction
from sqlmodel import col

from registry.db import driver_insert
from registry.log.content import Entry, entry, issued, sha256_b64
from registry.models import AccessLog, Counter, License, LicenseEvent, LogEntry, SigningKey
from signing.jcs import canonicalize
from verification.status_list import format_timestamp

LOG_NEXT = "log_next"
LOG_SIZE = "log_size"
_PENDING = "registry.log.pending"
# The event that creates a licence version is logged as its ``issued`` entry, not again as a status change.
ISSUING_ACTIONS = frozenset({"issue", "renew", "amend", "transfer_in"})
__all__ = [
    "Entry",
    "access",
    "access_record",
    "install",
    "issued",
    "issued_licence",
    "key",
    "pending",
    "sha256_b64",
    "status",
]


def issued_licence(licence: License) -> Entry:
    return issued(
        identifier=licence.identifier,
        issuer_code=licence.issuer_code,
        license_type=licence.license_type,
        version=licence.version,
        previous=licence.previous_identifier,
        credential_jcs=licence.credential_jcs,
        at=licence.issued_at,
    )


def status(ev: LicenseEvent) -> Entry:
    return entry(
        "status",
        str(ev.id),
        ev.at,
        event=ev.id,
        identifier=ev.identifier,
        action=ev.action,
        status_after=ev.status_after,
        related=ev.related_identifier,
    )


def key(row: SigningKey, at: datetime) -> Entry:
    return entry(
        "key",
        str(row.id),
        at,
        key=row.id,
        org=row.org_code,
        key_ref=row.key_ref,
        public_key=row.public_key_multibase,
        state=row.state,
        compromised_at=format_timestamp(row.compromised_at) if row.compromised_at else None,
    )


def access_record(row: AccessLog) -> bytes:
    """The access record as committed to: every column, JCS. Only its hash enters the (public) log."""
    values = {c.name: getattr(row, c.name) for c in AccessLog.__table__.columns}  # type: ignore[attr-defined]
    values["at"] = format_timestamp(row.at) if row.at else None
    return canonicalize(values)


def access(row: AccessLog) -> Entry:
    return entry("access", str(row.id), row.at, record=row.id, record_sha256=sha256_b64(access_record(row)))


# --- collecting and appending ----------------------------------------------------------------------------


def pending(session: Session, entries: Iterable[Entry]) -> None:
    """Entries for rows the caller wrote without the ORM; appended when the transaction commits."""
    session.info.setdefault(_PENDING, []).extend(entries)


def _collect(session: Session, _flush: UOWTransaction) -> None:
    # after_flush: new/dirty still describe what was just written, and database ids are assigned.
    found: list[Entry] = []
    for obj in session.new:
        if isinstance(obj, License):
            found.append(issued_licence(obj))
        elif isinstance(obj, LicenseEvent):
            if not (obj.action in ISSUING_ACTIONS and obj.status_after == "active"):
                found.append(status(obj))
        elif isinstance(obj, AccessLog):
            found.append(access(obj))
        elif isinstance(obj, SigningKey):
            found.append(key(obj, obj.created_at))
    for obj in session.dirty:
        if isinstance(obj, SigningKey) and inspect(obj).attrs.state.history.has_changes():
            at = obj.compromised_at if obj.state == "revoked" and obj.compromised_at else obj.retired_at
            found.append(key(obj, at or obj.created_at))
    if found:
        pending(session, found)


def _append_pending(session: Session) -> None:
    # before_commit: flush first, so whatever the transaction still holds is collected too.
    session.flush()
    entries = session.info.pop(_PENDING, None)
    if entries:
        append(session.connection(), entries)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def append(connection: Connection, entries: list[Entry]) -> int:
    """Hand out the next leaf indexes and insert the entries; returns the first index."""
    end = connection.execute(
        update(Counter)
        .where(col(Counter.name) == LOG_NEXT)
        .values(value=Counter.value + len(entries))
        .returning(col(Counter.value))
    ).scalar_one()
    start = int(end) - len(entries)
    rows = [(start + i, e.kind, e.ref, e.content.decode("utf-8"), e.leaf, e.at) for i, e in enumerate(entries)]
    sql, params = driver_insert(
        connection.dialect,
        LogEntry.__table__,  # type: ignore[attr-defined]
        ("leaf_index", "kind", "ref", "content", "leaf_hash", "at"),
        rows,
    )
    connection.exec_driver_sql(sql, params)
    return start


_installed = False


def install() -> None:
    """Listen on every session (once per process): the log cannot be forgotten by a new code path."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "before_commit", _append_pending)
    event.listen(Session, "after_rollback", _forget)
    _installed = True
