"""Brokers carry committed events between gateway processes: `MemoryBroker` (one process),
`PostgresBroker` (LISTEN/NOTIFY on the gateway's own database) and `RedisBroker` (pub/sub).
Each hands events to its process's `EventHub` at once and ignores its own messages when they
come back; see `gateway.domain.events.hub` for the whole path of an event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from gateway.domain.background import cancel_and_wait
from gateway.domain.events.hub import (
    DEFAULT_CHANNEL,
    RECONNECT_SECONDS,
    Event,
    EventHub,
    decode,
    encode,
)

log = logging.getLogger("seliq.events")


class Broker(Protocol):
    hub: EventHub
    name: str

    def publish(self, events: Sequence[Event]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> str: ...


class MemoryBroker:
    """One process: publishing is dispatching."""

    name = "memory"

    def __init__(self, hub: EventHub | None = None) -> None:
        self.hub = hub or EventHub()

    def publish(self, events: Sequence[Event]) -> None:
        self.hub.dispatch(events)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.hub.close()

    def status(self) -> str:
        return "memory (this process only)"


class _RemoteBroker:
    """Shared machinery of the brokers that go through a server: local subscribers get events
    at once; an outbound queue drained by a sender task carries them to the other processes (a
    request never waits on the broker, and its events keep their order); a listener task
    reconnects with back-off and dispatches what the other processes sent."""

    name = "remote"

    def __init__(self, channel: str, hub: EventHub | None = None) -> None:
        self.channel = channel
        self.hub = hub or EventHub()
        self.origin = secrets.token_hex(8)  # this process's messages, to skip them on return
        self._outbox: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()
        self.sent = 0
        self.connects = 0  # how many times the listener (re)connected

    def publish(self, events: Sequence[Event]) -> None:
        if events:
            self.hub.dispatch(events)
            self._outbox.put_nowait(list(events))

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_listening(), name=f"seliq-{self.name}-listener"),
            asyncio.create_task(self._keep_sending(), name=f"seliq-{self.name}-sender"),
        ]

    async def wait_listening(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self.listening.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self, flush_seconds: float = 5.0) -> None:
        """Send what is still queued (up to `flush_seconds`), then stop."""
        try:
            async with asyncio.timeout(flush_seconds):
                await self._outbox.join()
        except TimeoutError:
            log.warning("%s broker: %d event batch(es) not sent", self.name, self._outbox.qsize())
        await cancel_and_wait(*self._tasks, ignore_errors=True)
        self._tasks = []
        self.hub.close()
        await self._close()

    def status(self) -> str:
        if self.listening.is_set():
            return f"{self.name} (listening)"
        return f"{self.name} (reconnecting: other processes' events are not arriving)"

    def _received(self, payload: str | bytes) -> None:
        origin, events = decode(payload)
        if origin != self.origin:
            self.hub.dispatch(events)

    async def _keep_listening(self) -> None:
        attempt = 0
        while True:
            try:
                await self._listen()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s broker: listener lost (%s); reconnecting", self.name, exc)
            self.listening.clear()
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    async def _keep_sending(self) -> None:
        attempt = 0
        while True:
            batch = await self._outbox.get()
            # Take everything already waiting: one round trip for a burst.
            while not self._outbox.empty():
                batch.extend(self._outbox.get_nowait())
                self._outbox.task_done()
            try:
                for payload in encode(batch, self.origin):
                    await self._send(payload)
                self.sent += len(batch)
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "%s broker: %d event(s) not published (%s)", self.name, len(batch), exc
                )
                await self._reset_sender()
                await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
                attempt += 1
            finally:
                self._outbox.task_done()

    async def _listen(self) -> None:
        raise NotImplementedError

    async def _send(self, payload: bytes) -> None:
        raise NotImplementedError

    async def _reset_sender(self) -> None:
        return None

    async def _close(self) -> None:
        return None


def asyncpg_dsn(database_url: str) -> str:
    """`postgresql+asyncpg://...` (SQLAlchemy) as the `postgresql://...` DSN asyncpg takes."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )


class PostgresBroker(_RemoteBroker):
    """LISTEN/NOTIFY on the gateway's database: one listening and one sending connection per
    process, outside the request pool."""

    name = "postgres"

    def __init__(self, database_url: str, channel: str, hub: EventHub | None = None) -> None:
        super().__init__(channel, hub)
        self.dsn = asyncpg_dsn(database_url)
        self._sender: Any = None

    async def _listen(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(
                self.channel, lambda _conn, _pid, _channel, payload: self._received(payload)
            )
            self.connects += 1
            self.listening.set()
            log.info("postgres broker: listening on channel %s", self.channel)
            await lost.wait()
            raise ConnectionError("the LISTEN connection was closed")
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _send(self, payload: bytes) -> None:
        import asyncpg

        if self._sender is None or self._sender.is_closed():
            self._sender = await asyncpg.connect(self.dsn)
        await self._sender.execute("SELECT pg_notify($1, $2)", self.channel, payload.decode())

    async def _reset_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(Exception):
                sender.terminate()

    async def _close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(Exception):
                await sender.close(timeout=2)


class RedisBroker(_RemoteBroker):
    """Redis pub/sub (SELIQ_REDIS_URL): one subscribed connection and one client per process."""

    name = "redis"

    def __init__(self, redis_url: str, channel: str, hub: EventHub | None = None) -> None:
        super().__init__(channel, hub)
        import redis.asyncio as redis

        self.client = redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=None)

    async def _listen(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self.connects += 1
            self.listening.set()
            log.info("redis broker: subscribed to channel %s", self.channel)
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None and message.get("type") == "message":
                    self._received(message["data"])
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _send(self, payload: bytes) -> None:
        await self.client.publish(self.channel, payload)

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()


def build_broker(
    database_url: str, redis_url: str | None = None, channel: str = DEFAULT_CHANNEL
) -> Broker:
    """Redis when configured, else LISTEN/NOTIFY on PostgreSQL, else one process in memory."""
    if redis_url:
        return RedisBroker(redis_url, channel)
    if database_url.startswith("postgresql"):
        return PostgresBroker(database_url, channel)
    return MemoryBroker()
