"""The log's tree, checkpoints and proofs, kept in the database (see registry/log/entries.py for the entries).

Entries are written by the transactions that make them; turning them into the Merkle tree is separate work,
``integrate``: it takes the committed leaves past the tree's size in order, stores the perfect-subtree nodes
they complete (verification/merkle.py) and signs a checkpoint with the registry's trust key. The server runs it
in the background, anything that answers from the tree runs it first when leaves are waiting, and
``registry log integrate`` runs it by hand. Proofs read O(log n) stored nodes, never the leaves.

``verify_log`` re-derives everything: each entry's leaf hash, every node, every checkpoint's root and
signature, and each entry against the record it commits to (and each record against its entry).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import Counter as Multiset
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import tuple_, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.context import Registry
from registry.db import insert_many
from registry.licenses.lifecycle import status_bits
from registry.log import entries as log_entries
from registry.models import (
    AccessLog,
    Counter,
    License,
    LicenseEvent,
    LogCheckpoint,
    LogEntry,
    LogNode,
    SigningKey,
    StatusList,
)
from registry.trust.service import trust_signer
from signing.keys import Signer
from verification import merkle, status_list
from verification.checkpoint import checkpoint_note, verify_checkpoint

log = logging.getLogger("registry.log")

INTEGRATE_CHUNK = 20_000  # leaves per transaction: a backlog of millions is taken in bounded steps
MAX_ENTRIES = 1_000  # per GET /api/v1/log/entries


def origin(reg: Registry) -> str:
    """The log's name in its checkpoints: its URL, so a checkpoint says which registry's log it is."""
    return f"{reg.settings.base_url}/api/v1/log"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- integrating -----------------------------------------------------------------------------------------


async def _counter(session: AsyncSession, name: str, *, lock: bool = False) -> int:
    if lock:  # a no-op UPDATE takes the row lock: one integrator at a time, across workers
        stmt = (
            update(Counter).where(col(Counter.name) == name).values(value=Counter.value).returning(col(Counter.value))
        )
        return int((await session.exec(stmt)).one()[0])
    return int((await session.exec(select(Counter.value).where(col(Counter.name) == name))).one())


async def _nodes(session: AsyncSession, coords: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    found: dict[tuple[int, int], bytes] = {}
    wanted = sorted(coords)
    for i in range(0, len(wanted), 400):
        part = wanted[i : i + 400]
        rows = await session.exec(
            select(LogNode.level, LogNode.position, LogNode.hash).where(
                tuple_(col(LogNode.level), col(LogNode.position)).in_(part)
            )
        )
        for level, position, digest in rows.all():
            found[(level, position)] = digest
    return found


async def _lookup_for(session: AsyncSession, run: Callable[[merkle.Lookup], Any]) -> merkle.Lookup:
    """The stored nodes ``run`` will ask for, fetched in one go: the tree's shape alone decides which nodes a
    root or a proof needs, so a dry run that records the requests (answering zeros) names them."""
    asked: set[tuple[int, int]] = set()

    def record(level: int, position: int) -> bytes:
        asked.add((level, position))
        return bytes(merkle.HASH_SIZE)

    run(record)
    found = await _nodes(session, asked)
    missing = asked - found.keys()
    if missing:
        raise RuntimeError(f"transparency log nodes missing from the database: {sorted(missing)[:5]}")
    return lambda level, position: found[(level, position)]


async def pending_count(reg: Registry) -> int:
    async with reg.db.read() as session:
        return await _counter(session, log_entries.LOG_NEXT) - await _counter(session, log_entries.LOG_SIZE)


async def integrate(reg: Registry, *, limit: int | None = None) -> int:
    """Integrate the committed leaves not yet in the tree; returns the tree size now. Idempotent."""
    signer = await trust_signer(reg)  # before the transaction: it may create the key in its own
    integrated = 0
    while True:
        size, done = await _integrate_chunk(reg, signer, INTEGRATE_CHUNK)
        integrated += done
        if done < INTEGRATE_CHUNK or (limit is not None and integrated >= limit):
            return size


async def _integrate_chunk(reg: Registry, signer: Signer, chunk: int) -> tuple[int, int]:
    async with reg.db.transaction() as session:
        size = await _counter(session, log_entries.LOG_SIZE, lock=True)
        rows = (
            await session.exec(
                select(LogEntry.leaf_index, LogEntry.leaf_hash)
                .where(col(LogEntry.leaf_index) >= size)
                .order_by(col(LogEntry.leaf_index))
                .limit(chunk)
            )
        ).all()
        if not rows:
            return size, 0
        for offset, (index, _) in enumerate(rows):
            if index != size + offset:  # committed entries are a gap-free prefix; anything else is damage
                raise RuntimeError(f"transparency log entry {size + offset} is missing (found {index})")
        lookup = await _lookup_for(session, lambda lk: merkle.CompactRange.resume(size, lk))
        tree = merkle.CompactRange.resume(size, lookup)
        nodes = tree.extend(digest for _, digest in rows)
        await insert_many(session, LogNode.__table__, ("level", "position", "hash"), nodes)  # type: ignore[attr-defined]
        new_size = tree.size
        await session.exec(update(Counter).where(col(Counter.name) == log_entries.LOG_SIZE).values(value=new_size))
        now = datetime.now(UTC).replace(microsecond=0)
        root = tree.root()
        note = checkpoint_note(origin(reg), new_size, root, now)
        session.add(
            LogCheckpoint(
                tree_size=new_size,
                root_hash=root,
                timestamp=now,
                origin=origin(reg),
                signature=signer.sign(note),
                key_id=signer.verification_method,
            )
        )
        return new_size, len(rows)


async def integrate_if_pending(reg: Registry) -> None:
    if await pending_count(reg) > 0:
        await integrate(reg)


@dataclass
class Integrator:
    """The server's background integration: a leaf waits at most ``every`` seconds for its checkpoint."""

    every: float = 2.0
    _task: Any = field(default=None)

    async def run(self, reg: Registry) -> None:
        while True:
            try:
                await integrate_if_pending(reg)
            except Exception:  # the next round retries; nothing is lost, the entries are committed
                log.exception("could not integrate the transparency log")
            await asyncio.sleep(self.every)


