"""A database of its own for a test that starts real servers: a SQLite file, or on the PostgreSQL run a fresh
database on the same server (created here, dropped by the returned cleanup)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from pathlib import Path


async def _admin(statement: str) -> None:
    import asyncpg  # only on the PostgreSQL run

    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def fresh_database(folder: Path, name: str = "registry") -> tuple[str, Callable[[], None]]:
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not url:
        return f"sqlite+aiosqlite:///{folder / f'{name}.db'}", lambda: None
    db = f"{name}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f"CREATE DATABASE {db}"))
    return url.rsplit("/", 1)[0] + f"/{db}", lambda: asyncio.run(_admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
