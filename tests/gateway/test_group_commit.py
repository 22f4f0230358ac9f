"""Group commit (`gateway.domain.storage.group_commit`) on a real database, both backends: writes
that queue while a commit is in flight share the next transaction, nobody is answered before the
commit, and one unit's failure, a cancelled caller or a shutdown never costs another caller its
write. Lanes take turns by weight (deficit round-robin), a heavy unit runs alone, and on
PostgreSQL different lanes' groups commit side by side.

The request deadline (`gateway.domain.storage.deadline`) is driven by hand here (`expire()`), so
nothing depends on the clock: a unit still queued at its deadline is withdrawn and answers
`Unavailable` having written nothing; one whose group has started gets its real answer; a plain
`Database.write()` whose deadline passes during its COMMIT commits and is not cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.errors import Unavailable
from gateway.domain.storage import deadline
from gateway.domain.storage.engine import CommitOutcomeUnknown, Database
from tests.support import backends
from tests.support.faults import lose_the_connection_after_commit

Work = Callable[[AsyncSession], Awaitable[str]]
FOREVER = 3600.0  # a deadline the tests move by hand


@pytest.fixture
async def things_db(db_url: str, backend: str) -> AsyncIterator[Database]:
    """One table, `things (id, name UNIQUE)`, next to the migrated schema; both backends."""
    db = Database(db_url)
    key = "SERIAL" if backend == backends.POSTGRES else "INTEGER"
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS things")
        await conn.exec_driver_sql(
            f"CREATE TABLE things (id {key} PRIMARY KEY, name TEXT NOT NULL UNIQUE)"
        )
    yield db
    await db.grouped.close()
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS things")
    await db.dispose()


def insert(
    name: str, *, gate: asyncio.Event | None = None, started: asyncio.Event | None = None,
    order: list[str] | None = None,
) -> Work:
    async def work(session: AsyncSession) -> str:
        if started is not None:
            started.set()
        if gate is not None:
            await gate.wait()
        if order is not None:
            order.append(name)
        await session.execute(text("INSERT INTO things (name) VALUES (:n)"), {"n": name})
        return name

    return work


async def names(db: Database) -> list[str]:
    async with db.read() as session:
        rows = await session.execute(text("SELECT name FROM things ORDER BY name"))
        return [row[0] for row in rows]


async def hold_first_group(
    db: Database, lane: str | None = None
) -> tuple[asyncio.Event, asyncio.Task[str]]:
    """Start a group whose only unit waits on the returned gate (the commit "in flight")."""
    gate, started = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(
        db.write_grouped(insert("first", gate=gate, started=started), lane=lane)
    )
    await started.wait()
    return gate, first


async def settle() -> None:
    """Let every task that can run, run (the group scheduler starts groups on the next turn)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_writes_queued_during_a_commit_share_the_next_transaction(
    things_db: Database,
) -> None:
    gate, first = await hold_first_group(things_db)
    queued = [asyncio.create_task(things_db.write_grouped(insert(f"n{i}"))) for i in range(10)]
    await settle()
    assert not any(task.done() for task in queued)  # nobody answered before the commit
    gate.set()
    assert await first == "first"
    assert await asyncio.gather(*queued) == [f"n{i}" for i in range(10)]
    assert things_db.grouped.groups == 2 and things_db.grouped.units == 11
    assert len(await names(things_db)) == 11


async def test_a_failing_unit_fails_alone(things_db: Database) -> None:
    gate, first = await hold_first_group(things_db)
    good = [asyncio.create_task(things_db.write_grouped(insert(f"ok{i}"))) for i in range(3)]
    clash = asyncio.create_task(things_db.write_grouped(insert("first")))  # UNIQUE violation
    late = asyncio.create_task(things_db.write_grouped(insert("ok-late")))
    gate.set()
    await first
    assert await asyncio.gather(*good, late) == ["ok0", "ok1", "ok2", "ok-late"]
    with pytest.raises(IntegrityError):
        await clash
    assert await names(things_db) == ["first", "ok-late", "ok0", "ok1", "ok2"]


async def test_prepare_runs_once_per_group_with_every_unit_that_named_it(
    things_db: Database,
) -> None:
    seen: list[int] = []

    async def prepare(session: AsyncSession, works: Sequence[Any]) -> None:
        seen.append(len(works))

    gate, first = await hold_first_group(things_db)
    queued = [
        asyncio.create_task(things_db.write_grouped(insert(f"p{i}"), prepare=prepare))
        for i in range(4)
    ]
    plain = asyncio.create_task(things_db.write_grouped(insert("plain")))
    gate.set()
    await asyncio.gather(first, *queued, plain)
    assert seen == [4]


async def test_a_caller_cancelled_before_its_group_started_writes_nothing(
    things_db: Database,
) -> None:
    gate, first = await hold_first_group(things_db)
    gone = asyncio.create_task(things_db.write_grouped(insert("gone")))
    stays = asyncio.create_task(things_db.write_grouped(insert("stays")))
    await settle()
    gone.cancel()
    gate.set()
    await asyncio.gather(first, stays)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await names(things_db) == ["first", "stays"]


