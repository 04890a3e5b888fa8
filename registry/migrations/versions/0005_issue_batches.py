"""bulk issuance jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issue_batch",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("license_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("error_report", sa.Text(), nullable=True),
        sa.Column("created_at", registry.db.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", registry.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", registry.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_code"], ["organisation.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_issue_batch_org_created", "issue_batch", ["org_code", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_issue_batch_org_created", table_name="issue_batch")
    op.drop_table("issue_batch")
