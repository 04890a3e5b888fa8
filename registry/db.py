"""The database: one async engine, sessions with explicit transaction scope, SQLite made safe for writers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every engine (SQLite stores no zone; we put it back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


READ_ONLY = "registry_read_only"


async def insert_many(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT ``rows`` (tuples in the order of ``columns``) through the driver's executemany, in the caller's
    transaction. Each column's bind processing (UTC timestamps) runs once per distinct value, not once per
    row: for bulk issuance SQLAlchemy's per-row parameter handling cost more than SQLite's own work."""
    if not rows:
        return
    connection = await session.connection()
    sql, params = driver_insert(connection.dialect, table, columns, rows)
    await connection.exec_driver_sql(sql, params)


def driver_insert(
    dialect: Dialect, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[str, Sequence[Sequence[Any]]]:
    """The statement and bound parameters for :func:`insert_many` (also used from synchronous ORM events)."""
    params: Sequence[Sequence[Any]] = rows
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    if any(processors):
        lists = [list(row) for row in rows]
        for i, process in enumerate(processors):
            if process is None:
                continue
            cache: dict[Any, Any] = {}
            for values in lists:
                value = values[i]
                converted = cache.get(value, cache)
                if converted is cache:
                    converted = cache[value] = process(value)
                values[i] = converted
        params = [tuple(values) for values in lists]
    if dialect.paramstyle == "qmark":
        marks = ", ".join("?" for _ in columns)
    elif dialect.paramstyle == "numeric_dollar":
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    else:  # pragma: no cover - the two engines this registry runs on are above
        raise NotImplementedError(f"paramstyle {dialect.paramstyle}")
    quote = dialect.identifier_preparer.quote
    # Names come from the table (table.c[name] above refuses others) and are quoted; values are parameters.
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES ({marks})"  # noqa: S608
    return sql, params


def utcnow() -> datetime:
    return datetime.now(UTC)


def _make_sqlite_safe(engine: AsyncEngine, cache_mib: int = 16) -> None:
    """pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over.

    Write transactions BEGIN IMMEDIATE: they take the write lock at the start, so two writers queue on
    busy_timeout instead of one failing with "database is locked" when it upgrades a read lock. Read-only
    sessions (``Database.read``) BEGIN DEFERRED and, in WAL mode, never wait for a writer.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # KiB when negative
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False, sqlite_cache_mib: int = 16) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # LIFO: the connection used last (its page cache warm) is handed out next, and idle ones stay cold.
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, pool_use_lifo=True)
        _make_sqlite_safe(engine, sqlite_cache_mib)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Database:
    def __init__(self, url: str, *, echo: bool = False, sqlite_cache_mib: int = 16) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, sqlite_cache_mib=sqlite_cache_mib)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._readers = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), class_=AsyncSession, expire_on_commit=False
        )
        # SQLite has one writer at a time: queue this process's writers here rather than in SQLite's
        # busy handler, which polls with sleeps and turns contention into latency spikes.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back whole if it raises."""
        if self._write_lock is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock, self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only (on SQLite it does not take the write lock)."""
        async with self._readers() as session:
            yield session

    @asynccontextmanager
    async def read_within(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        """The caller's session when it has one (a request already inside a transaction must not take a
        second connection from the pool while holding the first), else a fresh one for reading."""
        if session is not None:
            yield session
            return
        async with self.read() as fresh:
            yield fresh

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