# --- reading ---------------------------------------------------------------------------------------------


def _note_of(cp: LogCheckpoint) -> bytes:
    return checkpoint_note(cp.origin, cp.tree_size, cp.root_hash, cp.timestamp)


def checkpoint_json(reg: Registry, cp: LogCheckpoint) -> dict[str, Any]:
    return {
        "tree_size": cp.tree_size,
        "root_hash": b64(cp.root_hash),
        "timestamp": cp.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signature": b64(cp.signature),
        "key_id": cp.key_id,
        "origin": cp.origin,
        "note": _note_of(cp).decode("utf-8"),
    }


async def latest_checkpoint(reg: Registry) -> dict[str, Any]:
    await integrate_if_pending(reg)
    async with reg.db.read() as session:
        cp = (await session.exec(select(LogCheckpoint).order_by(col(LogCheckpoint.tree_size).desc()).limit(1))).first()
    if cp is None:  # nothing logged yet: an empty tree, signed now
        signer = await trust_signer(reg)
        now = datetime.now(UTC).replace(microsecond=0)
        cp = LogCheckpoint(
            tree_size=0,
            root_hash=merkle.EMPTY_ROOT,
            timestamp=now,
            origin=origin(reg),
            signature=signer.sign(checkpoint_note(origin(reg), 0, merkle.EMPTY_ROOT, now)),
            key_id=signer.verification_method,
        )
    return checkpoint_json(reg, cp)


async def _size(session: AsyncSession) -> int:
    return await _counter(session, log_entries.LOG_SIZE)


def _check_size(tree_size: int | None, size: int) -> int:
    if tree_size is None:
        return size
    if not 0 < tree_size <= size:
        raise errors.LogRangeInvalid(
            f"树大小须在 1–{size} 之间 / tree_size must be between 1 and {size}", tree_size=tree_size, size=size
        )
    return tree_size


