"""Finding a department's own licences: by 证照标识, by the holder's ID number, or by the start of the
holder's name — newest first, a bounded page. Used by ``GET /api/v1/licenses`` and the console page.

One query answers all three ways at once: an officer at the console types whatever the applicant in front
of them hands over, and need not say which kind of text it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select

from registry import errors
from registry.auth.tokens import Principal
from registry.context import Registry
from registry.licenses.credentials import vc_time
from registry.licenses.schemas import HolderOut
from registry.licenses.service import STATUS_CODES, effective_status
from registry.models import License
from verification.identifiers import LICENSE_ID_PREFIX

MAX_QUERY: Final = 100
DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100
# A partial 证照标识 (pasted without its version or check character) is searched as a prefix, but only
# once it names at least the type: a bare "1.2.156.3005.2." would match every licence of the department.
_MIN_IDENTIFIER_PREFIX: Final = len(LICENSE_ID_PREFIX) + 21
_LIKE_ESCAPE: Final = "\\"


class LicenseSummary(BaseModel):
    """One licence in a list: enough to recognise it, without the credential (fetch that by identifier)."""

    identifier: str
    type: str
    type_name: str
    type_name_en: str
    version: int
    status: str
    status_code: str
    holder: HolderOut
    valid_from: str
    valid_until: str | None
    issued_at: str
    previous_identifier: str | None


def clean_query(q: str | None) -> str:
    """The text to look for: stripped; control characters refused (they never occur in names or numbers)."""
    text = (q or "").strip()
    if len(text) > MAX_QUERY:
        raise errors.ValidationFailed(
            f"查询内容不超过 {MAX_QUERY} 个字符 / The search text is at most {MAX_QUERY} characters", field="q"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise errors.ValidationFailed("查询内容含有控制字符 / The search text contains control characters", field="q")
    return text


def _like_prefix(text: str) -> str:
    escaped = text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", f"{_LIKE_ESCAPE}%")
    return escaped.replace("_", f"{_LIKE_ESCAPE}_") + "%"


def _matches(text: str) -> ColumnElement[bool]:
    upper = text.upper()
    ways = [
        col(License.identifier) == upper,
        col(License.holder_id_number) == upper,
        # lower() on both sides: SQLite's LIKE ignores ASCII case and PostgreSQL's does not; same answer on both.
        func.lower(col(License.holder_name)).like(_like_prefix(text.lower()), escape=_LIKE_ESCAPE),
    ]
    if upper.startswith(LICENSE_ID_PREFIX) and len(upper) >= _MIN_IDENTIFIER_PREFIX:
        ways.append(col(License.identifier).like(_like_prefix(upper), escape=_LIKE_ESCAPE))
    return or_(*ways)


async def search(reg: Registry, principal: Principal, q: str | None, limit: int = DEFAULT_LIMIT) -> list[License]:
    """The caller's own licences matching ``q`` (all of them, newest first, when ``q`` is empty)."""
    principal.require_scope("licenses:read")
    if principal.kind != "org":
        raise errors.Forbidden("仅发证部门可查询证照 / Only an issuing department may search licences")
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.ValidationFailed(f"limit 应为 1–{MAX_LIMIT} / limit must be 1–{MAX_LIMIT}", field="limit")
    text = clean_query(q)
    query = select(License).where(col(License.issuer_code) == principal.subject)
    if text:
        query = query.where(_matches(text))
    query = query.order_by(col(License.issued_at).desc(), col(License.identifier).desc()).limit(limit)
    async with reg.db.read() as session:
        return list((await session.exec(query)).all())


def to_summary(reg: Registry, licence: License, now: datetime | None = None) -> LicenseSummary:
    lt = reg.catalog.get(licence.license_type)
    status = effective_status(licence, now or datetime.now(UTC))
    return LicenseSummary(
        identifier=licence.identifier,
        type=licence.license_type,
        type_name=lt.name,
        type_name_en=lt.name_en,
        version=licence.version,
        status=status,
        status_code=STATUS_CODES[status],
        holder=HolderOut(id_type=licence.holder_id_type, id_number=licence.holder_id_number, name=licence.holder_name),
        valid_from=vc_time(licence.valid_from),
        valid_until=vc_time(licence.valid_until) if licence.valid_until else None,
        issued_at=vc_time(licence.issued_at),
        previous_identifier=licence.previous_identifier,
    )