async def test_close_rolls_back_the_group_in_flight_and_fails_the_queue(
    things_db: Database,
) -> None:
    gate, first = await hold_first_group(things_db)
    queued = asyncio.create_task(things_db.write_grouped(insert("queued")))
    await settle()
    await things_db.grouped.close()
    with pytest.raises(Unavailable):
        await queued
    with pytest.raises((Unavailable, asyncio.CancelledError)):
        await first
    assert await names(things_db) == []
    # The queue works again afterwards (a new app on the same engine, as in the tests).
    assert await things_db.write_grouped(insert("after")) == "after"


# ---- the request deadline ----------------------------------------------------------------------


class Request:
    """A task standing for a request: its deadline (moved by hand) and what it got."""

    def __init__(self, call: Callable[[], Awaitable[Any]]) -> None:
        self.deadline: deadline.Deadline | None = None
        self.task = asyncio.create_task(self._run(call))

    async def _run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        self.deadline = deadline.Deadline(FOREVER)
        token = deadline.activate(self.deadline)
        try:
            return await call()
        finally:
            self.deadline.stop()
            deadline.deactivate(token)

    def expire(self) -> None:
        assert self.deadline is not None
        self.deadline.expire()


async def test_a_unit_still_queued_at_its_deadline_is_withdrawn_and_writes_nothing(
    things_db: Database,
) -> None:
    gate, first = await hold_first_group(things_db)
    late = Request(lambda: things_db.write_grouped(insert("late")))
    await settle()
    late.expire()
    with pytest.raises(Unavailable, match="nothing was written"):
        await late.task
    assert late.task.cancelling() == 0  # answered, not cancelled
    gate.set()
    await first
    assert things_db.grouped.withdrawn == 1
    assert await names(things_db) == ["first"]


async def test_a_unit_whose_group_started_gets_its_real_answer_past_the_deadline(
    things_db: Database,
) -> None:
    gate, started = asyncio.Event(), asyncio.Event()
    mine = Request(lambda: things_db.write_grouped(insert("mine", gate=gate, started=started)))
    await started.wait()  # its group is running
    mine.expire()
    await settle()
    assert not mine.task.done()
    gate.set()
    assert await mine.task == "mine"
    assert mine.deadline is not None and mine.deadline.passed and not mine.deadline.cancelled
    assert await names(things_db) == ["mine"]


async def test_a_plain_write_whose_deadline_passes_in_its_commit_commits_and_answers(
    things_db: Database,
) -> None:
    async def write() -> str:
        async with things_db.write() as session:
            await session.execute(text("INSERT INTO things (name) VALUES ('plain')"))
            # The deadline passes while the COMMIT is under way.
            event.listen(session.sync_session, "before_commit", lambda _: request.expire())
        return "answered"

    request = Request(write)
    assert await request.task == "answered"
    assert request.deadline is not None and request.deadline.passed
    assert await names(things_db) == ["plain"]


async def test_a_plain_write_cancelled_by_its_deadline_before_its_commit_writes_nothing(
    things_db: Database,
) -> None:
    inside = asyncio.Event()

    async def write() -> None:
        async with things_db.write() as session:
            await session.execute(text("INSERT INTO things (name) VALUES ('never')"))
            inside.set()
            await asyncio.Event().wait()  # slow work: the deadline passes here

    request = Request(write)
    await inside.wait()
    request.expire()
    with pytest.raises(asyncio.CancelledError):
        await request.task
    assert await names(things_db) == []


# ---- gathering ---------------------------------------------------------------------------------


async def test_after_a_group_of_several_the_next_waits_for_more(things_db: Database) -> None:
    """The callers a group answered are concurrent senders: the next group waits `gather` for
    their next writes (set long here, so the order is certain) and takes them too."""
    things_db.grouped.gather = 0.5
    gate = asyncio.Event()
    held = [asyncio.create_task(things_db.write_grouped(insert(f"h{i}", gate=gate)))
            for i in range(2)]
    await settle()  # both in one group, held at the gate
    queued = asyncio.create_task(things_db.write_grouped(insert("queued")))
    await settle()
    groups = things_db.grouped.groups
    gate.set()
    await asyncio.gather(*held)
    await asyncio.sleep(0.05)  # inside the gather: `queued` has not started
    assert not queued.done()
    late = asyncio.create_task(things_db.write_grouped(insert("late")))
    assert await asyncio.gather(queued, late) == ["queued", "late"]
    assert things_db.grouped.groups == groups + 2  # the held group, then both together


async def test_a_lone_writer_never_waits_for_the_gather(things_db: Database) -> None:
    """Groups of one (a sequential sender, or one behind a lone write) start at once."""
    things_db.grouped.gather = FOREVER
    for i in range(3):
        await asyncio.wait_for(things_db.write_grouped(insert(f"seq{i}")), timeout=10)
    gate, first = await hold_first_group(things_db)
    queued = asyncio.create_task(things_db.write_grouped(insert("queued")))
    await settle()
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(first, queued), timeout=10) == [
        "first", "queued",
    ]


