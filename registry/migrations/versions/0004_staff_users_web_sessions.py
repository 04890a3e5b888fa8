"""staff users and page sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("org_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", registry.db.UTCDateTime(), nullable=True),
        sa.Column("disabled_at", registry.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", registry.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_code"], ["organisation.code"]),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_index(op.f("ix_staff_user_org_code"), "staff_user", ["org_code"], unique=False)
    op.create_table(
        "web_session",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("csrf_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", registry.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", registry.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(op.f("ix_web_session_subject"), "web_session", ["subject"], unique=False)
    op.create_index(op.f("ix_web_session_expires_at"), "web_session", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_session_expires_at"), table_name="web_session")
    op.drop_index(op.f("ix_web_session_subject"), table_name="web_session")
    op.drop_table("web_session")
    op.drop_index(op.f("ix_staff_user_org_code"), table_name="staff_user")
    op.drop_table("staff_user")
