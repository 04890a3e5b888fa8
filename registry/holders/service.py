"""Holders: accounts, login (the built-in identity provider), and agents (代办) who act for them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, select

from registry import errors
from registry.auth.passwords import check_password, hash_password, lock_after, refuse_if_locked, verify_password
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.holders.identity import HolderIdentity
from registry.licence_types import validate_holder
from registry.models import AgentGrant, Holder


class PasswordIdentityProvider:
    """ID number and argon2id password, with throttling: repeated failures lock the account for a while."""

    def __init__(self, reg: Registry) -> None:
        self._reg = reg

    async def authenticate(self, id_number: str, password: str) -> HolderIdentity:
        id_number = id_number.strip().upper()[:32]
        now = datetime.now(UTC)
        async with self._reg.db.read() as session:
            holder = await session.get(Holder, id_number)
        if holder is not None:
            refuse_if_locked(holder.locked_until, now)
        ok = await verify_password(holder.password_hash if holder else None, password)
        if holder is None or not ok:
            if holder is not None:
                await self._record_failure(holder.id_number, now)
            raise errors.NotAuthenticated("证件号码或密码错误 / Wrong ID number or password")
        if holder.failed_logins:
            async with self._reg.db.transaction() as session:
                row = await session.get(Holder, holder.id_number)
                if row is not None:
                    row.failed_logins, row.locked_until = 0, None
                    session.add(row)
        return HolderIdentity(holder.id_type, holder.id_number, holder.name)

    async def _record_failure(self, id_number: str, now: datetime) -> None:
        async with self._reg.db.transaction() as session:
            row = await session.get(Holder, id_number, with_for_update=True)
            if row is None:
                return
            row.failed_logins += 1
            row.locked_until = lock_after(row.failed_logins, now)
            session.add(row)


async def create_holder(reg: Registry, *, id_number: str, name: str, password: str) -> Holder:
    id_type = "uscc" if len(id_number.strip()) == 18 and not id_number.strip()[:17].isdigit() else "resident_id"
    ref = validate_holder(id_type, id_number, name, ("resident_id", "uscc"))
    check_password(password)
    hashed = await hash_password(password)
    async with reg.db.transaction() as session:
        if await session.get(Holder, ref.id_number) is not None:
            raise errors.Conflict(f"持证人 {ref.id_number} 已有账户 / Holder {ref.id_number} already has an account")
        holder = Holder(id_number=ref.id_number, id_type=ref.id_type, name=ref.name, password_hash=hashed)
        session.add(holder)
    return holder


async def get_holder(reg: Registry, id_number: str) -> Holder:
    async with reg.db.read() as session:
        holder = await session.get(Holder, id_number)
    if holder is None:
        raise errors.NotFound(f"持证人 {id_number[:32]} 没有账户 / No account for holder {id_number[:32]}")
    return holder


# --- agents (代办) ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acting:
    """Whose data a holder's request touches: their own, or a principal's through an agent grant."""

    holder_id_number: str  # whose licences
    actor_id_number: str  # who is acting
    grant_id: str | None = None

    @property
    def by_agent(self) -> bool:
        return self.grant_id is not None


async def acting_for(reg: Registry, principal: Principal, on_behalf_of: str | None, need: str = "share") -> Acting:
    """The holder a request acts for. ``need`` is "share" (make codes) or "all" (also consents, agents, log)."""
    me = principal.require_holder()
    if on_behalf_of is None or on_behalf_of.strip().upper() == me:
        return Acting(me, me)
    principal_id = on_behalf_of.strip().upper()[:32]
    now = datetime.now(UTC)
    async with reg.db.read() as session:
        grants = await session.exec(
            select(AgentGrant).where(
                col(AgentGrant.principal_id_number) == principal_id,
                col(AgentGrant.agent_id_number) == me,
                col(AgentGrant.revoked_at).is_(None),
            )
        )
        live = [g for g in grants.all() if g.valid_until > now and (need == "share" or g.scope == "all")]
    if not live:
        raise errors.Forbidden(
            f"您未获 {principal_id} 授权代办此事 / You are not authorised to act for {principal_id} here",
            on_behalf_of=principal_id,
        )
    return Acting(principal_id, me, live[0].id)


async def grant_agent(
    reg: Registry, acting: Acting, *, agent_id_number: str, scope: str, valid_until: datetime
) -> AgentGrant:
    agent_id = agent_id_number.strip().upper()
    if agent_id == acting.holder_id_number:
        raise errors.ValidationFailed("不能授权给自己 / You cannot make yourself your agent")
    if valid_until <= datetime.now(UTC):
        raise errors.ValidationFailed("授权截止时间须在将来 / valid_until must be in the future")
    await get_holder(reg, agent_id)  # only someone who can log in can act
    grant = AgentGrant(
        id=secrets.token_hex(16),
        principal_id_number=acting.holder_id_number,
        agent_id_number=agent_id,
        scope=scope,
        valid_until=valid_until,
    )
    async with reg.db.transaction() as session:
        session.add(grant)
    return grant


async def agent_grants(reg: Registry, holder_id_number: str) -> tuple[list[AgentGrant], list[AgentGrant]]:
    """(who may act for me, whom I may act for), live grants only."""
    now = datetime.now(UTC)
    async with reg.db.read() as session:
        mine = await session.exec(
            select(AgentGrant).where(
                col(AgentGrant.principal_id_number) == holder_id_number, col(AgentGrant.revoked_at).is_(None)
            )
        )
        theirs = await session.exec(
            select(AgentGrant).where(
                col(AgentGrant.agent_id_number) == holder_id_number, col(AgentGrant.revoked_at).is_(None)
            )
        )
        return [g for g in mine.all() if g.valid_until > now], [g for g in theirs.all() if g.valid_until > now]


async def revoke_agent(reg: Registry, acting: Acting, grant_id: str) -> None:
    async with reg.db.transaction() as session:
        grant = await session.get(AgentGrant, grant_id[:32])
        if grant is None or grant.principal_id_number != acting.holder_id_number or grant.revoked_at is not None:
            raise errors.NotFound(f"代办授权 {grant_id[:32]} 不存在 / No agent grant {grant_id[:32]}")
        grant.revoked_at = datetime.now(UTC)
        session.add(grant)