def _entry_json(row: LogEntry) -> dict[str, Any]:
    return {
        "leaf_index": row.leaf_index,
        "kind": row.kind,
        "entry": json.loads(row.content),
        "leaf_input": b64(row.content.encode("utf-8")),
        "leaf_hash": b64(row.leaf_hash),
    }


async def entries(reg: Registry, start: int, end: int) -> dict[str, Any]:
    """Leaves ``[start, end)`` of the integrated tree, at most :data:`MAX_ENTRIES`."""
    await integrate_if_pending(reg)
    async with reg.db.read() as session:
        size = await _size(session)
        if not 0 <= start < end or end - start > MAX_ENTRIES or end > size:
            raise errors.LogRangeInvalid(
                f"须 0 ≤ start < end ≤ {size} 且一次至多 {MAX_ENTRIES} 条 / need 0 ≤ start < end ≤ {size}, "
                f"at most {MAX_ENTRIES} at a time",
                start=start,
                end=end,
                size=size,
            )
        rows = await session.exec(
            select(LogEntry)
            .where(col(LogEntry.leaf_index) >= start, col(LogEntry.leaf_index) < end)
            .order_by(col(LogEntry.leaf_index))
        )
        return {"tree_size": size, "entries": [_entry_json(r) for r in rows.all()]}


async def inclusion(reg: Registry, leaf_index: int, tree_size: int | None) -> dict[str, Any]:
    await integrate_if_pending(reg)
    async with reg.db.read() as session:
        size = _check_size(tree_size, await _size(session))
        if not 0 <= leaf_index < size:
            raise errors.LogRangeInvalid(
                f"叶序号须小于树大小 {size} / leaf_index must be below tree_size {size}", leaf_index=leaf_index
            )
        return await _inclusion(session, leaf_index, size)


async def _inclusion(session: AsyncSession, leaf_index: int, size: int) -> dict[str, Any]:
    lookup = await _lookup_for(session, lambda lk: (lk(0, leaf_index), merkle.inclusion_proof(leaf_index, size, lk)))
    path = merkle.inclusion_proof(leaf_index, size, lookup)
    return {
        "leaf_index": leaf_index,
        "tree_size": size,
        "leaf_hash": b64(lookup(0, leaf_index)),
        "audit_path": [b64(h) for h in path],
    }


async def consistency(reg: Registry, first: int, second: int | None) -> dict[str, Any]:
    await integrate_if_pending(reg)
    async with reg.db.read() as session:
        size = _check_size(second, await _size(session))
        if not 0 < first <= size:
            raise errors.LogRangeInvalid(
                f"须 0 < first ≤ second ≤ {size} / need 0 < first ≤ second ≤ {size}", first=first, second=size
            )
        lookup = await _lookup_for(session, lambda lk: merkle.consistency_proof(first, size, lk))
        proof = merkle.consistency_proof(first, size, lookup)
    return {"first": first, "second": size, "consistency": [b64(h) for h in proof]}


async def licence_proof(reg: Registry, identifier: str, tree_size: int | None) -> dict[str, Any]:
    """Where a licence version's issuance sits in the log, and the path to a tree head that includes it."""
    await integrate_if_pending(reg)
    async with reg.db.read() as session:
        row = (
            await session.exec(select(LogEntry).where(col(LogEntry.kind) == "issued", col(LogEntry.ref) == identifier))
        ).first()
        if row is None:
            if await session.get(License, identifier) is None:
                raise errors.LicenseNotFound(f"证照 {identifier} 不存在 / No licence {identifier}")
            raise errors.LogEntryNotFound(f"证照 {identifier} 的签发未入日志 / issuance of {identifier} is not logged")
        size = _check_size(tree_size, await _size(session))
        if row.leaf_index >= size:
            raise errors.LogRangeInvalid(
                f"该记录在大小为 {size} 的树之后才入日志 / the entry is not in a tree of size {size}",
                leaf_index=row.leaf_index,
            )
        proof = await _inclusion(session, row.leaf_index, size)
    return {"identifier": identifier, **proof, "entry": json.loads(row.content)}


