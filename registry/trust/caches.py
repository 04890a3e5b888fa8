"""In-memory copies of status bits and department keys for the scan path, kept current through the database.

A worker answers a scan from memory. Before it does, it asks the database (at most every
``cache_poll_seconds``) whether the "status" or "keys" counter moved; a change made through any worker
bumps the counter in the same transaction, so every worker sees it within that interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import counters
from registry.db import Database
from registry.models import License, Organisation, SigningKey, StatusList
from registry.settings import Settings
from signing.keys import Signer
from signing.multikey import multikey_to_public_key
from verification.status_list import bit_at
from verification.verifier import Freshness, KeyInfo, StatusAnswer


@dataclass(frozen=True)
class Published:
    """A document the registry signed for the public, and until when it may be served from memory."""

    document: dict[str, Any]
    version: int
    expires: datetime

    def max_age(self, now: datetime) -> int:
        return max(0, int((self.expires - now).total_seconds()))


log = logging.getLogger("registry.caches")


@dataclass
class TrustPublisher:
    """Per-process cache of signed status lists and the trust list, re-signed when they change or age."""

    status_lists: dict[str, Published] = field(default_factory=dict)
    trust_list: Published | None = None
    trust_signer: Signer | None = None


@dataclass(frozen=True)
class IssuanceFacts:
    """What a scan needs from a licence's issuance record. None of it ever changes (its status lives in the
    status lists), so a copy in memory is never stale."""

    identifier: str
    issued_at: datetime
    proof_values: frozenset[str]  # of the credential and of its compact form: what the registry signed
    full_jcs: str | None  # the full credential, kept only when the QR carries the compact form

    @classmethod
    def of(cls, licence: License) -> IssuanceFacts:
        docs = [licence.credential_jcs, licence.compact_jcs or ""]
        proofs = frozenset(json.loads(doc)["proof"]["proofValue"] for doc in docs if doc)
        full = licence.credential_jcs if licence.compact_jcs else None
        return cls(licence.identifier, licence.issued_at, proofs, full)


ISSUANCE_CACHE_SIZE = 20_000  # licences; ~1 KB each, a few KB for the compact ones


@dataclass
class RegistryCaches:
    settings: Settings
    status_bits: dict[str, bytes] = field(default_factory=dict)
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    # The most recently scanned licences' issuance facts, least recently used first.
    issuance: OrderedDict[str, IssuanceFacts] = field(default_factory=OrderedDict)
    _status_seen: int = -1
    _keys_seen: int = -1
    _last_poll: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Changes this worker committed (expire() counts them) and how many the last poll has seen.
    _changes: int = 0
    _changes_seen: int = 0
    _polling: asyncio.Task[None] | None = None  # the routine poll running beside the scans, if any

    def expire(self) -> None:
        """This worker just committed a status or key change: the next scan must see it, not wait for a poll."""
        self._changes += 1

    async def refresh(self, db: Database, *, force: bool = False, session: AsyncSession | None = None) -> None:
        own_change = self._changes != self._changes_seen
        if force or own_change:  # the caller must see the latest: it waits for the poll
            await self._poll(db, session, force=force)
            return
        if time.monotonic() - self._last_poll >= self.settings.cache_poll_seconds and not self._lock.locked():
            # A routine poll: nobody waits for it (a scan that did stalled the worker's p99); scans answer from
            # what is held meanwhile, at most one poll interval old, as before.
            self._last_poll = time.monotonic()
            self._polling = asyncio.get_running_loop().create_task(self._poll_quietly(db))

    async def stop(self) -> None:
        """Let a routine poll in flight finish (before the database goes away)."""
        if self._polling is not None:
            await asyncio.gather(self._polling, return_exceptions=True)

    async def _poll_quietly(self, db: Database) -> None:
        try:
            await self._poll(db, None, force=True)
        except Exception:  # the next poll retries; scans go on with what is held
            log.exception("could not refresh the trust caches")

    async def _poll(self, db: Database, session: AsyncSession | None, *, force: bool) -> None:
        async with self._lock:
            target = self._changes
            due = time.monotonic() - self._last_poll >= self.settings.cache_poll_seconds
            if not (force or target != self._changes_seen or due):
                return
            async with db.read_within(session) as session:
                seen = await counters.read_all(session)
                if seen.get(counters.STATUS, 0) != self._status_seen:
                    rows = await session.exec(
                        select(StatusList.id, StatusList.bits).where(col(StatusList.version) > self._status_seen)
                    )
                    for list_id, bits in rows.all():
                        self.status_bits[list_id] = bits
                    self._status_seen = seen.get(counters.STATUS, 0)
                if seen.get(counters.KEYS, 0) != self._keys_seen:
                    rows2 = await session.exec(
                        select(SigningKey, Organisation).where(col(SigningKey.org_code) == col(Organisation.code))
                    )
                    infos = [self._key_info(key, org) for key, org in rows2.all()]
                    self.keys = {info.verification_method: info for info in infos}
                    self._keys_seen = seen.get(counters.KEYS, 0)
            self._last_poll = time.monotonic()
            self._changes_seen = target

    async def load_lists(self, db: Database, list_ids: set[str], session: AsyncSession | None = None) -> None:
        """Lists created since the last refresh (all bits clear, version 0) are fetched on first use."""
        missing = list_ids - self.status_bits.keys()
        if not missing:
            return
        async with db.read_within(session) as session:
            rows = await session.exec(select(StatusList.id, StatusList.bits).where(col(StatusList.id).in_(missing)))
            for list_id, bits in rows.all():
                self.status_bits.setdefault(list_id, bits)

    async def load_key(self, db: Database, verification_method: str, session: AsyncSession | None = None) -> None:
        """A key made since the last refresh (a new department, a rotation) is fetched on first use."""
        if verification_method in self.keys:
            return
        ours = self.settings.parse_key_id(verification_method)
        if ours is None:
            return
        async with db.read_within(session) as session:
            row = (
                await session.exec(
                    select(SigningKey, Organisation).where(
                        col(SigningKey.org_code) == ours[0],
                        col(SigningKey.key_ref) == ours[1],
                        col(SigningKey.org_code) == col(Organisation.code),
                    )
                )
            ).first()
        if row is not None:
            self.keys[verification_method] = self._key_info(*row)

    async def issuance_facts(
        self, db: Database, identifier: str, session: AsyncSession | None = None
    ) -> IssuanceFacts | None:
        """The facts of a licence this registry issued, from memory when scanned lately, else its record."""
        facts = self.issuance.get(identifier)
        if facts is not None:
            self.issuance.move_to_end(identifier)
            return facts
        async with db.read_within(session) as session:
            licence = await session.get(License, identifier)
        if licence is None:
            return None  # not remembered: the identifier may yet be issued
        facts = IssuanceFacts.of(licence)
        self.issuance[identifier] = facts
        if len(self.issuance) > ISSUANCE_CACHE_SIZE:
            self.issuance.popitem(last=False)
        return facts

    def list_id(self, list_url: str) -> str | None:
        prefix = self.settings.status_list_prefix
        return list_url[len(prefix) :] if list_url.startswith(prefix) else None

    def _key_info(self, key: SigningKey, org: Organisation) -> KeyInfo:
        return KeyInfo(
            verification_method=self.settings.key_id(org.code, key.key_ref),
            public_key=multikey_to_public_key(key.public_key_multibase),
            issuer_id=self.settings.department_did(org.code),
            issuer_code=org.code,
            issuer_name=org.name,
            state=key.state,
            valid_from=key.created_at,
            valid_until=key.retired_at,
            compromised_at=key.compromised_at,
            registry_id=self.settings.registry_id,
            registry_name=self.settings.registry_name,
        )


class CachedTrust:
    """``TrustSource`` over the registry's own department keys (online: the database is the trust list)."""

    def __init__(self, caches: RegistryCaches) -> None:
        self._caches = caches

    def key(self, verification_method: str) -> KeyInfo | None:
        return self._caches.keys.get(verification_method)

    def freshness(self, now: datetime) -> Freshness | None:
        return Freshness(as_of=now, age_seconds=0.0, stale=False, source="registry")


class CachedStatus:
    """``StatusSource`` over the in-memory bits of this registry's lists; other registries' lists are unknown."""

    def __init__(self, caches: RegistryCaches) -> None:
        self._caches = caches

    def status(self, list_url: str, index: int, purpose: str, now: datetime) -> StatusAnswer:
        list_id = self._caches.list_id(list_url)
        # Our list ids name their purpose ("<org>-revocation-1"): an entry pointing at the wrong list is unknown.
        if list_id is None or f"-{purpose}-" not in list_id:
            return StatusAnswer(set=None, as_of=None, stale=False)
        bits = self._caches.status_bits.get(list_id)
        if bits is None or not 0 <= index < len(bits) * 8:
            return StatusAnswer(set=None, as_of=None, stale=False)
        # Our list ids start with the department's code: the verifier ignores a bit from another issuer.
        issuer_id = self._caches.settings.department_did(list_id.split("-", 1)[0])
        return StatusAnswer(set=bit_at(bits, index), as_of=now, stale=False, issuer_id=issuer_id)
