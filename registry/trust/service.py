"""Publishing trust: signed status lists, the signed trust list, and the registry's trust-list key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from registry import counters, errors
from registry.context import Registry
from registry.licenses.credentials import vc_time
from registry.models import Organisation, SigningKey, StatusList, TrustKey
from registry.orgs.service import active_key, signer_for
from registry.trust.caches import Published
from signing.data_integrity import add_proof
from signing.keys import Signer
from signing.multikey import did_key_verification_method, multikey_to_public_key, public_key_to_multikey
from verification.status_list import status_list_credential
from verification.trust_list import IssuerEntry, KeyEntry, KeyState, build_trust_list, fingerprint

TRUST_KEY_REF = "trust-1"


async def status_list_document(reg: Registry, list_id: str) -> Published:
    """The department-signed BitstringStatusListCredential, valid for ``status_list_ttl_seconds``."""
    now = datetime.now(UTC).replace(microsecond=0)
    pub = reg.publisher
    async with reg.db.read() as session:
        row = (
            await session.exec(
                select(StatusList.version, StatusList.org_code, StatusList.purpose).where(StatusList.id == list_id[:80])
            )
        ).one_or_none()
        if row is None:
            raise errors.NotFound(f"状态列表 {list_id[:80]} 不存在 / No status list {list_id[:80]}")
        version, org_code, purpose = row
        cached = pub.status_lists.get(list_id)
        # Re-sign when the bits changed, or when less than half the freshness window is left.
        ttl = reg.settings.status_list_ttl_seconds
        if cached is not None and cached.version == version and cached.max_age(now) > ttl // 2:
            return cached
        status_list = await session.get(StatusList, list_id)
        org = await session.get(Organisation, org_code)
        key = await active_key(session, org_code)
    assert status_list is not None
    assert org is not None
    unsigned = status_list_credential(
        list_url=f"{reg.settings.base_url}/status-lists/{list_id}",
        issuer={"id": reg.settings.department_did(org_code), "name": org.name},
        purpose=purpose,
        bits=status_list.bits,
        valid_from=vc_time(now),
        valid_until=vc_time(now + timedelta(seconds=ttl)),
    )
    signed = add_proof(unsigned, signer_for(reg, key), created=vc_time(now))
    published = Published(signed, version, now + timedelta(seconds=ttl))
    pub.status_lists[list_id] = published
    return published


# --- the trust list ----------------------------------------------------------------------------------------


async def trust_signer(reg: Registry) -> Signer:
    """The registry's trust-list key, made on first use (a race between workers keeps the first one)."""
    pub = reg.publisher
    if pub.trust_signer is not None:
        return pub.trust_signer
    async with reg.db.read() as session:
        row = await session.get(TrustKey, TRUST_KEY_REF)
    if row is None:
        try:
            async with reg.db.transaction() as session:
                # Its verification method is the did:key of its own public key, known only once generated.
                generated = reg.key_provider.generate(f"registry#{TRUST_KEY_REF}", "did:key")
                row = TrustKey(
                    key_ref=TRUST_KEY_REF,
                    public_key_multibase=public_key_to_multikey(generated.public_key),
                    sealed_secret=generated.sealed,
                )
                session.add(row)
        except IntegrityError:
            async with reg.db.read() as session:
                row = await session.get(TrustKey, TRUST_KEY_REF)
    assert row is not None
    vm = did_key_verification_method(multikey_to_public_key(row.public_key_multibase))
    pub.trust_signer = reg.key_provider.load(f"registry#{TRUST_KEY_REF}", vm, row.sealed_secret)
    return pub.trust_signer


async def trust_list_fingerprint(reg: Registry) -> str:
    return fingerprint((await trust_signer(reg)).public_key)


async def trust_list_document(reg: Registry) -> Published:
    now = datetime.now(UTC).replace(microsecond=0)
    pub = reg.publisher
    ttl = reg.settings.trust_list_ttl_seconds
    async with reg.db.read() as session:
        version = (await counters.read_all(session)).get(counters.KEYS, 0)
        cached = pub.trust_list
        if cached is not None and cached.version == version and cached.max_age(now) > ttl // 2:
            return cached
        rows = await session.exec(
            select(SigningKey, Organisation)
            .where(col(SigningKey.org_code) == col(Organisation.code), col(Organisation.role) == "issuer")
            .order_by(col(Organisation.code), col(SigningKey.id))
        )
        keys_by_org: dict[str, tuple[Organisation, list[KeyEntry]]] = {}
        for key, org in rows.all():
            keys_by_org.setdefault(org.code, (org, []))[1].append(
                KeyEntry(
                    id=reg.settings.key_id(org.code, key.key_ref),
                    public_key=multikey_to_public_key(key.public_key_multibase),
                    state=cast(KeyState, key.state),
                    valid_from=key.created_at,
                    valid_until=key.retired_at,
                    compromised_at=key.compromised_at,
                )
            )
    issuers = [
        IssuerEntry(code=org.code, name=org.name, did=reg.settings.department_did(org.code), keys=tuple(keys))
        for org, keys in keys_by_org.values()
    ]
    signer = await trust_signer(reg)
    unsigned = build_trust_list(
        registry_id=reg.settings.registry_id,
        registry_name=reg.settings.registry_name,
        base_url=reg.settings.base_url,
        issued=now,
        next_update=now + timedelta(seconds=ttl),
        status_list_max_age=reg.settings.status_list_ttl_seconds,
        issuers=issuers,
    )
    signed = add_proof(unsigned, signer, created=vc_time(now))
    published = Published(signed, version, now + timedelta(seconds=ttl))
    pub.trust_list = published
    return published