# --- verifying the whole log -----------------------------------------------------------------------------


@dataclass
class LogReport:
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < 100:
            self.problems.append(text)
        elif len(self.problems) == 100:
            self.problems.append("… (more problems not listed)")


async def verify_log(reg: Registry, *, batch: int = 50_000) -> LogReport:
    """Re-derive the log from scratch and hold it against the database; every discrepancy is reported."""
    await integrate_if_pending(reg)
    report = LogReport()
    signer = await trust_signer(reg)
    async with reg.db.read() as session:
        size = await _size(session)
        next_index = await _counter(session, log_entries.LOG_NEXT)
        tree = merkle.CompactRange()
        roots: dict[int, bytes] = {}
        wanted = {cp.tree_size: cp for cp in (await session.exec(select(LogCheckpoint))).all()}  # checkpoints by size
        seen: dict[str, Multiset[str]] = {"issued": Multiset(), "status": Multiset(), "access": Multiset()}
        key_states: dict[str, str] = {}
        expected = 0
        while True:
            rows = (
                await session.exec(
                    select(LogEntry)
                    .where(col(LogEntry.leaf_index) >= expected)
                    .order_by(col(LogEntry.leaf_index))
                    .limit(batch)
                )
            ).all()
            if not rows:
                break
            stored_nodes = await _nodes_between(session, expected, expected + len(rows))
            for row in rows:
                if row.leaf_index != expected:
                    report.problem(f"entry {expected} is missing (next is {row.leaf_index})")
                    expected = row.leaf_index
                    tree = merkle.CompactRange()  # the tree cannot be rebuilt past a hole
                content = row.content.encode("utf-8")
                if merkle.leaf_hash(content) != row.leaf_hash:
                    report.problem(f"entry {row.leaf_index}: content does not match its leaf hash")
                for level, position, digest in tree.append(merkle.leaf_hash(content)):
                    if tree.size <= size and stored_nodes.get((level, position)) != digest:
                        report.problem(f"entry {row.leaf_index}: tree node ({level}, {position}) differs")
                if tree.size in wanted:
                    roots[tree.size] = tree.root()
                _account(report, row, content, seen, key_states)
                expected += 1
                report.entries += 1
        if expected != next_index:
            report.problem(f"the log should hold {next_index} entries; it holds {expected}")
        if size > expected:
            report.problem(f"the tree claims {size} leaves; only {expected} entries exist")
        for tree_size, cp in sorted(wanted.items()):
            report.checkpoints += 1
            if roots.get(tree_size) != cp.root_hash:
                report.problem(f"checkpoint {tree_size}: its root is not the entries' root")
            try:
                verify_checkpoint(_note_of(cp), cp.signature, signer.public_key)
            except ValueError as exc:
                report.problem(f"checkpoint {tree_size}: {exc}")
        await _against_records(session, report, seen, key_states, batch)
    return report


async def _nodes_between(session: AsyncSession, start: int, end: int) -> dict[tuple[int, int], bytes]:
    """Every stored node whose leaves end inside ``[start, end)``: what appending those leaves recreates."""
    found: dict[tuple[int, int], bytes] = {}
    level = 0
    while (1 << level) <= end:
        first, last = start >> level, (end >> level) + 1
        rows = await session.exec(
            select(LogNode.position, LogNode.hash).where(
                col(LogNode.level) == level, col(LogNode.position) >= first, col(LogNode.position) < last
            )
        )
        for position, digest in rows.all():
            found[(level, position)] = digest
        level += 1
    return found


def _account(
    report: LogReport, row: LogEntry, content: bytes, seen: dict[str, Multiset[str]], key_states: dict[str, str]
) -> None:
    try:
        entry = json.loads(content)
    except ValueError:
        report.problem(f"entry {row.leaf_index}: not JSON")
        return
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if kind != row.kind:
        report.problem(f"entry {row.leaf_index}: kind {kind!r} differs from its column {row.kind!r}")
        return
    if kind in seen:
        seen[kind][content.decode("utf-8")] += 1
    elif kind == "key":
        key_states[row.ref] = content.decode("utf-8")


