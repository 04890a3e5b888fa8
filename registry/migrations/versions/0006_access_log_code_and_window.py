"""access log: the share code a pull redeemed, and the staff member at the window

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_log") as batch:
        batch.add_column(sa.Column("share_code_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch.add_column(sa.Column("staff_username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.create_index(batch.f("ix_access_log_share_code_id"), ["share_code_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_log") as batch:
        batch.drop_index(batch.f("ix_access_log_share_code_id"))
        batch.drop_column("staff_username")
        batch.drop_column("share_code_id")
