"""Authenticating an HTTP request: headers in, `Principal` out (or a DomainError).

Successful authentications are cached for a few seconds (`AuthCache`), which saves the two
statements of `authenticate` (key lookup, workspace tree) on almost every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from aiohttp import web

from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import Principal, authenticate, revocation_epoch

PRINCIPAL_KEY = web.RequestKey("principal", Principal)
V = TypeVar("V")


class AuthCache(Generic[V]):
    """(credential hash, X-Workspace-ID) -> what it authenticated (a Principal; the webhook
    door's target), for `ttl` seconds; failures are never cached.

    Bounds: a key revoked through this process (`revoke_key`) stops working at once; a key
    revoked by another process (the CLI, another worker), a new workspace below the key's, a
    changed tier or rate limit take effect within `ttl` seconds (SELIQ_AUTH_CACHE_SECONDS;
    0 turns the cache off). At most `maxsize` entries, the oldest dropped first.

    Requests that miss one entry at the same time share one lookup: when a busy credential's
    entry expired, every request in flight used to ask the database (16 lookups instead of one
    at the webhook benchmark's 16 senders; as many as there are senders in a storm, each holding
    a pooled connection the writes need)."""

    def __init__(self, ttl: float, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._entries: dict[tuple[str, str | None], tuple[float, int, V]] = {}
        self._loading: dict[tuple[str, str | None], asyncio.Future[V | None]] = {}

    @staticmethod
    def _key(authorization: str | None, workspace_ref: str | None) -> tuple[str, str | None]:
        # Hashed, so the cache holds no secrets. `surrogateescape`: a header of bytes that are
        # not UTF-8 (aiohttp keeps them as surrogates) hashes too, and is refused later.
        raw = (authorization or "").encode("utf-8", "surrogateescape")
        return hashlib.sha256(raw).hexdigest(), workspace_ref

    async def get_or_load(
        self, authorization: str | None, workspace_ref: str | None,
        load: Callable[[], Awaitable[V | None]],
    ) -> V | None:
        """What the credential authenticated: the cached value, else `load()`'s (kept unless
        None). Callers waiting on a shared lookup each get its value or its exception; one
        that is cancelled (its deadline) leaves the lookup to the others."""
        if self.ttl <= 0 or not authorization:
            return await load()
        key = self._key(authorization, workspace_ref)
        entry = self._entries.get(key)
        if entry is not None:
            expires, epoch, value = entry
            if expires >= time.monotonic() and epoch == revocation_epoch():
                return value
            del self._entries[key]
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key, load))
            loading.add_done_callback(_retrieved)
        return await asyncio.shield(loading)

    async def _load(
        self, key: tuple[str, str | None], load: Callable[[], Awaitable[V | None]]
    ) -> V | None:
        epoch = revocation_epoch()  # read before the lookup: a revocation during it is not missed
        try:
            value = await load()
        finally:
            del self._loading[key]
        if value is not None:
            if len(self._entries) >= self.maxsize:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (time.monotonic() + self.ttl, epoch, value)
        return value


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A lookup whose every waiter was cancelled still had its failure looked at (no "exception
    was never retrieved" at garbage collection): each waiter that remained got it."""
    if not future.cancelled():
        future.exception()


AUTH_CACHE_KEY = web.AppKey("auth_cache", AuthCache[Principal])


async def principal_for(request: web.Request, db: Database) -> Principal:
    authorization = request.headers.get("Authorization")
    workspace_ref = request.headers.get("X-Workspace-ID")

    async def lookup() -> Principal:
        async with db.read() as session:
            return await authenticate(session, authorization, workspace_ref)

    cache = request.app.get(AUTH_CACHE_KEY)
    if cache is None:
        return await lookup()
    principal = await cache.get_or_load(authorization, workspace_ref, lookup)
    assert principal is not None  # `authenticate` raises rather than answer None
    return principal
