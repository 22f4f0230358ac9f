"""Authenticating an HTTP request: headers in, `Principal` out (or a DomainError)."""

from __future__ import annotations

from aiohttp import web

from gateway.auth import Principal, authenticate
from gateway.db import Database

PRINCIPAL_KEY = web.RequestKey("principal", Principal)


async def principal_for(request: web.Request, db: Database) -> Principal:
    async with db.read() as session:
        return await authenticate(
            session,
            request.headers.get("Authorization"),
            request.headers.get("X-Workspace-ID"),
        )
