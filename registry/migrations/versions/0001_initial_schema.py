"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("org_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_code", "key"),
    )
    op.create_table(
        "organisation",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("license_types", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("client_secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("next_serial", sa.Integer(), nullable=False),
        sa.Column("next_status_index", sa.Integer(), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_table(
        "rendition",
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identifier", "kind"),
    )
    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("key_ref", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("public_key_multibase", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("compromised_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_code"],
            ["organisation.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_code", "key_ref"),
    )
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_key_org_code"), ["org_code"], unique=False)

    op.create_table(
        "status_list",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("org_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_code"],
            ["organisation.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_code", "purpose", "seq"),
    )
    op.create_table(
        "license",
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("issuer_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("license_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("holder_id_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("holder_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("holder_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("valid_from", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("credential_jcs", sa.Text(), nullable=False),
        sa.Column("compact_jcs", sa.Text(), nullable=True),
        sa.Column("qr_payload", sa.Text(), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("revocation_list_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("suspension_list_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("signing_key_id", sa.Integer(), nullable=False),
        sa.Column("previous_identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("issued_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_code"],
            ["organisation.code"],
        ),
        sa.ForeignKeyConstraint(
            ["revocation_list_id"],
            ["status_list.id"],
        ),
        sa.ForeignKeyConstraint(
            ["signing_key_id"],
            ["signing_key.id"],
        ),
        sa.ForeignKeyConstraint(
            ["suspension_list_id"],
            ["status_list.id"],
        ),
        sa.PrimaryKeyConstraint("identifier"),
        sa.UniqueConstraint("issuer_code", "serial", "version"),
    )
    with op.batch_alter_table("license", schema=None) as batch_op:
        batch_op.create_index("ix_license_holder", ["holder_id_type", "holder_id_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_license_issued_at"), ["issued_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_license_license_type"), ["license_type"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("license", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_license_type"))
        batch_op.drop_index(batch_op.f("ix_license_issued_at"))
        batch_op.drop_index("ix_license_holder")

    op.drop_table("license")
    op.drop_table("status_list")
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_key_org_code"))

    op.drop_table("signing_key")
    op.drop_table("rendition")
    op.drop_table("organisation")
    op.drop_table("idempotency_record")
