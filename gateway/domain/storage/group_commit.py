"""Group commit: writes that arrive while a commit is in flight share the next transaction, taken
from the tenants in turn.

An alert storm is many small write transactions, and each one pays for a BEGIN, the write lock
(SQLite) or a row lock (PostgreSQL), a COMMIT with its fsync and a session. `GroupCommit.run`
queues a unit of work instead; a group task takes queued units and runs them in ONE
`Database.write()` transaction, in the order taken, then answers every caller. While that commit
is in flight the next units queue up, so under load a group is as large as the load, and a lone
request still runs at once with nobody to wait for. After a group of several units the next one
waits `gather` (1 ms) for the senders just answered (`_finished`): at 16 concurrent webhook
senders groups went from ~8 units to ~16 and the CPU per alert fell by a fifth.

Fairness. Each unit names its lane (ingestion: the workspace) and its weight (its alerts). Every
lane has its own queue, and a group is filled by deficit round-robin over the lanes: each visit
gives a lane `quantum` alerts of credit, and it contributes its units, oldest first, as long as
its credit covers them. A group holds at most `max_group` units and `max_weight` alerts, except
that a unit heavier than that (a big batch) runs alone. So one tenant's storm makes its own queue
long, not the others': a small request of another workspace waits for the group in flight (at
most one big batch) and is in the next one. A unit is never split: a batch commits whole, in one
transaction, or not at all.

On PostgreSQL up to `parallel` groups run at once, each in its own transaction, and a lane is in
at most one of them (different workspaces' rows never conflict; one workspace's groups would
only queue on its row lock). SQLite has one writer, so one group at a time.

Guarantees callers rely on:
- nobody is answered before the transaction holding their work committed;
- one unit's failure never affects another: if any unit raises, the group is rolled back and
  each unit runs again alone, so each caller gets exactly the answer it would have got alone;
- a unit's result is read after the whole group ran, so a unit whose later neighbours may change
  the objects it returns returns copies (ingestion: `IngestResult.frozen`);
- lock contention (`Unavailable`) fails the whole group: nothing was written, every caller
  answers 503 and retries; so does a COMMIT whose outcome is unknown (`CommitOutcomeUnknown`:
  the connection failed after it was sent), which is never run again unit by unit, since that
  would store the units twice if the COMMIT went through;
- the request deadline (`gateway.domain.storage.deadline`): a unit still queued when its
  caller's deadline passes is withdrawn and the caller gets `Unavailable` (503, nothing
  written); once a group takes a unit its caller is shielded from the deadline and gets the
  group's real outcome, however late;
- a caller cancelled otherwise before its unit was taken (a client gone) is skipped; once taken
  its unit finishes and commits with the group;
- `close()` (app shutdown, after the grace period) cancels the groups in flight, which roll
  back unless their COMMIT was already sent, and fails everything still queued.

Units of a group run one after the other in one session, so a unit sees what the units before it
wrote (deduplication within a group works as between separate transactions). A unit must not
open another write transaction (it would wait for the one it runs in).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.background import cancel_and_wait
from gateway.domain.errors import Unavailable
from gateway.domain.storage import deadline as deadlines


class Writer(Protocol):
    """What a group needs of the database: one write transaction (`Database.write`)."""

    def write(self) -> AbstractAsyncContextManager[AsyncSession]: ...

T = TypeVar("T")
MAX_GROUP = 64  # units per group
# After a group of several units, how long the next one waits for more (see `_finished`).
GATHER_SECONDS = 0.001
MAX_WEIGHT = 256  # alerts per group (a heavier unit runs alone)
QUANTUM = 64  # alerts of credit a lane gets per round
# What a withdrawn unit's 503 asks the client to wait (the engine's contention answer says 2 s).
WITHDRAWN_RETRY_SECONDS = 2


Prepare = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


@dataclass(eq=False)
class _Unit:
    work: Callable[[AsyncSession], Awaitable[Any]]
    future: asyncio.Future[Any]
    prepare: Prepare | None = None
    lane: Hashable = None
    weight: int = 1
    deadline: deadlines.Deadline | None = None
    taken: bool = False  # a group took it: it runs (and its caller waits for the outcome)


@dataclass
class _Lane:
    units: deque[_Unit] = field(default_factory=deque)
    deficit: int = 0


class GroupCommit:
    """One per `Database`: the lanes of units waiting for a group transaction."""

    def __init__(
        self, db: Writer, max_group: int = MAX_GROUP, *, max_weight: int = MAX_WEIGHT,
        quantum: int = QUANTUM, parallel: int = 1, gather: float = GATHER_SECONDS,
    ) -> None:
        self.db = db
        self.gather = gather
        self.max_group = max_group
        self.max_weight = max_weight
        self.quantum = quantum
        self.parallel = parallel
        self._lanes: OrderedDict[Hashable, _Lane] = OrderedDict()  # round-robin order
        self._busy: set[Hashable] = set()  # lanes with a group in flight
        self._running: dict[asyncio.Task[None], list[_Unit]] = {}
        self._scheduled = False
        self._closing = False
        # Figures for tests and the benchmark: transactions committed, units they carried,
        # units withdrawn at their deadline.
        self.groups = 0
        self.units = 0
        self.withdrawn = 0

    async def run(
        self, work: Callable[[AsyncSession], Awaitable[T]], prepare: Prepare | None = None,
        *, lane: Hashable = None, weight: int = 1,
    ) -> T:
        """Run `work(session)` in a shared write transaction; return its result once that
        transaction committed (or raise what `work` raised when it ran alone). `prepare`, if
        given, runs once per group before the units, with every unit that named it: the place
        to read what they all need in one statement instead of one each. `lane` names whose
        work it is (units of one lane run in order, lanes take turns) and `weight` how much
        (ingestion: alerts)."""
        loop = asyncio.get_running_loop()
        unit = _Unit(work, loop.create_future(), prepare, lane, max(1, weight),
                     deadlines.current())
        self._lanes.setdefault(lane, _Lane()).units.append(unit)
        self._schedule_soon(loop)
        try:
            result: T = await unit.future
        except asyncio.CancelledError:
            if unit.taken:
                raise  # its group goes on without this caller (never the deadline: shielded)
            self._withdraw(unit)
            limit = unit.deadline
            if limit is None or not limit.cancellation_pending:
                raise
            limit.absorb()  # answered with a 503 instead of the deadline's 504
            self.withdrawn += 1
            raise Unavailable(
                f"the write was still queued when the request's {limit.seconds:g} s deadline "
                f"passed; nothing was written, retry in {WITHDRAWN_RETRY_SECONDS} s"
            ) from None
        return result

    def queued(self, lane: Hashable) -> int:
        """Units of `lane` waiting for a group."""
        found = self._lanes.get(lane)
        return len(found.units) if found is not None else 0

    def in_flight(self, lane: Hashable) -> bool:
        """A group holding a unit of `lane` is running (its next units wait for it)."""
        return lane in self._busy

    async def close(self) -> None:
        """Cancel the groups in flight (they roll back, unless their COMMIT was already sent:
        that one completes on the server) and fail everything queued. No group
        starts while it waits for the cancelled ones (a gather's timer may fire meanwhile);
        afterwards the queue works again (a new app on the same engine, as in the tests)."""
        self._closing = True
        try:
            running, self._running = self._running, {}
            if running:
                await cancel_and_wait(*running)
            shutting_down = Unavailable("the server is shutting down; retry")
            for units in running.values():
                for unit in units:
                    _settle(unit, exc=shutting_down)
            for lane in self._lanes.values():
                for unit in lane.units:
                    _settle(unit, exc=shutting_down)
            self._lanes.clear()
            self._busy.clear()
        finally:
            self._closing = False

    # ---- scheduling ----------------------------------------------------------------------------

    def _schedule_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        # On the next turn of the loop, so that requests arriving together start together.
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._schedule)

    def _schedule(self) -> None:
        self._scheduled = False
        if self._closing:  # `close` fails what is queued; nothing starts meanwhile
            return
        loop = asyncio.get_running_loop()
        while len(self._running) < self.parallel:
            group = self._take()
            if not group:
                return
            lanes = {unit.lane for unit in group}
            self._busy |= lanes
            # A context of its own: the group's statements and log lines belong to no single
            # request (not to whichever request happened to be first).
            task = loop.create_task(
                self._run_group(group), name="seliq-group-commit", context=contextvars.Context()
            )
            self._running[task] = group
            task.add_done_callback(
                functools.partial(self._finished, lanes=lanes, units=len(group))
            )

    def _finished(self, task: asyncio.Task[None], *, lanes: set[Hashable], units: int) -> None:
        """A group ended. What queued meanwhile goes next; after a group of several units it
        waits `gather` first, as PostgreSQL's `commit_delay` does: the callers just answered
        are concurrent senders, whose next requests are on their way, and a group's fixed cost
        (its transaction, lookups and statements: ~2.3 ms of CPU on the benchmark machine,
        against ~0.7 ms per alert) is shared by twice as many. A lone writer never waits: its
        groups are of one, and the next write of a sequential sender arrives after them."""
        if self._running.pop(task, None) is None:
            return  # closed meanwhile
        self._busy -= lanes
        if not self._lanes:
            return
        loop = asyncio.get_running_loop()
        if units > 1 and self.gather > 0 and not self._scheduled:
            self._scheduled = True
            loop.call_later(self.gather, self._schedule)
        else:
            self._schedule_soon(loop)

    def _take(self) -> list[_Unit]:
        """The next group: deficit round-robin over the lanes that have no group in flight.
        Passes go on while some lane's next unit would still fit (its credit grows each pass)."""
        group: list[_Unit] = []
        weight = 0
        while len(group) < self.max_group:
            candidates = [key for key in self._lanes if key not in self._busy]
            room = self.max_weight - weight
            if not any(self._head_fits(key, room if group else None) for key in candidates):
                return group
            for key in candidates:
                lane = self._lanes.get(key)
                if lane is None:  # emptied by `_head_fits`
                    continue
                lane.deficit += self.quantum
                while lane.units and len(group) < self.max_group:
                    unit = lane.units[0]
                    if unit.weight > lane.deficit:
                        break
                    if group and weight + unit.weight > self.max_weight:
                        break
                    lane.units.popleft()
                    lane.deficit -= unit.weight
                    if unit.future.done():  # its caller went away before it started
                        continue
                    if unit.deadline is not None and not unit.deadline.shield():
                        continue  # its deadline cancelled it already: it answers 503
                    unit.taken = True
                    group.append(unit)
                    weight += unit.weight
                if lane.units:
                    self._lanes.move_to_end(key)  # its turn is over
                else:
                    del self._lanes[key]  # an idle lane keeps no credit
                if len(group) >= self.max_group:
                    break
        return group

    def _head_fits(self, key: Hashable, room: int | None) -> bool:
        """Lane `key` has a live unit next, weighing at most `room` (None: any weight)."""
        units = self._lanes[key].units
        while units and units[0].future.done():  # callers gone before their unit started
            units.popleft()
        if not units:
            del self._lanes[key]
            return False
        return room is None or units[0].weight <= room

    def _withdraw(self, unit: _Unit) -> None:
        lane = self._lanes.get(unit.lane)
        if lane is None:
            return
        try:
            lane.units.remove(unit)
        except ValueError:
            return
        if not lane.units:
            del self._lanes[unit.lane]

    # ---- running a group -----------------------------------------------------------------------

    async def _run_group(self, group: list[_Unit]) -> None:
        # A caller cancelled between the take and now (not by its deadline: it is shielded) is
        # skipped, as if it had gone before.
        live = [unit for unit in group if not unit.future.done()]
        if live:
            await self._commit(live)

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
