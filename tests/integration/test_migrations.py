"""The Alembic migrations build exactly the schema the models describe, on the engine under test."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import registry.models  # noqa: F401  (registers the tables)
from registry.context import Registry

pytestmark = pytest.mark.integration


async def test_migrations_match_models(registry: Registry) -> None:
    def diff(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))

    async with registry.db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