def _check_status(
    report: LogReport,
    licence: License,
    last_event: tuple[int, str] | None,
    bits: dict[str, bytes],
    set_bits: Multiset[str],
) -> None:
    """A licence's status is the one its last (logged) event left, and its status bits say that status: so a
    status or a bit changed directly in the database, say to un-revoke a licence, shows."""
    if last_event is None or last_event[1] != licence.status:
        logged = last_event[1] if last_event else "none"
        report.problem(f"licence {licence.identifier}: status {licence.status}, but its last event says {logged}")
    for list_id, wanted in status_bits(licence).items():
        list_bits = bits.get(list_id)
        if list_bits is None or licence.status_index >= len(list_bits) * 8:
            report.problem(f"licence {licence.identifier}: status list {list_id} or its slot is missing")
            continue
        if wanted:
            set_bits[list_id] += 1
        if status_list.bit_at(list_bits, licence.status_index) != wanted:
            report.problem(
                f"licence {licence.identifier}: its bit in {list_id} does not match its status {licence.status}"
            )


async def _against_records(
    session: AsyncSession,
    report: LogReport,
    seen: dict[str, Multiset[str]],
    key_states: dict[str, str],
    batch: int,
) -> None:
    """Each record's entry, as it would be written now, must be in the log exactly once, and nothing else; each
    licence's status and status bits must be what its events say."""
    expected: dict[str, Multiset[str]] = {"issued": Multiset(), "status": Multiset(), "access": Multiset()}
    last_events: dict[str, tuple[int, str]] = {}  # licence -> (event id, status after) of its last event
    events = await session.exec(select(LicenseEvent))
    for ev in events.all():
        if not (ev.action in log_entries.ISSUING_ACTIONS and ev.status_after == "active"):
            expected["status"][log_entries.status(ev).content.decode("utf-8")] += 1
        assert ev.id is not None
        if ev.identifier not in last_events or last_events[ev.identifier][0] < ev.id:
            last_events[ev.identifier] = (ev.id, ev.status_after)
    bits = {sl.id: sl.bits for sl in (await session.exec(select(StatusList))).all()}
    set_bits: Multiset[str] = Multiset()  # status list -> how many of its bits the licences' statuses set
    after = ""
    while True:  # in pages by identifier: a million licences' credentials are not all held at once
        page = (
            await session.exec(
                select(License).where(col(License.identifier) > after).order_by(col(License.identifier)).limit(batch)
            )
        ).all()
        if not page:
            break
        for licence in page:
            expected["issued"][log_entries.issued_licence(licence).content.decode("utf-8")] += 1
            _check_status(report, licence, last_events.get(licence.identifier), bits, set_bits)
        after = page[-1].identifier
        session.expunge_all()
    for list_id, list_bits in bits.items():
        if int.from_bytes(list_bits, "big").bit_count() != set_bits[list_id]:
            report.problem(f"status list {list_id}: bits are set that no licence's status sets")
    for record in (await session.exec(select(AccessLog))).all():
        expected["access"][log_entries.access(record).content.decode("utf-8")] += 1
    for kind, want in expected.items():
        got = seen[kind]
        for text in want - got:
            ref = json.loads(text).get({"issued": "identifier", "status": "event", "access": "record"}[kind])
            report.problem(f"{kind} {ref}: the record differs from its log entry, or has none")
        for text in got - want:
            ref = json.loads(text).get({"issued": "identifier", "status": "event", "access": "record"}[kind])
            report.problem(f"{kind} {ref}: logged, but the record is gone or was changed")
    for key in (await session.exec(select(SigningKey))).all():
        latest = key_states.get(str(key.id))
        if latest is None:
            report.problem(f"key {key.id}: not in the log")
            continue
        state = json.loads(latest)
        if state.get("state") != key.state or state.get("public_key") != key.public_key_multibase:
            report.problem(f"key {key.id}: its state or public key differs from its last log entry")


async def count_entries(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(LogEntry))).one())
