"""Passwords of people who log in (holders and staff): argon2id hashes and lock-out after failures."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from registry import errors

# argon2id with the library's RFC 9106 "low memory" profile: ~50 ms on this machine, 64 MiB.
_HASHER = PasswordHasher()
MAX_FAILURES = 5  # then the account waits, doubling from LOCK_BASE up to LOCK_MAX
LOCK_BASE = timedelta(seconds=30)
LOCK_MAX = timedelta(minutes=15)
# Checked against when the account does not exist, so timing does not reveal who has one.
DUMMY_HASH = _HASHER.hash("not-a-password")


def check_password(password: str) -> None:
    if not 8 <= len(password) <= 128:
        raise errors.ValidationFailed("密码须为 8–128 个字符 / The password must be 8–128 characters")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_HASHER.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Hash ``password`` against ``stored`` (or a dummy when there is no account) off the event loop."""
    ok = await anyio.to_thread.run_sync(_verify, stored or DUMMY_HASH, password[:128])
    return ok and stored is not None


def refuse_if_locked(locked_until: datetime | None, now: datetime) -> None:
    if locked_until is not None and locked_until > now:
        wait = int((locked_until - now).total_seconds()) + 1
        raise errors.RateLimited(
            f"登录失败次数过多，请 {wait} 秒后再试 / Too many failed logins; try again in {wait} s",
            retry_after=wait,
        )


def lock_after(failed_logins: int, now: datetime) -> datetime | None:
    """When an account with ``failed_logins`` consecutive failures may try again (``None``: at once)."""
    if failed_logins < MAX_FAILURES:
        return None
    wait: timedelta = min(LOCK_MAX, LOCK_BASE * 2 ** (failed_logins - MAX_FAILURES))
    return now + wait
