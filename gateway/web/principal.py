"""Authenticating an HTTP request: headers in, `Principal` out (or a DomainError).

Successful authentications are cached for a few seconds (`AuthCache`), which saves the two
statements of `authenticate` (key lookup, workspace tree) on almost every request.
"""

from __future__ import annotations

import hashlib
import time
from typing import Generic, TypeVar

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
    0 turns the cache off). At most `maxsize` entries, the oldest dropped first."""

    def __init__(self, ttl: float, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._entries: dict[tuple[str, str | None], tuple[float, int, V]] = {}

    @staticmethod
    def _key(authorization: str | None, workspace_ref: str | None) -> tuple[str, str | None]:
        # Hashed, so the cache holds no secrets. `surrogateescape`: a header of bytes that are
        # not UTF-8 (aiohttp keeps them as surrogates) hashes too, and is refused later.
        raw = (authorization or "").encode("utf-8", "surrogateescape")
        return hashlib.sha256(raw).hexdigest(), workspace_ref

    def get(self, authorization: str | None, workspace_ref: str | None) -> V | None:
        if self.ttl <= 0 or not authorization:
            return None
        key = self._key(authorization, workspace_ref)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, epoch, principal = entry
        if expires < time.monotonic() or epoch != revocation_epoch():
            del self._entries[key]
            return None
        return principal

    def put(
        self, authorization: str | None, workspace_ref: str | None, principal: V, epoch: int,
    ) -> None:
        if self.ttl <= 0 or not authorization:
            return
        if len(self._entries) >= self.maxsize:
            self._entries.pop(next(iter(self._entries)))
        key = self._key(authorization, workspace_ref)
        self._entries[key] = (time.monotonic() + self.ttl, epoch, principal)


AUTH_CACHE_KEY = web.AppKey("auth_cache", AuthCache[Principal])


async def principal_for(request: web.Request, db: Database) -> Principal:
    authorization = request.headers.get("Authorization")
    workspace_ref = request.headers.get("X-Workspace-ID")
    cache = request.app.get(AUTH_CACHE_KEY)
    if cache is not None and (cached := cache.get(authorization, workspace_ref)) is not None:
        return cached
    epoch = revocation_epoch()  # read before the lookup: a revocation during it is not missed
    async with db.read() as session:
        principal = await authenticate(session, authorization, workspace_ref)
    if cache is not None:
        cache.put(authorization, workspace_ref, principal, epoch)
    return principal
