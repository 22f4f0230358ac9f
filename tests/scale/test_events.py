"""The event machinery underneath subscriptions: publishing after commit only, the local hub,
the wire format, and the brokers that carry events between processes (PostgreSQL LISTEN/NOTIFY,
Redis pub/sub), including reconnecting after the connection is lost."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from gateway.domain.events import brokers
from gateway.domain.events import hub as events
from gateway.domain.events.brokers import MemoryBroker, PostgresBroker, RedisBroker
from gateway.domain.events.hub import (
    ALERT_INGESTED,
    INCIDENT_EVENT,
    REPORT_COMPLETED,
    Event,
    EventHub,
)
from gateway.domain.incidents.timeline import record
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Incident
from tests.support.data import Tenants
from tests.support.services import require_postgres, require_redis


def event(number: int = 0, workspace: str = "ws_a", topic: str = INCIDENT_EVENT) -> Event:
    return Event(topic, workspace, f"evt_{number:026d}", "inc_1", "note.added")


# --- after commit ---------------------------------------------------------------------------------


async def test_a_write_publishes_its_events_after_commit_and_a_rollback_none(
    db: Database, tenants: Tenants
) -> None:
    published: list[list[Event]] = []
    db.publish = lambda batch: published.append(list(batch))
    incident_id = tenants.acme.incidents[0].id

    with pytest.raises(ValueError, match="no"):
        async with db.write() as session:
            row = await session.get(Incident, incident_id)
            assert row is not None
            record(session, row, "note.added", "t", "one")
            await session.flush()
            raise ValueError("no")
    assert published == []

    async with db.write() as session:
        row = await session.get(Incident, incident_id)
        assert row is not None
        first = record(session, row, "note.added", "t", "two")
        second = record(session, row, "assignee.changed", "t", "three")
        assert published == []  # not before the commit
    assert published == [[
        Event(INCIDENT_EVENT, tenants.acme.id, first.id, incident_id, "note.added"),
        Event(INCIDENT_EVENT, tenants.acme.id, second.id, incident_id, "assignee.changed"),
    ]]

    # A session that recorded nothing publishes nothing; a failing publisher fails no write.
    async with db.write():
        pass
    assert len(published) == 1

    def broken(batch: Sequence[Event]) -> None:
        raise RuntimeError("broker down")

    db.publish = broken
    async with db.write() as session:
        row = await session.get(Incident, incident_id)
        assert row is not None
        record(session, row, "note.added", "t", "four")


# --- the hub and the wire format -----------------------------------------------------------------


async def test_the_hub_delivers_by_topic_and_workspace() -> None:
    hub = EventHub()
    with hub.subscribe(INCIDENT_EVENT, "ws_a") as a, hub.subscribe(ALERT_INGESTED, "ws_a") as b, \
            hub.subscribe(INCIDENT_EVENT, "ws_b") as c:
        assert hub.subscriber_count == 3
        hub.dispatch([event(1, "ws_a"), event(2, "ws_b"), event(3, "ws_a", ALERT_INGESTED)])
        assert (await anext(a)).event.id.endswith("1")
        assert (await anext(c)).event.id.endswith("2")
        assert (await anext(b)).event.id.endswith("3")
        assert a.queue.empty() and b.queue.empty() and c.queue.empty()
    assert hub.subscriber_count == 0


async def test_one_fetch_per_event_for_all_local_subscribers() -> None:
    hub = EventHub()
    calls = []

    async def fetch(e: Event) -> str:
        calls.append(e.id)
        await asyncio.sleep(0.01)
        return "row"

    with hub.subscribe(INCIDENT_EVENT, "ws_a") as one, hub.subscribe(INCIDENT_EVENT, "ws_a") as two:
        hub.dispatch([event(7)])
        first, second = await anext(one), await anext(two)
        assert first is second
        assert await asyncio.gather(first.load(fetch), second.load(fetch)) == ["row", "row"]
    assert calls == [event(7).id]


async def test_an_overflowing_subscriber_ends_and_closing_ends_all() -> None:
    hub = EventHub(queue_size=2)
    with hub.subscribe(INCIDENT_EVENT, "ws_a") as slow, hub.subscribe(INCIDENT_EVENT, "ws_b") as ok:
        hub.dispatch([event(n) for n in range(5)])
        with pytest.raises(events.SubscriberTooSlow):
            await anext(slow)
        hub.close()
        with pytest.raises(events.StreamClosed):
            await anext(ok)
    with hub.subscribe(INCIDENT_EVENT, "ws_a") as late, pytest.raises(events.StreamClosed):
        await anext(late)


def test_the_wire_format_round_trips_in_chunks_postgres_accepts() -> None:
    many = [event(n, f"ws_{n % 7}") for n in range(500)]
    many.append(Event(REPORT_COMPLETED, "ws_x", "rpt_1", None, "ready"))
    chunks = events.encode(many, "origin-1")
    assert len(chunks) > 1
    assert all(len(chunk) < 8000 for chunk in chunks)
    decoded = [events.decode(chunk) for chunk in chunks]
    assert {origin for origin, _ in decoded} == {"origin-1"}
    assert [e for _, batch in decoded for e in batch] == many
    # Junk is dropped, never raised.
    assert events.decode(b"not json") == ("", [])
    assert events.decode(b'[["incident_event", "ws", "id", null, null]]') == ("", [])
    assert events.decode(
        b'{"o": 1, "e": [["bogus-topic", "ws", "id", null, null], [1, 2], "x"]}'
    ) == ("", [])


def test_the_broker_follows_the_settings() -> None:
    assert isinstance(brokers.build_broker("sqlite+aiosqlite:///x.db"), MemoryBroker)
    assert isinstance(
        brokers.build_broker("postgresql+asyncpg://u@h/db"), PostgresBroker
    )
    assert isinstance(
        brokers.build_broker("postgresql+asyncpg://u@h/db", "redis://127.0.0.1:6379/0"),
        RedisBroker,
    )
    assert brokers.asyncpg_dsn("postgresql+asyncpg://u:p%40ss@h:5433/db?ssl=require") == (
        "postgresql://u:p%40ss@h:5433/db?ssl=require"
    )


# --- brokers between processes (two brokers stand for two processes) -----------------------------


async def _two(
    make: type[PostgresBroker] | type[RedisBroker], url: str
) -> AsyncIterator[tuple[PostgresBroker | RedisBroker, PostgresBroker | RedisBroker]]:
    channel = f"seliq_test_{secrets.token_hex(4)}"
    first, second = make(url, channel), make(url, channel)
    await first.start()
    await second.start()
    try:
        assert await first.wait_listening(10) and await second.wait_listening(10)
        yield first, second
    finally:
        await first.stop()
        await second.stop()


async def _carries_events_both_ways(
    first: PostgresBroker | RedisBroker, second: PostgresBroker | RedisBroker
) -> None:
    for offset, (sender, receiver) in enumerate(((first, second), (second, first))):
        with receiver.hub.subscribe(INCIDENT_EVENT, "ws_a") as remote, \
                sender.hub.subscribe(INCIDENT_EVENT, "ws_a") as local, \
                receiver.hub.subscribe(INCIDENT_EVENT, "ws_b") as elsewhere:
            # several NOTIFY payloads
            batch = [event(n) for n in range(offset * 200, offset * 200 + 200)]
            sender.publish(batch)
            async with asyncio.timeout(5):
                got_remote = [(await anext(remote)).event for _ in batch]
                got_local = [(await anext(local)).event for _ in batch]
            assert got_remote == batch and got_local == batch
            assert elsewhere.queue.empty()


@pytest.fixture
async def postgres_brokers() -> AsyncIterator[tuple[PostgresBroker, PostgresBroker]]:
    url = require_postgres()
    async for pair in _two(PostgresBroker, url):
        yield pair  # type: ignore[misc]


@pytest.fixture
async def redis_brokers() -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    url = require_redis()
    async for pair in _two(RedisBroker, url):
        yield pair  # type: ignore[misc]


async def test_postgres_listen_notify_carries_events(
    postgres_brokers: tuple[PostgresBroker, PostgresBroker],
) -> None:
    await _carries_events_both_ways(*postgres_brokers)


async def test_redis_pubsub_carries_events(
    redis_brokers: tuple[RedisBroker, RedisBroker],
) -> None:
    await _carries_events_both_ways(*redis_brokers)


async def test_postgres_broker_reconnects_after_losing_its_connections(
    postgres_brokers: tuple[PostgresBroker, PostgresBroker],
) -> None:
    first, second = postgres_brokers
    first.publish([event(0)])  # so that the sender has a connection too
    async with asyncio.timeout(5):
        while first.sent < 1:  # noqa: ASYNC110 (polling a counter)
            await asyncio.sleep(0.01)
    conn = await asyncpg.connect(second.dsn)
    try:  # kill both brokers' listening connections and the first one's sending connection
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "AND (query = $1 OR query LIKE 'SELECT pg_notify%')",
            f'LISTEN "{first.channel}"',
        )
    finally:
        await conn.close()
    assert killed >= 3
    async with asyncio.timeout(15):
        while first.connects < 2 or second.connects < 2:  # noqa: ASYNC110 (polling counters)
            await asyncio.sleep(0.05)
        with second.hub.subscribe(INCIDENT_EVENT, "ws_a") as remote:
            while True:  # the first batch after the loss may go down with the old sender
                first.publish([event(1)])
                try:
                    async with asyncio.timeout(1):
                        assert (await anext(remote)).event == event(1)
                        break
                except TimeoutError:
                    continue


async def test_an_unreachable_redis_still_serves_this_processes_subscribers() -> None:
    broker = RedisBroker("redis://127.0.0.1:1/0", "seliq_nowhere")
    await broker.start()
    try:
        with broker.hub.subscribe(INCIDENT_EVENT, "ws_a") as local:
            broker.publish([event(1)])  # fails nothing
            assert (await anext(local)).event == event(1)
        assert not await broker.wait_listening(0.3)
        assert broker.status().startswith("redis (reconnecting")
    finally:
        async with asyncio.timeout(10):
            await broker.stop()


async def test_a_process_ignores_its_own_messages_when_they_come_back(
    redis_brokers: tuple[RedisBroker, RedisBroker],
) -> None:
    first, second = redis_brokers
    with first.hub.subscribe(INCIDENT_EVENT, "ws_a") as local:
        first.publish([event(1)])
        second.publish([event(2)])
        async with asyncio.timeout(5):
            assert (await anext(local)).event == event(1)
            assert (await anext(local)).event == event(2)
        await asyncio.sleep(0.3)
        assert local.queue.empty()  # event 1 was not delivered a second time
