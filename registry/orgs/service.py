"""Organisations (departments and agencies), their client credentials and their signing keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import counters, errors
from registry.context import Registry
from registry.models import Organisation, SigningKey
from signing.keys import Signer
from signing.multikey import public_key_to_multikey
from verification.identifiers import IdentifierError, validate_uscc

ROLES = ("issuer", "agency")


@dataclass(frozen=True)
class NewOrganisation:
    code: str
    name: str
    role: str
    license_types: list[str]
    client_id: str
    client_secret: str  # shown once; only its hash is stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def _check_org_input(reg: Registry, code: str, name: str, role: str, license_types: list[str]) -> str:
    try:
        code = validate_uscc(code)
    except IdentifierError as exc:
        raise errors.ValidationFailed(f"机构代码无效 / Invalid organisation code: {exc}") from exc
    if not name.strip() or len(name) > 200:
        raise errors.ValidationFailed("机构名称须为 1–200 字 / Organisation name must be 1–200 characters")
    if role not in ROLES:
        raise errors.ValidationFailed(f"角色须为 issuer 或 agency / Role must be issuer or agency, got {role!r}")
    for t in license_types:
        reg.catalog.get(t)
    if role == "issuer" and not license_types:
        raise errors.ValidationFailed("发证部门须至少可签发一类证照 / An issuer needs at least one licence type")
    if role == "agency" and license_types:
        raise errors.ValidationFailed("办事机构不签发证照 / An agency issues no licences")
    return code


async def create_organisation(
    reg: Registry, *, code: str, name: str, role: str, license_types: list[str]
) -> NewOrganisation:
    """Register an organisation; an issuer also gets its first signing key. All in one transaction."""
    code = _check_org_input(reg, code, name, role, license_types)
    secret = secrets.token_urlsafe(32)
    async with reg.db.transaction() as session:
        if await session.get(Organisation, code) is not None:
            raise errors.OrganisationExists(f"机构 {code} 已存在 / Organisation {code} already exists")
        org = Organisation(
            code=code,
            name=name.strip(),
            role=role,
            license_types=",".join(license_types),
            client_id=code,
            client_secret_hash=hash_secret(secret),
        )
        session.add(org)
        await session.flush()
        if role == "issuer":
            await create_signing_key(reg, session, code)
    return NewOrganisation(code, org.name, role, license_types, org.client_id, secret)


async def reset_client_secret(reg: Registry, code: str) -> str:
    secret = secrets.token_urlsafe(32)
    async with reg.db.transaction() as session:
        org = await session.get(Organisation, code)
        if org is None:
            raise errors.OrganisationNotFound(f"机构 {code} 不存在 / No organisation {code}")
        org.client_secret_hash = hash_secret(secret)
        session.add(org)
    return secret


async def create_signing_key(reg: Registry, session: AsyncSession, org_code: str) -> SigningKey:
    """Make the department's next key ("key-N"); the caller's transaction decides whether it lands."""
    count = (
        await session.exec(select(func.count()).select_from(SigningKey).where(SigningKey.org_code == org_code))
    ).one()
    key_ref = f"key-{count + 1}"
    generated = reg.key_provider.generate(seal_ref(org_code, key_ref), reg.settings.key_id(org_code, key_ref))
    key = SigningKey(
        org_code=org_code,
        key_ref=key_ref,
        public_key_multibase=public_key_to_multikey(generated.public_key),
        sealed_secret=generated.sealed,
    )
    session.add(key)
    await session.flush()
    await counters.bump(session, counters.KEYS)
    return key


async def rotate_key(reg: Registry, org_code: str) -> SigningKey:
    """A new active key; the old one retires but stays trusted for what it signed while active."""
    now = datetime.now(UTC)  # exact: ordered against issuance times
    async with reg.db.transaction() as session:
        org = await session.get(Organisation, org_code, with_for_update=True)  # one rotation at a time
        if org is None or org.role != "issuer":
            raise errors.ValidationFailed(f"{org_code} 不是发证部门 / {org_code} is not an issuing department")
        for key in await keys_of(session, org_code):
            if key.state == "active":
                key.state, key.retired_at = "retired", now
                session.add(key)
        new = await create_signing_key(reg, session, org_code)
    reg.caches.expire()  # this worker's next scan sees the new key state at once
    return new


async def revoke_key(reg: Registry, org_code: str, key_ref: str, compromised_at: datetime) -> SigningKey:
    """Mark a key compromised since ``compromised_at``: what it signed after then verifies as key_revoked.

    Judged from the registry's issuance records, not from the proof's own ``created``, which whoever holds
    the stolen key can backdate. A compromised active key is replaced at once.
    """
    now = datetime.now(UTC)
    if compromised_at > now:
        raise errors.ValidationFailed("泄露时间不能晚于现在 / The compromise time cannot be in the future")
    async with reg.db.transaction() as session:
        await session.get(Organisation, org_code, with_for_update=True)
        keys = {k.key_ref: k for k in await keys_of(session, org_code)}
        key = keys.get(key_ref)
        if key is None:
            raise errors.NotFound(f"部门 {org_code} 没有密钥 {key_ref} / Department {org_code} has no key {key_ref}")
        if key.state == "revoked":
            raise errors.Conflict(f"密钥 {key_ref} 已吊销 / Key {key_ref} is already revoked")
        was_active = key.state == "active"
        key.state, key.compromised_at = "revoked", compromised_at
        key.retired_at = key.retired_at or now
        session.add(key)
        await session.flush()
        if was_active:
            await create_signing_key(reg, session, org_code)
        else:
            await counters.bump(session, counters.KEYS)
    reg.caches.expire()
    return key


def seal_ref(org_code: str, key_ref: str) -> str:
    # Bound into the seal as associated data: a sealed secret copied onto another key record will not open.
    return f"{org_code}#{key_ref}"


async def active_key(session: AsyncSession, org_code: str) -> SigningKey:
    key = (
        await session.exec(
            select(SigningKey)
            .where(SigningKey.org_code == org_code, SigningKey.state == "active")
            .order_by(col(SigningKey.id).desc())
        )
    ).first()
    if key is None:
        raise errors.NoActiveKey(f"部门 {org_code} 没有可用的签名密钥 / Department {org_code} has no active key")
    return key


def signer_for(reg: Registry, key: SigningKey) -> Signer:
    assert key.id is not None
    signer = reg.signers.get(key.id)
    if signer is None:
        signer = reg.key_provider.load(
            seal_ref(key.org_code, key.key_ref), reg.settings.key_id(key.org_code, key.key_ref), key.sealed_secret
        )
        reg.signers[key.id] = signer
    return signer


async def get_organisation(session: AsyncSession, code: str) -> Organisation:
    org = await session.get(Organisation, code)
    if org is None:
        raise errors.OrganisationNotFound(f"机构 {code} 不存在 / No organisation {code}")
    return org


async def keys_of(session: AsyncSession, org_code: str) -> list[SigningKey]:
    return list(
        (
            await session.exec(select(SigningKey).where(SigningKey.org_code == org_code).order_by(col(SigningKey.id)))
        ).all()
    )
