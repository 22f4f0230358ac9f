"""Live events after commit: what subscriptions (`incidentEvents`, `alertsIngested`,
`reportCompleted`) are fed from, in one process or across several.

How an event travels:
1. A domain service that changes something records an `Event` on its write session
   (`record(session, event)`; `timeline.record`, the ingestion pipeline and the report worker do).
   The event is only a note in `session.info`: ids, workspace, topic, kind; never row data.
2. `Database.write()` hands the session's events to the broker after the transaction commits.
   A transaction that rolls back publishes nothing, and nothing is published before the commit.
3. The broker hands them to this process's `EventHub` at once, and carries them to every other
   gateway process: `MemoryBroker` (one process), `PostgresBroker` (LISTEN/NOTIFY on the
   gateway's own database) or `RedisBroker` (pub/sub, when SELIQ_REDIS_URL is set). A message
   carries its sender's origin id, so a process ignores its own when they come back, and local
   subscribers keep working while the broker reconnects. Each hub hands each event to the
   subscribers of its (topic, workspace), and the subscription loads the row itself (once per
   process and event, shared by every local subscriber), from its own database and scoped to the
   workspace, so a stray message can never leak another tenant's data.

Delivery is at most once and live only: an event published while a process is disconnected from
PostgreSQL/Redis, or dropped because a subscriber reads too slowly (that subscription then ends
with an error), is not replayed. The database stays the source of truth; a dashboard re-queries
after it re-subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.storage.engine import EVENTS_SESSION_KEY

log = logging.getLogger("seliq.events")

INCIDENT_EVENT = "incident_event"  # a timeline event (id evt_...)
ALERT_INGESTED = "alert_ingested"  # an alert through ingestion (id alt_..., kind = outcome)
REPORT_COMPLETED = "report_completed"  # a report became ready or failed (id rpt_..., kind)
TOPICS = (INCIDENT_EVENT, ALERT_INGESTED, REPORT_COMPLETED)

SESSION_KEY = EVENTS_SESSION_KEY  # where a write session collects its events
DEFAULT_CHANNEL = "seliq_events"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; events are batched below that.
MAX_NOTIFY_BYTES = 7500
SUBSCRIBER_QUEUE = 1000
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    workspace_id: str
    id: str
    incident_id: str | None = None
    kind: str | None = None

    def to_wire(self) -> list[str | None]:
        return [self.topic, self.workspace_id, self.id, self.incident_id, self.kind]

    @classmethod
    def from_wire(cls, item: Any) -> Event | None:
        if not isinstance(item, list) or len(item) != 5:
            return None
        topic, workspace_id, id_, incident_id, kind = item
        if topic not in TOPICS or not isinstance(workspace_id, str) or not isinstance(id_, str):
            return None
        return cls(topic, workspace_id, id_, incident_id, kind)


def record(session: AsyncSession, event: Event) -> None:
    """Note `event` on the write session; it is published if and after the session commits."""
    session.info.setdefault(SESSION_KEY, []).append(event)


def encode(events: Sequence[Event], origin: str = "") -> list[bytes]:
    """Messages `{"o": origin, "e": [event, ...]}`, each under MAX_NOTIFY_BYTES."""
    chunks: list[bytes] = []
    batch: list[list[str | None]] = []
    overhead = len(orjson.dumps({"o": origin, "e": []}))
    size = overhead
    for event in events:
        wire = event.to_wire()
        item_size = len(orjson.dumps(wire)) + 1
        if batch and size + item_size > MAX_NOTIFY_BYTES:
            chunks.append(orjson.dumps({"o": origin, "e": batch}))
            batch, size = [], overhead
        batch.append(wire)
        size += item_size
    if batch:
        chunks.append(orjson.dumps({"o": origin, "e": batch}))
    return chunks


def decode(payload: str | bytes) -> tuple[str, list[Event]]:
    """(origin, events) of a message; junk gives no events."""
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError:
        log.warning("ignored an event message that is not JSON")
        return "", []
    if not isinstance(message, dict) or not isinstance(message.get("e"), list):
        return "", []
    origin = message.get("o")
    events = [event for item in message["e"] if (event := Event.from_wire(item)) is not None]
    return origin if isinstance(origin, str) else "", events


class SubscriberTooSlow(Exception):
    """The subscriber's queue overflowed: events were dropped, so its stream ends."""


class StreamClosed(Exception):
    """The hub closed (the process is shutting down)."""


class Delivery:
    """One event as handed to this process's subscribers. `load` fetches what the event points
    at once per process, however many local subscribers want it."""

    __slots__ = ("_loaded", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._loaded: asyncio.Future[Any] | None = None

    async def load(self, fetch: Callable[[Event], Awaitable[Any]]) -> Any:
        if self._loaded is None:
            self._loaded = asyncio.ensure_future(fetch(self.event))
        return await asyncio.shield(self._loaded)


_END = object()
_OVERFLOW = object()


class Subscriber:
    """A bounded queue of deliveries for one (topic, workspace) subscription."""

    def __init__(self, hub: EventHub, key: tuple[str, str], size: int) -> None:
        self.hub = hub
        self.key = key
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=size)
        self.dropped = False

    def offer(self, item: Any) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_OVERFLOW)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Delivery:
        item = await self.queue.get()
        if item is _END:
            raise StreamClosed("the server is shutting down")
        if item is _OVERFLOW:
            raise SubscriberTooSlow(
                "events were dropped because this subscription read them too slowly; "
                "subscribe again and re-query"
            )
        delivery: Delivery = item
        return delivery

    def close(self) -> None:
        self.hub._remove(self)


class EventHub:
    """This process's subscribers, by (topic, workspace)."""

    def __init__(self, queue_size: int = SUBSCRIBER_QUEUE) -> None:
        self.queue_size = queue_size
        self._subscribers: dict[tuple[str, str], set[Subscriber]] = defaultdict(set)
        self.closed = False

    @contextlib.contextmanager
    def subscribe(self, topic: str, workspace_id: str) -> Any:
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}")
        subscriber = Subscriber(self, (topic, workspace_id), self.queue_size)
        if self.closed:
            subscriber.offer(_END)
        else:
            self._subscribers[subscriber.key].add(subscriber)
        try:
            yield subscriber
        finally:
            subscriber.close()

    def _remove(self, subscriber: Subscriber) -> None:
        group = self._subscribers.get(subscriber.key)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._subscribers[subscriber.key]

    def dispatch(self, events: Iterable[Event]) -> None:
        for event in events:
            group = self._subscribers.get((event.topic, event.workspace_id))
            if not group:
                continue
            delivery = Delivery(event)
            for subscriber in list(group):
                subscriber.offer(delivery)

    @property
    def subscriber_count(self) -> int:
        return sum(len(group) for group in self._subscribers.values())

    def close(self) -> None:
        """End every local subscription (shutdown)."""
        self.closed = True
        for group in list(self._subscribers.values()):
            for subscriber in list(group):
                subscriber.offer(_END)
