"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: it can reach its database)."""

from __future__ import annotations

from aiohttp import web

from gateway.db import Database
from gateway.http.jsonio import json_response

DB_KEY = web.AppKey("db", Database)


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    db = request.app[DB_KEY]
    try:
        await db.ping()
    except Exception as exc:  # any failure to reach the database means "not ready"
        return json_response(
            {"status": "unavailable", "checks": {"database": f"error: {type(exc).__name__}"}},
            status=503,
        )
    return json_response({"status": "ready", "checks": {"database": "ok"}})
