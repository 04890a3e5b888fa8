"""Staff accounts: created by the operator (``registry admin create-user``), checked at the pages' login."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from registry import errors
from registry.auth.passwords import check_password, hash_password, lock_after, refuse_if_locked, verify_password
from registry.context import Registry
from registry.models import Organisation, StaffUser

USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")


@dataclass(frozen=True)
class StaffIdentity:
    username: str
    display_name: str
    org_code: str
    org_name: str
    role: str  # the organisation's: issuer | agency


def normalise_username(username: str) -> str:
    return username.strip().lower()


async def create_user(
    reg: Registry, *, org_code: str, username: str, password: str, display_name: str = ""
) -> StaffUser:
    name = normalise_username(username)
    if not USERNAME.fullmatch(name):
        raise errors.ValidationFailed(
            "用户名须为 3–64 个小写字母、数字或 . _ -，以字母或数字开头 / "
            "A username is 3–64 lowercase letters, digits or . _ -, starting with a letter or digit"
        )
    check_password(password)
    if len(display_name) > 100:
        raise errors.ValidationFailed("姓名不超过 100 个字符 / The display name is at most 100 characters")
    hashed = await hash_password(password)
    async with reg.db.transaction() as session:
        if await session.get(Organisation, org_code) is None:
            raise errors.OrganisationNotFound(f"机构 {org_code} 不存在 / No organisation {org_code}")
        if await session.get(StaffUser, name) is not None:
            raise errors.Conflict(f"用户名 {name} 已被使用 / The username {name} is taken")
        user = StaffUser(
            username=name, org_code=org_code, display_name=display_name.strip() or name, password_hash=hashed
        )
        session.add(user)
    return user


async def authenticate(reg: Registry, username: str, password: str) -> StaffIdentity:
    """The staff member with this username and password, or ``NotAuthenticated``; failures lock the account."""
    name = normalise_username(username)[:64]
    now = datetime.now(UTC)
    async with reg.db.read() as session:
        user = await session.get(StaffUser, name)
        org = await session.get(Organisation, user.org_code) if user is not None else None
    if user is not None:
        refuse_if_locked(user.locked_until, now)
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or org is None or not ok or user.disabled_at is not None:
        if user is not None and not ok:
            async with reg.db.transaction() as session:
                row = await session.get(StaffUser, name, with_for_update=True)
                if row is not None:
                    row.failed_logins += 1
                    row.locked_until = lock_after(row.failed_logins, now)
                    session.add(row)
        raise errors.NotAuthenticated("用户名或密码错误 / Wrong username or password")
    if user.failed_logins:
        async with reg.db.transaction() as session:
            row = await session.get(StaffUser, name)
            if row is not None:
                row.failed_logins, row.locked_until = 0, None
                session.add(row)
    return StaffIdentity(user.username, user.display_name, org.code, org.name, org.role)
