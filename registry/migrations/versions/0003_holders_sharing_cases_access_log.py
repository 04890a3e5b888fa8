"""holders, sharing, cases, access log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_counter",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "metric"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("license_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("agent_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_holder_id_number"), ["holder_id_number"], unique=False)

    op.create_table(
        "agent_grant",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("principal_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("agent_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("valid_until", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_grant_agent_id_number"), ["agent_id_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_agent_grant_principal_id_number"), ["principal_id_number"], unique=False)

    op.create_table(
        "case_file",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("agency_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("consent_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("applicant_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_file_agency_code"), ["agency_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_created_at"), ["created_at"], unique=False)

    op.create_table(
        "case_material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("license_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("party", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("requirement", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("group", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("holder_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("pulled_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("credential_jcs", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("committed_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_material_case_id"), ["case_id"], unique=False)

    op.create_table(
        "consent",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("holder_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("agency_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("license_types", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("valid_until", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_agency_code"), ["agency_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_holder_id_number"), ["holder_id_number"], unique=False)

    op.create_table(
        "holder",
        sa.Column("id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("id_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_number"),
    )
    op.create_table(
        "share_code",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("holder_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("license_ids", sa.JSON(), nullable=False),
        sa.Column("license_types", sa.JSON(), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("expires_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("share_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_code_holder_id_number"), ["holder_id_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_code_holder_id_number"))

    op.drop_table("share_code")
    op.drop_table("holder")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_holder_id_number"))
        batch_op.drop_index(batch_op.f("ix_consent_agency_code"))

    op.drop_table("consent")
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_material_case_id"))

    op.drop_table("case_material")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_file_created_at"))
        batch_op.drop_index(batch_op.f("ix_case_file_agency_code"))

    op.drop_table("case_file")
    with op.batch_alter_table("agent_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_grant_principal_id_number"))
        batch_op.drop_index(batch_op.f("ix_agent_grant_agent_id_number"))

    op.drop_table("agent_grant")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_holder_id_number"))

    op.drop_table("access_log")
    op.drop_table("daily_counter")
