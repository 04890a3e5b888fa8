"""federation: pinned peer registries, their last accepted trust lists, and the nonces of calls served

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_peer",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("registry_id", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("registry_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("trust_list", sa.Text(), nullable=True),
        sa.Column("fetched_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_federation_peer_registry_id", "federation_peer", ["registry_id"], unique=False)
    op.create_table(
        "federation_nonce",
        sa.Column("caller", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seen_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller", "nonce"),
    )
    op.create_index("ix_federation_nonce_seen_at", "federation_nonce", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_federation_nonce_seen_at", table_name="federation_nonce")
    op.drop_table("federation_nonce")
    op.drop_index("ix_federation_peer_registry_id", table_name="federation_peer")
    op.drop_table("federation_peer")
