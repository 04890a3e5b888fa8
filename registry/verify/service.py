"""Online verification: the framework-free verifier, fed from the registry's memory and its records.

Any scanned string gets a verdict. The trust source is the registry's own department keys; status comes
from in-memory bits kept current through the database; for licences this registry issued, its issuance
record (not the proof's ``created``) decides key compromise, and the full credential is at hand to match a
compact QR.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.context import Registry
from registry.federation.transfers import where_moved
from registry.models import License
from registry.rendering.qr import decode_qr_image
from registry.trust.caches import CachedStatus, CachedTrust, IssuanceFacts
from signing.data_integrity import verify_proof
from signing.errors import SigningError
from verification.payload import PayloadError, decode_payload
from verification.trust_list import TrustList
from verification.verifier import SnapshotStatus, TrustListSource, Verifier


class _Records:
    """``IssuanceRecords`` and ``FullCredentialSource`` for the one credential being checked.

    The issuance record vouches only for the credential the registry actually signed: one that borrows a
    real licence's id but carries another proof (a forgery with a stolen key) has no record.
    """

    def __init__(self, facts: IssuanceFacts | None, presented: dict[str, Any] | None) -> None:
        self._facts = facts
        self._id = presented.get("id") if presented is not None else None
        proof = presented.get("proof") if presented is not None else None
        self._proof_value = proof.get("proofValue") if isinstance(proof, dict) else None

    def issued_at(self, credential_id: str) -> datetime | None:
        facts = self._facts
        if facts is None or credential_id != self._id or self._proof_value not in facts.proof_values:
            return None
        return facts.issued_at

    def full(self, credential_id: str) -> Mapping[str, Any] | None:
        if self._facts is None or self._facts.full_jcs is None or credential_id != self._id:
            return None
        loaded: dict[str, Any] = json.loads(self._facts.full_jcs)
        return loaded


def _peek(payload: str | None, credential: object) -> dict[str, Any] | None:
    """Look inside first, to fetch what the verifier will ask about; the verifier reuses the decoded payload."""
    if payload is not None:
        try:
            return decode_payload(payload)
        except PayloadError:
            return None
    return credential if isinstance(credential, dict) else None


async def verify(
    reg: Registry, *, payload: str | None = None, credential: object = None, session: AsyncSession | None = None
) -> dict[str, Any]:
    """``session``: the caller's, when it verifies inside its own transaction (a window's pull)."""
    await reg.caches.refresh(reg.db, session=session)
    doc = _peek(payload, credential)
    facts: IssuanceFacts | None = None
    identifier: str | None = None
    peer: TrustList | None = None
    urls: set[str] = set()
    if doc is not None:
        if isinstance(doc.get("id"), str) and doc["id"].startswith(f"{reg.settings.base_url}/licenses/"):
            identifier = doc["id"].rsplit("/", 1)[1][:100]
            facts = await reg.caches.issuance_facts(reg.db, identifier, session)
        proof = doc.get("proof")
        method = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if isinstance(method, str):
            await reg.caches.load_key(reg.db, method, session)
            if method not in reg.caches.keys:  # not one of ours: perhaps a pinned peer's (跨省通办)
                peer = await reg.peers.trust_list_for(reg, method)
        status = doc.get("credentialStatus")
        entries = status if isinstance(status, list) else [status]
        urls = {
            e["statusListCredential"]
            for e in entries[:8]
            if isinstance(e, dict) and isinstance(e.get("statusListCredential"), str)
        }
        list_ids = {reg.caches.list_id(url) for url in urls}
        await reg.caches.load_lists(reg.db, {i for i in list_ids if i}, session)
    records = _Records(facts, doc)
    if peer is not None:
        # A peer's licence: its keys from the peer's pinned trust list, its status from the peer's own lists
        # (fetched, verified, cached; stale ones said so). The peer's issuance records are not ours to see.
        # Only a credential the peer's key really signed makes us call the peer: a forged one naming the peer's
        # key and made-up status lists must not turn scans into requests to it.
        snapshots = await reg.peers.status_lists(reg, peer, urls) if _signed_by(doc, peer) else []
        verifier = Verifier(TrustListSource(peer), SnapshotStatus(snapshots, peer.status_list_max_age))
    else:
        verifier = Verifier(CachedTrust(reg.caches), CachedStatus(reg.caches), issuance=records, full=records)
    if payload is not None:
        result = verifier.check_payload(payload, decoded=doc if isinstance(doc, dict) else None)
    else:
        result = verifier.check_credential(credential)
    out: dict[str, Any] = result.to_dict()
    out.pop("full_credential", None)  # matched, not disclosed: the scanner learns only what the QR carries
    out.pop("credential", None)  # the scanner holds it already; `license` is what it asked for
    summary = out.get("license")
    if isinstance(summary, dict) and summary.get("type") in reg.catalog:
        summary["type_name"] = reg.catalog.get(summary["type"]).name
        summary["type_name_en"] = reg.catalog.get(summary["type"]).name_en
    # A renewed, amended or transferred licence's old version reads revoked in its status list; say why, and
    # where a transferred one went (办理转出: another region's registry now holds it).
    if isinstance(summary, dict) and facts is not None and out.get("verdict") == "revoked":
        status = await _status_of(reg, facts.identifier, session)
        if status in ("superseded", "transferred"):
            summary["status"] = status
        if status == "transferred":
            async with reg.db.read_within(session) as reading:
                summary["moved_to"] = await where_moved(reg, reading, facts.identifier)
    out["mode"] = "online"
    out["registry"] = {"id": reg.settings.registry_id, "name": reg.settings.registry_name}
    out["issuing_registry"] = (
        {"id": peer.registry_id, "name": peer.registry_name, "url": peer.base_url}
        if peer is not None
        else out["registry"]
        if out.get("license")
        else None
    )
    return out


def _signed_by(doc: dict[str, Any] | None, peer: TrustList) -> bool:
    proof = doc.get("proof") if doc is not None else None
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    key = peer.keys.get(method) if isinstance(method, str) else None
    if doc is None or key is None:
        return False
    try:
        verify_proof(doc, key.public_key)
    except SigningError:
        return False
    return True


async def _status_of(reg: Registry, identifier: str, session: AsyncSession | None) -> str | None:
    async with reg.db.read_within(session) as reading:
        licence = await reading.get(License, identifier)
    return licence.status if licence is not None else None


async def verify_image(reg: Registry, image: bytes) -> dict[str, Any]:
    """Find the QR code in a photo or scan, then verify what it says; no readable code is ``malformed``."""
    try:
        texts = await anyio.to_thread.run_sync(decode_qr_image, image)
    except ValueError as exc:
        return await _no_code(reg, f"无法读取图片 / Not a readable image: {exc}")
    if not texts:
        return await _no_code(reg, "图片中未找到二维码 / No QR code found in the image")
    chosen = next((t for t in texts if t.startswith("LC1:")), texts[0])
    result = await verify(reg, payload=chosen)
    result["decoded_from_image"] = True
    return result


async def _no_code(reg: Registry, detail: str) -> dict[str, Any]:
    # The verifier answers an empty scan as malformed; say why in the decode check.
    result = await verify(reg, payload="")
    for check in result["checks"]:
        if check["name"] == "decode":
            check["detail"] = detail
    result["decoded_from_image"] = False
    return result
