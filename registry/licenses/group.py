"""Group commit: requests that arrive while one group is being written wait, and go together into the next.

Issuing a licence through the API is a short write transaction; on SQLite one writer at a time and, on either
engine, a commit per request is what limited a worker to ~70 issuances/s. With this, N requests in flight cost
one numbering statement, one INSERT per table and one commit between them. A lone request waits for nothing:
it is written at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_GROUP = 64


class GroupCommit(Generic[T, R]):
    """One per process. ``write`` is given a group of (item, future) and must settle every future."""

    def __init__(self, max_group: int = MAX_GROUP) -> None:
        self.max_group = max_group
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T, write: Callable[[list[tuple[T, asyncio.Future[R]]]], Awaitable[None]]) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(write))
        # Shielded: a caller that goes away (a client disconnect) must not cancel its part of a group write.
        return await asyncio.shield(future)

    async def _drain(self, write: Callable[[list[tuple[T, asyncio.Future[R]]]], Awaitable[None]]) -> None:
        while self._pending:
            group, self._pending = self._pending[: self.max_group], self._pending[self.max_group :]
            try:
                await write(group)
            except Exception as exc:  # settle every caller, then go on with the next group
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            except BaseException:  # cancelled (shutting down): so are the callers
                for _, future in group + self._pending:
                    future.cancel()
                raise
            for _, future in group:
                if not future.done():  # a writer bug: never leave a request hanging
                    future.set_exception(RuntimeError("group commit left a request unanswered"))
