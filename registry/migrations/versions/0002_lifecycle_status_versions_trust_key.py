"""lifecycle, status versions, trust key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counter",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "license_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status_after", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("related_identifier", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("license_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_license_event_identifier"), ["identifier"], unique=False)

    op.create_table(
        "trust_key",
        sa.Column("key_ref", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("public_key_multibase", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_ref"),
    )
    op.bulk_insert(
        sa.table("counter", sa.column("name", sa.String), sa.column("value", sa.Integer)),
        [{"name": "status", "value": 0}, {"name": "keys", "value": 0}],
    )
    with op.batch_alter_table("status_list", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_status_list_version"), ["version"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("status_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_list_version"))
        batch_op.drop_column("version")

    op.drop_table("trust_key")
    with op.batch_alter_table("license_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_event_identifier"))

    op.drop_table("license_event")
    op.drop_table("counter")
