"""Request and response bodies of the licence API (never the table models themselves)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class HolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_type: str = Field(max_length=16, examples=["resident_id"])
    id_number: str = Field(max_length=32, examples=["44030419900307281X"])
    name: str = Field(max_length=100, examples=["张伟"])


class LicenseCreate(BaseModel):
    """A licence to issue: the template's ``fields`` by name; dates as ``YYYY-MM-DD`` or RFC 3339."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=64, examples=["resident_id_card"])
    holder: HolderIn
    fields: dict[str, Any] = Field(max_length=200)
    valid_from: str | None = Field(default=None, max_length=40)
    valid_until: str | None = Field(default=None, max_length=40)


class LifecycleBody(BaseModel):
    """Why the department suspends, reinstates, revokes or cancels a licence (kept in its history)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, examples=["涉嫌违法经营，依法暂扣"])


class RevokeBody(LifecycleBody):
    # 撤销 (revoke: the licence should never have been granted) or 吊销 (withdraw: a penalty).
    kind: Literal["revoke", "withdraw"] = "revoke"


class RenewBody(LifecycleBody):
    valid_from: str | None = Field(default=None, max_length=40)
    valid_until: str | None = Field(default=None, max_length=40)


class AmendBody(LifecycleBody):
    """Changed fields only; the rest carry over. ``holder_name`` for a renamed company or person."""

    fields: dict[str, Any] = Field(default_factory=dict, max_length=200)
    holder_name: str | None = Field(default=None, max_length=100)
    valid_until: str | None = Field(default=None, max_length=40)


class LicenseEventOut(BaseModel):
    action: str
    reason: str
    actor: str
    status_after: str
    related_identifier: str | None
    at: str


class HolderOut(BaseModel):
    id_type: str
    id_number: str
    name: str


class LicenseLinks(BaseModel):
    self: str
    credential: str
    qr_png: str
    qr_svg: str
    pdf: str


class LicensePublic(BaseModel):
    identifier: str
    type: str
    type_name: str
    version: int
    status: str
    status_code: str
    holder: HolderOut
    issuer_code: str
    issuer_name: str
    valid_from: str
    valid_until: str | None
    issued_at: str
    previous_identifier: str | None
    compact_qr: bool
    credential: dict[str, Any]
    compact_credential: dict[str, Any] | None
    qr_payload: str
    links: LicenseLinks
