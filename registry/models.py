"""SQLModel tables. Never accepted as request bodies: handlers take the schemas in each area's ``schemas``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.db import UTCDateTime, utcnow


def _ts(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Organisation(SQLModel, table=True):
    """A department that issues licences (role ``issuer``) or an agency whose windows pull them."""

    __tablename__ = "organisation"

    code: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    # Comma-separated licence types an issuer may issue; empty for agencies.
    license_types: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    client_id: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    # SHA-256 of a 256-bit random secret: a slow password hash adds nothing for secrets of that entropy.
    client_secret_hash: str = Field(max_length=64)
    next_serial: int = Field(default=0)
    next_status_index: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())

    @property
    def license_type_list(self) -> list[str]:
        return [t for t in self.license_types.split(",") if t]


class SigningKey(SQLModel, table=True):
    """A department's Ed25519 key: the public half in the clear, the secret sealed under the master key."""

    __tablename__ = "signing_key"
    __table_args__ = (UniqueConstraint("org_code", "key_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    org_code: str = Field(foreign_key="organisation.code", index=True, max_length=18)
    key_ref: str = Field(max_length=32)  # the DID fragment, e.g. "key-1"
    public_key_multibase: str = Field(max_length=64)
    sealed_secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = Field(default="active", max_length=16)  # active | retired | revoked
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    retired_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    compromised_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class StatusList(SQLModel, table=True):
    """One W3C Bitstring Status List of a department, for one purpose (revocation or suspension)."""

    __tablename__ = "status_list"
    __table_args__ = (UniqueConstraint("org_code", "purpose", "seq"),)

    id: str = Field(primary_key=True, max_length=80)  # "<org code>-<purpose>-<seq>", also its URL segment
    org_code: str = Field(foreign_key="organisation.code", max_length=18)
    purpose: str = Field(max_length=16)
    seq: int
    size: int
    bits: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # The value of the "status" counter when these bits last changed: workers reload lists newer than theirs.
    version: int = Field(default=0, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class License(SQLModel, table=True):
    """One version of an issued licence, with the exact signed credential it was issued as."""

    __tablename__ = "license"
    __table_args__ = (
        UniqueConstraint("issuer_code", "serial", "version"),
        Index("ix_license_holder", "holder_id_type", "holder_id_number"),
    )

    identifier: str = Field(primary_key=True, max_length=100)
    issuer_code: str = Field(foreign_key="organisation.code", max_length=18)
    serial: str = Field(max_length=32)
    version: int
    license_type: str = Field(max_length=64, index=True)
    holder_id_type: str = Field(max_length=16)
    holder_id_number: str = Field(max_length=32)
    holder_name: str = Field(max_length=100)
    status: str = Field(default="active", max_length=16)
    valid_from: datetime = Field(sa_column=_ts())
    valid_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # JCS text of the signed credentials: kept verbatim, so what we return is byte for byte what we signed.
    credential_jcs: str = Field(sa_column=Column(Text, nullable=False))
    compact_jcs: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    qr_payload: str = Field(sa_column=Column(Text, nullable=False))
    status_index: int
    revocation_list_id: str = Field(foreign_key="status_list.id", max_length=80)
    suspension_list_id: str = Field(foreign_key="status_list.id", max_length=80)
    signing_key_id: int = Field(foreign_key="signing_key.id")
    previous_identifier: str | None = Field(default=None, max_length=100)
    issued_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


class IdempotencyRecord(SQLModel, table=True):
    """The first request made under an Idempotency-Key, so a retry returns what it created."""

    __tablename__ = "idempotency_record"

    org_code: str = Field(primary_key=True, max_length=18)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    identifier: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Rendition(SQLModel, table=True):
    """A rendered QR image or PDF, cached in the database so every worker and machine shares it."""

    __tablename__ = "rendition"

    identifier: str = Field(primary_key=True, max_length=100)
    kind: str = Field(primary_key=True, max_length=16)  # qr.png | qr.svg | pdf
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class LicenseEvent(SQLModel, table=True):
    """The licence's history: issued, suspended, reinstated, revoked, cancelled, renewed, amended — who, why, when."""

    __tablename__ = "license_event"

    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(max_length=100, index=True)
    action: str = Field(max_length=16)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    actor: str = Field(max_length=64)
    status_after: str = Field(max_length=16)
    related_identifier: str | None = Field(default=None, max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Counter(SQLModel, table=True):
    """Named monotonic counters that tell every worker its in-memory copies (status bits, keys) are stale."""

    __tablename__ = "counter"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0)


class TrustKey(SQLModel, table=True):
    """The registry's own key that signs its trust list (peers pin its fingerprint)."""

    __tablename__ = "trust_key"

    key_ref: str = Field(primary_key=True, max_length=32)  # "trust-1"
    public_key_multibase: str = Field(max_length=64)
    sealed_secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = Field(default="active", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# --- holders, sharing and windows (issue #4) ------------------------------------------------------------


class Holder(SQLModel, table=True):
    """A licence holder who logs in: a person by resident ID, or a company by its USCC."""

    __tablename__ = "holder"

    id_number: str = Field(primary_key=True, max_length=32)
    id_type: str = Field(max_length=16)
    name: str = Field(max_length=100)
    password_hash: str = Field(max_length=200)  # argon2id
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AgentGrant(SQLModel, table=True):
    """代办: a holder lets another holder act for them — share only, or everything — until a date."""

    __tablename__ = "agent_grant"

    id: str = Field(primary_key=True, max_length=32)
    principal_id_number: str = Field(max_length=32, index=True)
    agent_id_number: str = Field(max_length=32, index=True)
    scope: str = Field(max_length=8)  # share | all
    valid_until: datetime = Field(sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ShareCode(SQLModel, table=True):
    """亮码: a one-time code a holder shows; only its SHA-256 is stored."""

    __tablename__ = "share_code"

    id: str = Field(primary_key=True, max_length=32)
    code_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    holder_id_number: str = Field(max_length=32, index=True)
    created_by: str = Field(max_length=32)  # the holder, or the agent acting for them
    license_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    license_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    service_code: str | None = Field(default=None, max_length=64)
    audience: str | None = Field(default=None, max_length=18)
    fields: dict[str, list[str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    purpose: str = Field(default="", max_length=200)
    expires_at: datetime = Field(sa_column=_ts())
    max_uses: int = Field(default=1)
    uses: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Consent(SQLModel, table=True):
    """A standing consent: this agency may pull these licence types, for this purpose, until a date."""

    __tablename__ = "consent"

    id: str = Field(primary_key=True, max_length=32)
    holder_id_number: str = Field(max_length=32, index=True)
    created_by: str = Field(max_length=32)
    agency_code: str = Field(max_length=18, index=True)
    service_code: str | None = Field(default=None, max_length=64)
    license_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fields: dict[str, list[str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    purpose: str = Field(max_length=200)
    valid_until: datetime = Field(sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    withdrawn_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Case(SQLModel, table=True):
    """A window's case for one service item: what it pulled for whom."""

    __tablename__ = "case_file"

    id: str = Field(primary_key=True, max_length=32)
    agency_code: str = Field(max_length=18, index=True)
    service_code: str = Field(max_length=64)
    # The consent it was opened under, if any: later pulls (commitments fulfilled) use it again.
    consent_id: str | None = Field(default=None, max_length=32)
    applicant_id_number: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


class CaseMaterial(SQLModel, table=True):
    __tablename__ = "case_material"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=32, index=True)
    position: int
    license_type: str = Field(max_length=64)
    party: str = Field(max_length=32)
    requirement: str = Field(max_length=16)
    group: str = Field(default="", max_length=32)
    state: str = Field(default="missing", max_length=16)  # pulled | missing (committed / fulfilled: issue #5)
    identifier: str | None = Field(default=None, max_length=100)
    holder_id_number: str | None = Field(default=None, max_length=32)
    verdict: str | None = Field(default=None, max_length=32)
    via: str | None = Field(default=None, max_length=16)  # code | consent
    fields: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    pulled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # What the window received: the full credential, or (fields limited) the excerpt signed for this case.
    credential_jcs: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    due_date: date | None = Field(default=None)  # 告知承诺: the applicant will bring it by then
    committed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class AccessLog(SQLModel, table=True):
    """Every pull and every read by anyone but the holder, where the holder can see it."""

    __tablename__ = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    holder_id_number: str = Field(max_length=32, index=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    actor_kind: str = Field(max_length=16)  # agency | issuer | agent | system
    actor_code: str = Field(max_length=32)
    actor_name: str = Field(default="", max_length=200)
    via: str = Field(max_length=16)  # code | consent | agent | issuer
    purpose: str = Field(default="", max_length=200)
    service_code: str | None = Field(default=None, max_length=64)
    case_id: str | None = Field(default=None, max_length=32)
    identifier: str | None = Field(default=None, max_length=100)
    license_type: str | None = Field(default=None, max_length=64)
    fields: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    region: str | None = Field(default=None, max_length=12)
    # Set when an agent (代办人) made the code or consent behind this access, or acted themselves.
    agent_id_number: str | None = Field(default=None, max_length=32)
    # The share code (亮码) a pull redeemed, so the 亮证 screen can say exactly who took what with it.
    share_code_id: str | None = Field(default=None, max_length=32, index=True)
    # Which window: the staff member (username) at the counter, when the pull came from the pages.
    staff_username: str | None = Field(default=None, max_length=64)


class DailyCounter(SQLModel, table=True):
    """Per-day tallies of what has no row of its own (public verifications), for statistics."""

    __tablename__ = "daily_counter"

    day: date = Field(primary_key=True)
    metric: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0)


# --- staff accounts and page sessions (issue #6) ----------------------------------------------------------


class StaffUser(SQLModel, table=True):
    """A clerk or officer of an organisation who uses the pages (/window for agencies, /console for issuers)."""

    __tablename__ = "staff_user"

    username: str = Field(primary_key=True, max_length=64)
    org_code: str = Field(foreign_key="organisation.code", index=True, max_length=18)
    display_name: str = Field(default="", max_length=100)
    password_hash: str = Field(max_length=200)  # argon2id
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    disabled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class WebSession(SQLModel, table=True):
    """A logged-in browser: only the SHA-256 of the cookie's token is stored, with the session's CSRF token."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)  # staff | holder
    subject: str = Field(max_length=32, index=True)  # organisation code, or the holder's ID number
    username: str | None = Field(default=None, max_length=64)  # staff only
    role: str = Field(max_length=16)  # issuer | agency | holder: which pages and API scopes it opens
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))


# --- bulk issuance (批量签发) -------------------------------------------------------------------------------


class IssueBatch(SQLModel, table=True):
    """A bulk issuance job uploaded through the API: the CSV as uploaded, its progress and its error report.

    Progress is written after every chunk, with ``heartbeat_at``, so any worker can answer for it; a job whose
    heartbeat stopped while it was queued or running is reported as ``interrupted``.
    """

    __tablename__ = "issue_batch"
    __table_args__ = (Index("ix_issue_batch_org_created", "org_code", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    org_code: str = Field(foreign_key="organisation.code", max_length=18)
    license_type: str = Field(max_length=64)
    filename: str = Field(max_length=200)
    actor: str = Field(max_length=64)  # who uploaded it (the organisation, or its staff member)
    state: str = Field(default="queued", max_length=16)  # queued | running | done | failed | interrupted
    total: int | None = Field(default=None)
    processed: int = Field(default=0)
    issued: int = Field(default=0)
    skipped: int = Field(default=0)
    failed: int = Field(default=0)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # CSV ``line,holder_id_number,code,message`` once the job has finished with failed rows.
    error_report: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


# --- the transparency log (issue #8) -------------------------------------------------------------------------


class LogEntry(SQLModel, table=True):
    """One leaf of the RFC 9162 log: what happened, as JCS text (no personal data: an access is logged as the
    hash of its record). Indexes are handed out in the writing transaction, so committed entries are always a
    gap-free prefix; ``ref`` ties the entry to its record for ``registry log verify``."""

    __tablename__ = "log_entry"
    __table_args__ = (Index("ix_log_entry_kind_ref", "kind", "ref"),)

    leaf_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str = Field(max_length=16)  # issued | status | key | access
    ref: str = Field(max_length=100)  # the licence identifier, event id, key id or access record id
    content: str = Field(sa_column=Column(Text, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    at: datetime = Field(sa_column=_ts())


class LogNode(SQLModel, table=True):
    """A perfect subtree's hash, written once when its last leaf is integrated (level 0: the leaf hashes)."""

    __tablename__ = "log_node"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    position: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    """A signed tree head: the registry's trust key over the size, root and time (see registry/log/service.py)."""

    __tablename__ = "log_checkpoint"

    tree_size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    timestamp: datetime = Field(sa_column=_ts())
    # The log's name as signed: its URL then (a registry that moves keeps its old checkpoints checkable).
    origin: str = Field(max_length=300)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_id: str = Field(max_length=200)


# --- federation (issue #9) -----------------------------------------------------------------------------------


class FederationPeer(SQLModel, table=True):
    """Another registry, pinned by the fingerprint of its trust-list key, and the last trust list it served that
    verified under that pin (kept when a later fetch fails: it is used, and reported stale, until a new one)."""

    __tablename__ = "federation_peer"

    name: str = Field(primary_key=True, max_length=64)
    url: str = Field(max_length=300)
    fingerprint: str = Field(max_length=64)
    registry_id: str | None = Field(default=None, max_length=12, index=True)
    registry_name: str | None = Field(default=None, max_length=200)
    trust_list: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fetched_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class FederationNonce(SQLModel, table=True):
    """A registry-to-registry call already served: a replay of it (same caller, same nonce) is refused."""

    __tablename__ = "federation_nonce"

    caller: str = Field(primary_key=True, max_length=12)
    nonce: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


# --- access tokens (issue #8) --------------------------------------------------------------------------------


class RevokedToken(SQLModel, table=True):
    """An access token ended before its time (POST /api/v1/auth/revoke): refused by every worker until it would
    have expired anyway, when the row is worthless and is swept (registry.auth.tokens)."""

    __tablename__ = "revoked_token"

    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=_ts(index=True))