@pytest.mark.parametrize("backend", [backends.POSTGRES])  # groups of two lanes side by side
async def test_close_starts_no_group_while_it_waits(things_db: Database, backend: str) -> None:
    """A gather armed as `close()` begins fires while close waits for a group in flight to
    roll back: it must not start a group close then never cancels (the queued unit is failed
    like the rest of the queue, and nothing of it is written)."""
    things_db.grouped.gather = 0.05
    started = asyncio.Event()

    async def slow_to_roll_back(session: AsyncSession) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # longer than the gather
            raise
        return "never"

    held = asyncio.create_task(things_db.write_grouped(slow_to_roll_back, lane="b"))
    await started.wait()
    gate = asyncio.Event()
    pair = [asyncio.create_task(things_db.write_grouped(insert(f"a{i}", gate=gate), lane="a"))
            for i in range(2)]
    await settle()  # one group of two in lane a, beside lane b's
    queued = asyncio.create_task(things_db.write_grouped(insert("queued"), lane="a"))
    await settle()
    gate.set()
    assert await asyncio.gather(*pair) == ["a0", "a1"]  # the gather is armed for `queued`
    await things_db.grouped.close()
    with pytest.raises(Unavailable):
        await queued
    with pytest.raises((Unavailable, asyncio.CancelledError)):
        await held
    assert await names(things_db) == ["a0", "a1"]


# ---- fairness ----------------------------------------------------------------------------------


async def test_lanes_take_turns_by_weight(things_db: Database) -> None:
    """With a group of lane a in flight, a queues ten 100-alert units before lane b's one small
    unit: b's is in the very next group (beside the one in flight, on PostgreSQL), not behind
    a's ten."""
    order: list[str] = []
    gate, first = await hold_first_group(things_db, lane="a")
    heavy = [
        asyncio.create_task(
            things_db.write_grouped(insert(f"a{i}", order=order), lane="a", weight=100)
        )
        for i in range(10)
    ]
    await settle()
    small = asyncio.create_task(things_db.write_grouped(insert("b", order=order), lane="b"))
    await settle()
    groups_before = things_db.grouped.groups
    gate.set()
    await first
    await small
    assert things_db.grouped.groups <= groups_before + 2  # the held group, then b's
    assert order.index("b") < 3  # at most the two a-units that fit the same group came first
    await asyncio.gather(*heavy)
    assert order[order.index("b") + 1:] + order[: order.index("b")] == [
        f"a{i}" for i in range(10)
    ]  # a's own units keep their order


async def test_a_unit_heavier_than_a_group_runs_alone(things_db: Database) -> None:
    gate, first = await hold_first_group(things_db)
    big = asyncio.create_task(things_db.write_grouped(insert("big"), lane="a", weight=1000))
    smalls = [
        asyncio.create_task(things_db.write_grouped(insert(f"s{i}"), lane=f"l{i}"))
        for i in range(5)
    ]
    await settle()
    gate.set()
    await asyncio.gather(first, big, *smalls)
    # the held group, the big unit alone, and the five small ones together (in some order)
    assert things_db.grouped.groups == 3 and things_db.grouped.units == 7


async def test_different_lanes_commit_side_by_side_on_postgres(
    things_db: Database, backend: str
) -> None:
    gate, first = await hold_first_group(things_db, lane="a")
    other = asyncio.create_task(things_db.write_grouped(insert("other"), lane="b"))
    same = asyncio.create_task(things_db.write_grouped(insert("same"), lane="a"))
    if backend == backends.POSTGRES:
        assert await other == "other"  # while lane a's group is still held
    else:
        await settle()
        assert not other.done()  # SQLite has one writer: it waits for the held group
    assert not same.done()  # a lane is in one group at a time
    gate.set()
    await asyncio.gather(first, other, same)
    assert await names(things_db) == ["first", "other", "same"]


async def test_a_group_whose_commit_outcome_is_unknown_is_not_run_again(
    things_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running each unit again alone (what a failed group does) would write them a second time
    if the COMMIT went through: every caller is told the outcome is unknown instead."""
    lose_the_connection_after_commit(things_db, monkeypatch)
    queued = [asyncio.create_task(things_db.write_grouped(insert(f"u{i}"))) for i in range(3)]
    answers = await asyncio.gather(*queued, return_exceptions=True)
    assert things_db.grouped.groups == 0  # not counted as committed
    for answer in answers:
        assert isinstance(answer, CommitOutcomeUnknown), answer
        assert isinstance(answer, Unavailable)  # 503 + Retry-After at the doors
        assert "may have been stored" in str(answer) and "Idempotency-Key" in str(answer)
    assert await names(things_db) == ["u0", "u1", "u2"]  # once each


async def test_a_plain_write_whose_commit_outcome_is_unknown_says_so(
    things_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    lose_the_connection_after_commit(things_db, monkeypatch)
    with pytest.raises(CommitOutcomeUnknown):
        async with things_db.write() as session:
            await insert("plain")(session)
    assert await names(things_db) == ["plain"]
    async with things_db.write() as session:  # the pool goes on working
        await insert("next")(session)
    assert await names(things_db) == ["next", "plain"]
