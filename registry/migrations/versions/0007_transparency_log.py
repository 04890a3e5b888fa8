"""transparency log: entries, perfect-subtree nodes, signed checkpoints

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db
from registry.log import entries as log_entries
from registry.log.entries import Entry
from verification.merkle import leaf_hash

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_entry",
        sa.Column("leaf_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index"),
    )
    op.create_index("ix_log_entry_kind_ref", "log_entry", ["kind", "ref"], unique=False)
    op.create_table(
        "log_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "position"),
    )
    op.create_table(
        "log_checkpoint",
        sa.Column("tree_size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    # What a database already holds enters the log first, oldest first, so that `registry log verify` holds
    # every record to an entry from the start. (log_next: the next leaf index to hand out, in the writing
    # transactions; log_size: the leaves the tree's nodes and checkpoints cover, filled in by integration.)
    entries = _existing_entries(op.get_bind())
    if entries:
        op.bulk_insert(
            sa.table(
                "log_entry",
                sa.column("leaf_index", sa.Integer),
                sa.column("kind", sa.String),
                sa.column("ref", sa.String),
                sa.column("content", sa.Text),
                sa.column("leaf_hash", sa.LargeBinary),
                sa.column("at", registry.db.UTCDateTime(timezone=True)),
            ),
            [
                {
                    "leaf_index": i,
                    "kind": e.kind,
                    "ref": e.ref,
                    "content": e.content.decode(),
                    "leaf_hash": leaf_hash(e.content),
                    "at": e.at,
                }
                for i, e in enumerate(entries)
            ],
        )
    op.bulk_insert(
        sa.table("counter", sa.column("name", sa.String), sa.column("value", sa.Integer)),
        [{"name": "log_next", "value": len(entries)}, {"name": "log_size", "value": 0}],
    )


def _existing_entries(bind: sa.Connection) -> list[Entry]:
    from sqlmodel import Session, col, select

    from registry.models import AccessLog, License, LicenseEvent, SigningKey

    found: list[Entry] = []
    with Session(bind=bind) as session:
        found += [log_entries.issued_licence(x) for x in session.exec(select(License))]
        found += [
            log_entries.status(ev)
            for ev in session.exec(select(LicenseEvent).order_by(col(LicenseEvent.id)))
            if not (ev.action in log_entries.ISSUING_ACTIONS and ev.status_after == "active")
        ]
        for key in session.exec(select(SigningKey).order_by(col(SigningKey.id))):
            made = SigningKey(**{**key.model_dump(), "state": "active", "compromised_at": None})  # not in session
            found.append(log_entries.key(made, key.created_at))
            if key.state != "active":
                found.append(log_entries.key(key, key.compromised_at or key.retired_at or key.created_at))
        found += [log_entries.access(a) for a in session.exec(select(AccessLog).order_by(col(AccessLog.id)))]
        session.expunge_all()  # read only: nothing here is to be written back
    found.sort(key=lambda e: e.at)  # stable: a licence's issuance stays before its events of the same second
    return found


def downgrade() -> None:
    op.execute("DELETE FROM counter WHERE name IN ('log_next', 'log_size')")
    op.drop_table("log_checkpoint")
    op.drop_table("log_node")
    op.drop_index("ix_log_entry_kind_ref", table_name="log_entry")
    op.drop_table("log_entry")
