"""Bodies of the holder-facing API (亮码, consents, agents, the access log)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from registry.calendar import CHINA
from registry.models import AccessLog, AgentGrant, Consent

FieldLimits = dict[str, list[str]]
ShareCodeState = Literal["active", "used", "expired", "withdrawn"]


def wire_time(value: datetime | None) -> str | None:
    """A moment as the API writes it: RFC 3339 in UTC, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _until(text: str) -> datetime:
    """``YYYY-MM-DD`` (through the end of that day, China time) or RFC 3339 with a zone."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time(23, 59, 59), tzinfo=CHINA).astimezone(UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("valid_until needs a time zone")
    return parsed.astimezone(UTC)


class ShareCodeCreate(BaseModel):
    """What to share: licences by identifier, by type, or what a service item needs (at least one)."""

    model_config = ConfigDict(extra="forbid")

    license_ids: list[str] | None = Field(default=None, max_length=20)
    license_types: list[str] | None = Field(default=None, max_length=20)
    service_code: str | None = Field(default=None, max_length=64)
    audience: str | None = Field(default=None, max_length=18, description="the one agency that may redeem it")
    fields: FieldLimits | None = Field(default=None, max_length=20, description="licence type → fields released")
    purpose: str | None = Field(default=None, max_length=200)
    ttl_seconds: int | None = Field(default=None, ge=30, le=600)
    max_uses: int | None = Field(default=None, ge=1, le=10)
    on_behalf_of: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _something(self) -> ShareCodeCreate:
        if not (self.license_ids or self.license_types or self.service_code):
            raise ValueError("请选择证照、证照类型或办理事项 / choose license_ids, license_types or service_code")
        return self


class ShareCodeOut(BaseModel):
    id: str
    code: str | None = None  # only when created: never stored in the clear
    qr_svg: str | None = None
    expires_at: str
    max_uses: int
    uses: int
    audience: str | None
    service_code: str | None
    license_ids: list[str]
    license_types: list[str]
    fields: FieldLimits | None
    purpose: str
    on_behalf_of: str | None
    revoked: bool


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_code: str = Field(min_length=18, max_length=18)
    service_code: str | None = Field(default=None, max_length=64)
    license_types: list[str] = Field(min_length=1, max_length=20)
    purpose: str = Field(min_length=1, max_length=200)
    valid_until: str = Field(max_length=40, description="YYYY-MM-DD or RFC 3339")
    fields: FieldLimits | None = Field(default=None, max_length=20)
    on_behalf_of: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _parse_until(self) -> ConsentCreate:
        _until(self.valid_until)
        return self

    def valid_until_at(self) -> datetime:
        return _until(self.valid_until)


class ConsentOut(BaseModel):
    id: str
    agency_code: str
    agency_name: str
    service_code: str | None
    license_types: list[str]
    fields: FieldLimits | None
    purpose: str
    valid_until: str
    created_at: str
    withdrawn_at: str | None
    active: bool

    @classmethod
    def of(cls, c: Consent, agency_name: str) -> ConsentOut:
        now = datetime.now(UTC)
        return cls(
            id=c.id,
            agency_code=c.agency_code,
            agency_name=agency_name,
            service_code=c.service_code,
            license_types=c.license_types,
            fields=c.fields,
            purpose=c.purpose,
            valid_until=wire_time(c.valid_until) or "",
            created_at=wire_time(c.created_at) or "",
            withdrawn_at=wire_time(c.withdrawn_at),
            active=c.withdrawn_at is None and c.valid_until > now,
        )


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(max_length=32)
    scope: Literal["share", "all"]
    valid_until: str = Field(max_length=40)

    @model_validator(mode="after")
    def _parse_until(self) -> AgentCreate:
        _until(self.valid_until)
        return self

    def valid_until_at(self) -> datetime:
        return _until(self.valid_until)


class AgentOut(BaseModel):
    id: str
    principal: str
    agent: str
    scope: str
    valid_until: str
    # Names, so that a person sees whom they let act for them, and for whom they act.
    principal_name: str | None = None
    agent_name: str | None = None

    @classmethod
    def of(cls, g: AgentGrant, names: dict[str, str]) -> AgentOut:
        return cls(
            id=g.id,
            principal=g.principal_id_number,
            agent=g.agent_id_number,
            scope=g.scope,
            valid_until=wire_time(g.valid_until) or "",
            principal_name=names.get(g.principal_id_number),
            agent_name=names.get(g.agent_id_number),
        )


class AgentsOut(BaseModel):
    agents: list[AgentOut]  # who may act for me
    principals: list[AgentOut]  # whom I may act for


class AccessLogOut(BaseModel):
    at: str
    actor_kind: str
    actor_code: str
    actor_name: str
    via: str
    purpose: str
    service_code: str | None
    case_id: str | None
    identifier: str | None
    license_type: str | None
    fields: list[str] | None
    region: str | None
    agent_id_number: str | None
    window: str | None = None  # the staff account at the counter, when the pull came from the /window page

    @classmethod
    def of(cls, e: AccessLog) -> AccessLogOut:
        return cls(
            at=wire_time(e.at) or "",
            actor_kind=e.actor_kind,
            actor_code=e.actor_code,
            actor_name=e.actor_name,
            via=e.via,
            purpose=e.purpose,
            service_code=e.service_code,
            case_id=e.case_id,
            identifier=e.identifier,
            license_type=e.license_type,
            fields=e.fields,
            region=e.region,
            agent_id_number=e.agent_id_number,
            window=e.staff_username,
        )


class ShareCodeStatus(ShareCodeOut):
    """One code as its holder follows it on the 亮证 screen: its state, and who took what with it."""

    created_at: str
    state: ShareCodeState
    accesses: list[AccessLogOut]  # the pulls made with this code, oldest first


class HolderLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=128)
