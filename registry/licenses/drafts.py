"""What a licence is before it is numbered and signed: a validated draft and its validity window. Plain
functions, no database: bulk issuance runs them in worker processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from registry import errors
from registry.licence_types import HolderRef, LicenseType


def parse_time(value: str, field: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an RFC 3339 timestamp with a zone; whole seconds are kept."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.ValidationFailed(
            f"{field} 日期格式错误，应为 YYYY-MM-DD / {field} must be YYYY-MM-DD or RFC 3339", field=field
        ) from exc
    if parsed.tzinfo is None:
        raise errors.ValidationFailed(f"{field} 须带时区 / {field} needs a time zone", field=field)
    return parsed.astimezone(UTC).replace(microsecond=0)


def add_years(value: datetime, years: int) -> datetime:
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February into a common year
        return value.replace(year=value.year + years, day=28)


def check_window(valid_from: datetime, valid_until: datetime | None) -> None:
    if not 1900 <= valid_from.year <= 9000 or (valid_until is not None and valid_until.year > 9000):
        raise errors.ValidationFailed("有效期超出范围 / Validity out of range", field="valid_from")
    if valid_until is not None and valid_until <= valid_from:
        raise errors.ValidationFailed(
            "有效期截止须晚于起始 / valid_until must be after valid_from", field="valid_until"
        )


def validity_window(
    lt: LicenseType, valid_from_text: str | None, valid_until_text: str | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """From the given date (default: today) until the given date (default: the template's validity)."""
    valid_from = parse_time(valid_from_text, "valid_from") if valid_from_text else today(now)
    check_window(valid_from, None)
    if valid_until_text:
        valid_until: datetime | None = parse_time(valid_until_text, "valid_until")
    elif lt.default_validity_years:
        valid_until = add_years(valid_from, lt.default_validity_years)
    else:
        valid_until = None
    check_window(valid_from, valid_until)
    return valid_from, valid_until


def today(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(), tzinfo=UTC)


def check_may_issue(role: str, license_types: str, lt: LicenseType) -> None:
    """A department issues only the types it was registered for (``license_types``: comma-separated)."""
    if role != "issuer" or lt.type not in license_types.split(","):
        raise errors.LicenseTypeNotAllowed(
            f"本部门无权签发「{lt.name}」/ This department may not issue {lt.name_en}", license_type=lt.type
        )


@dataclass(frozen=True)
class Draft:
    """A validated licence to sign: its type, holder, fields and validity window."""

    lt: LicenseType
    holder: HolderRef
    fields: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None
