"""Group commit: writes that arrive while a commit is in flight share the next transaction.

An alert storm is many small write transactions, and each one pays for a BEGIN, the write lock
(SQLite) or a row lock (PostgreSQL), a COMMIT with its fsync and a session. `GroupCommit.run`
queues a unit of work instead; one background task takes everything queued (up to
`max_group` units) and runs it in ONE `Database.write()` transaction, in arrival order, then
answers every caller. While that commit is in flight the next units queue up, so under load a
group is as large as the load, and a lone request still runs at once with nobody to wait for.

Guarantees callers rely on:
- nobody is answered before the transaction holding their work committed;
- one unit's failure never affects another: if any unit raises, the group is rolled back and
  each unit runs again alone, so each caller gets exactly the answer it would have got alone;
- lock contention (`Unavailable`) fails the whole group: nothing was written, every caller
  answers 503 and retries;
- a caller cancelled before its unit started (a client gone, a timeout) is skipped; once the
  group is running its units finish and commit together;
- `close()` (app shutdown, after the grace period) cancels the group in flight, which rolls
  back, and fails everything still queued.

Units run one after the other in one session, so a unit sees what the units before it wrote
(deduplication within a group works as between separate transactions). A unit must not open
another write transaction (it would wait for the one it runs in).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.background import cancel_and_wait
from gateway.domain.errors import Unavailable


class Writer(Protocol):
    """What a group needs of the database: one write transaction (`Database.write`)."""

    def write(self) -> AbstractAsyncContextManager[AsyncSession]: ...

T = TypeVar("T")
MAX_GROUP = 64


Prepare = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


@dataclass
class _Unit:
    work: Callable[[AsyncSession], Awaitable[Any]]
    future: asyncio.Future[Any]
    prepare: Prepare | None = None


class GroupCommit:
    """One per `Database`: the queue of units waiting for the next group transaction."""

    def __init__(self, db: Writer, max_group: int = MAX_GROUP) -> None:
        self.db = db
        self.max_group = max_group
        self._queue: list[_Unit] = []
        self._running: list[_Unit] = []
        self._task: asyncio.Task[None] | None = None
        # Figures for tests and the benchmark: transactions committed, units they carried.
        self.groups = 0
        self.units = 0

    async def run(
        self, work: Callable[[AsyncSession], Awaitable[T]], prepare: Prepare | None = None
    ) -> T:
        """Run `work(session)` in a shared write transaction; return its result once that
        transaction committed (or raise what `work` raised when it ran alone). `prepare`, if
        given, runs once per group before the units, with every unit that named it: the place
        to read what they all need in one statement instead of one each."""
        loop = asyncio.get_running_loop()
        unit = _Unit(work, loop.create_future(), prepare)
        self._queue.append(unit)
        if self._task is None or self._task.done():
            # A context of its own: the group's statements and log lines belong to no single
            # request (not to whichever request happened to start the task).
            self._task = loop.create_task(
                self._drain(), name="seliq-group-commit", context=contextvars.Context()
            )
        result: T = await unit.future  # cancelling the caller cancels the future: skipped
        return result

    async def close(self) -> None:
        """Cancel the group in flight (it rolls back) and fail everything queued."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            await cancel_and_wait(task)
        for unit in (*self._running, *self._queue):
            if not unit.future.done():
                unit.future.set_exception(Unavailable("the server is shutting down; retry"))
        self._running, self._queue = [], []

    async def _drain(self) -> None:
        while self._queue:
            taken = self._queue[: self.max_group]
            del self._queue[: self.max_group]
            self._running = [unit for unit in taken if not unit.future.done()]
            if self._running:
                await self._commit(self._running)
            self._running = []

    async def _commit(self, group: list[_Unit]) -> None:
        results: list[Any] = []
        try:
            async with self.db.write() as session:
                for prepare, works in _by_prepare(group).items():
                    await prepare(session, works)
                for unit in group:
                    results.append(await unit.work(session))
        except Unavailable as exc:  # nothing was written; the callers answer 503
            for unit in group:
                _settle(unit, exc=exc)
            return
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0], exc=exc)
                return
            # Rolled back: every unit runs again alone, so only the failing one fails.
            for unit in group:
                await self._commit([unit])
            return
        self.groups += 1
        self.units += len(group)
        for unit, result in zip(group, results, strict=True):
            _settle(unit, result=result)


def _by_prepare(group: list[_Unit]) -> dict[Prepare, list[Any]]:
    works: dict[Prepare, list[Any]] = {}
    for unit in group:
        if unit.prepare is not None:
            works.setdefault(unit.prepare, []).append(unit.work)
    return works


def _settle(unit: _Unit, *, result: Any = None, exc: BaseException | None = None) -> None:
    if unit.future.done():  # its caller went away meanwhile
        return
    if exc is not None:
        unit.future.set_exception(exc)
    else:
        unit.future.set_result(result)
