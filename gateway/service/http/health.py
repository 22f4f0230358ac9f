"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: it can reach its
database; it also says whether rate limits are shared through Redis or local, and how live
events travel)."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.ratelimit.local import Limiter
from gateway.domain.storage.engine import Database
from gateway.service.lifecycle import BROKER_KEY
from gateway.web.jsonio import json_response

DB_KEY = web.AppKey("db", Database)
LIMITER_KEY = web.AppKey("limiter", Limiter)


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    db = request.app[DB_KEY]
    limiter = request.app.get(LIMITER_KEY)
    checks = {"rate_limits": limiter.status() if limiter else "local"}
    broker = request.app.get(BROKER_KEY)
    if broker is not None:  # live events: memory, postgres or redis (listening/reconnecting)
        checks["events"] = broker.status()
    try:
        await db.ping()
    except Exception as exc:  # any failure to reach the database means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
        return json_response({"status": "unavailable", "checks": checks}, status=503)
    checks["database"] = "ok"
    return json_response({"status": "ready", "checks": checks})
