"""Fair writes between workspaces, both backends: while workspace A has six 1,000-alert batches
queued, workspace B's single alerts, posted one after another, are all accepted, each committed
after at most one of A's batches (the one in flight), and none of A's batches is refused. Counted
by the order groups committed in, never by time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.group_commit import GroupCommit
from tests.ingest.conftest import Hook, alerts_of, post
from tests.support.server import Server

BATCHES = 6
BATCH_SIZE = 1000
SINGLES = 20


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Fairness is what is tested here, not the deadline: a slow, shared test machine must not
    # turn A's last queued batch into a 503 (tests/ingest/test_deadline.py tests that answer).
    return settings.model_copy(update={"request_timeout_seconds": 300})


def batch(number: int) -> dict[str, Any]:
    return {"alerts": [
        {"title": f"storm {number}-{n}", "fingerprint": f"storm-{number}-{n}",
         "labels": {"alertname": "storm", "host": f"h{n % 5}"}}
        for n in range(BATCH_SIZE)
    ]}


class Journal:
    """What the group commit did, in order: ("queued", lane, weight) when a unit is queued,
    ("committed", [(lane, weight), ...]) when a group committed."""

    def __init__(self, grouped: GroupCommit, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entries: list[tuple[Any, ...]] = []
        self.changed = asyncio.Event()
        run, commit = grouped.run, grouped._commit

        async def logged_run(
            work: Callable[[AsyncSession], Awaitable[Any]], prepare: Any = None, *,
            lane: Hashable = None, weight: int = 1,
        ) -> Any:
            self.entries.append(("queued", lane, weight))
            self.changed.set()
            return await run(work, prepare, lane=lane, weight=weight)

        async def logged_commit(group: list[Any]) -> None:
            before = grouped.groups
            await commit(group)
            if grouped.groups > before:  # committed as one group (not re-run unit by unit)
                self.entries.append(("committed", [(u.lane, u.weight) for u in group]))

        monkeypatch.setattr(grouped, "run", logged_run)
        monkeypatch.setattr(grouped, "_commit", logged_commit)

    async def wait_queued(self, count: int) -> None:
        while sum(1 for entry in self.entries if entry[0] == "queued") < count:
            self.changed.clear()
            await self.changed.wait()

    def batches_committed_while_queued(self, lane: str, other: str) -> list[int]:
        """For each unit of `lane`, in order: how many groups holding a unit of `other`
        committed between its queueing and its own group's commit."""
        waiting: list[int] = []  # per queued unit of `lane`: count so far
        done: list[int] = []
        for entry in self.entries:
            if entry[0] == "queued" and entry[1] == lane:
                waiting.append(0)
            elif entry[0] == "committed":
                lanes = {unit_lane for unit_lane, _ in entry[1]}
                ours = sum(1 for unit_lane, _ in entry[1] if unit_lane == lane)
                if other in lanes:
                    waiting = [count + 1 for count in waiting]
                for _ in range(ours):
                    done.append(waiting.pop(0))
        return done


async def test_a_storm_of_batches_does_not_hold_up_another_workspace(
    server: Server, db: Database, hooks: dict[str, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = hooks["acme"], hooks["globex"]
    journal = Journal(db.grouped, monkeypatch)
    storm = [asyncio.create_task(post(server, a.path(), batch(n))) for n in range(BATCHES)]
    await journal.wait_queued(BATCHES)  # every batch is parsed and queued
    singles = []
    for n in range(SINGLES):
        singles.append(await post(server, b.path(), {
            "title": f"quiet {n}", "fingerprint": f"quiet-{n}", "labels": {"host": "q"},
        }))
    storm_replies = await asyncio.gather(*storm)
    assert [r.status for r in singles] == [202] * SINGLES
    assert [r.status for r in storm_replies] == [202] * BATCHES  # none refused
    assert [r.body["accepted"] for r in storm_replies] == [BATCH_SIZE] * BATCHES
    assert len(await alerts_of(db, b.workspace_id)) - 6 == SINGLES  # (the fixture's own six)
    # Each of B's alerts waited for at most one of A's batches: the group in flight.
    waited = journal.batches_committed_while_queued(b.workspace_id, a.workspace_id)
    assert len(waited) == SINGLES
    assert max(waited) <= 1, waited
    # ... and A's batches each ran in a group of their own, whole.
    batch_groups = [
        e[1] for e in journal.entries
        if e[0] == "committed" and any(lane == a.workspace_id for lane, _ in e[1])
    ]
    assert batch_groups == [[(a.workspace_id, BATCH_SIZE)]] * BATCHES
