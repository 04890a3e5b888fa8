"""Bodies of the window API (cases)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CaseCreate(BaseModel):
    """A case for a service item, pulling with the holder's share code or a standing consent (or neither:
    codes can join later)."""

    model_config = ConfigDict(extra="forbid")

    service_code: str = Field(max_length=64)
    share_code: str | None = Field(default=None, max_length=100)
    consent_id: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _one(self) -> CaseCreate:
        if self.share_code is not None and self.consent_id is not None:
            raise ValueError("share_code 与 consent_id 只能二选一 / give share_code or consent_id, not both")
        return self


class CaseShareCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share_code: str = Field(max_length=100)
    party: str | None = Field(default=None, max_length=32, description="fill only this party's materials")


class CaseMaterialOut(BaseModel):
    license_type: str
    license_type_name: str
    party: str
    requirement: str
    required: bool
    group: str | None
    state: str  # pulled | missing | committed | fulfilled
    identifier: str | None
    verdict: str | None
    fields: list[str] | None  # the fields released, when the holder limited them
    credential: dict[str, Any] | None  # pulled: the credential, or the signed excerpt of the released fields
    due_date: str | None  # committed: when the applicant will bring it


class CaseOut(BaseModel):
    case_id: str
    service_code: str
    service_name: str
    agency_code: str
    created_at: str
    materials: list[CaseMaterialOut]
    exempted: int  # materials pulled: paper copies the applicant did not have to bring
    missing: int  # required materials (or one-of groups) still unsatisfied
    offline_materials: list[str]


class CommitmentCreate(BaseModel):
    """告知承诺 for a missing material: which licence type (and whose), by when (default: 30 days)."""

    model_config = ConfigDict(extra="forbid")

    license_type: str = Field(max_length=64)
    party: str | None = Field(default=None, max_length=32)
    due_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class CommitmentOut(BaseModel):
    case_id: str
    service_code: str
    service_name: str
    license_type: str
    license_type_name: str
    party: str
    due_date: str
    overdue: bool
