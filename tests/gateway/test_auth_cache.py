"""The authentication cache (`gateway.web.principal.AuthCache`): requests that miss one entry at
the same time share one lookup, through the server for API keys and for the webhook's token, and
a shared lookup's failure or a waiter's cancellation reaches only whom it should."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from gateway.domain.storage.engine import Database
from gateway.web.principal import AuthCache
from tests.ingest.conftest import make_hook, post
from tests.support.data import Tenants
from tests.support.server import Server

CONCURRENT = 20


@contextmanager
def statements_reading(db: Database, table: str) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs that read `table`."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if f"FROM {table}" in statement or f"JOIN {table}" in statement:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_concurrent_requests_with_one_key_authenticate_once(
    server: Server, db: Database, tenants: Tenants
) -> None:
    with statements_reading(db, "api_keys") as lookups:
        answers = await asyncio.gather(*(
            server.graphql("{ viewer { id } }", key=tenants.acme.key) for _ in range(CONCURRENT)
        ))
    assert {a["data"]["viewer"]["id"] for a in answers} == {answers[0]["data"]["viewer"]["id"]}
    assert len(lookups) == 1


async def test_concurrent_webhook_posts_find_their_webhook_once(
    server: Server, db: Database, tenants: Tenants
) -> None:
    hook = await make_hook(db, tenants.acme.id)
    with statements_reading(db, "webhook_tokens") as lookups:
        replies = await asyncio.gather(*(
            post(server, hook.path(), {"title": f"herd {n}", "fingerprint": f"herd-{n}"})
            for n in range(CONCURRENT)
        ))
    assert [r.status for r in replies] == [202] * CONCURRENT
    assert len(lookups) == 1


async def test_a_shared_lookup_fails_every_waiter_and_is_not_kept() -> None:
    cache: AuthCache[str] = AuthCache(ttl=60)
    gate = asyncio.Event()
    calls = 0

    async def refused() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise PermissionError("no such key")

    waiters = [asyncio.create_task(cache.get_or_load("Bearer k", None, refused))
               for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*waiters, return_exceptions=True)
    assert calls == 1 and all(isinstance(a, PermissionError) for a in answers)

    async def accepted() -> str:
        return "principal"

    assert await cache.get_or_load("Bearer k", None, accepted) == "principal"  # asked again


async def test_a_cancelled_waiter_leaves_the_lookup_to_the_others() -> None:
    cache: AuthCache[str] = AuthCache(ttl=60)
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "principal"

    first = asyncio.create_task(cache.get_or_load("Bearer k", "ws", slow))
    second = asyncio.create_task(cache.get_or_load("Bearer k", "ws", slow))
    await asyncio.sleep(0)
    first.cancel()  # e.g. its request's deadline passed
    gate.set()
    assert await second == "principal"
    with pytest.raises(asyncio.CancelledError):
        await first

    async def never() -> str:
        raise AssertionError("the entry was kept")

    assert await cache.get_or_load("Bearer k", "ws", never) == "principal"
