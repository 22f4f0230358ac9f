"""The hand-written reference: what the dashboard query and `GET /v1/incidents` would cost written
by hand as plain aiohttp handlers over direct SQL.

It authenticates the same way (SHA-256 of the bearer key, looked up through the unique index),
runs one statement per level (the incident page, then the alerts and the timeline of those
incidents with a window function) through aiosqlite, the same driver the gateway uses, and
serialises with orjson without options, as the gateway does. It answers byte-identical JSON: the
benchmark checks that before it times anything. It does not rate-limit, log or count statements.

Run it on its own: `python -m bench.reference --database PATH --port PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import aiosqlite
import orjson
from aiohttp import web

from bench.queries import DASHBOARD_ALERTS, DASHBOARD_EVENTS, dashboard_cost
from gateway.service.processes import event_loop_factory

DB_KEY = web.AppKey("db", aiosqlite.Connection)
UNAUTHENTICATED = orjson.dumps({"error": "invalid or revoked API key"})

AUTH_SQL = "SELECT workspace_id, revoked_at FROM api_keys WHERE secret_hash = ?"
INCIDENT_COLUMNS = (
    "id, number, title, status, severity, assignee, alert_count, created_at, updated_at"
)
INCIDENTS_SQL = (
    f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE workspace_id = ? "
    "ORDER BY created_at DESC, id DESC LIMIT ?"
)
REST_INCIDENTS_SQL = (
    f"SELECT {INCIDENT_COLUMNS}, acknowledged_at, resolved_at FROM incidents "
    "WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
)
ALERTS_SQL = """
SELECT incident_id, id, title, severity, status, source, received_at FROM (
  SELECT incident_id, id, title, severity, status, source, received_at,
         row_number() OVER (PARTITION BY incident_id ORDER BY received_at DESC, id DESC) AS rn
  FROM alerts WHERE workspace_id = ? AND incident_id IN ({marks})
) WHERE rn <= ? ORDER BY incident_id, rn
"""
EVENTS_SQL = """
SELECT incident_id, id, type, at, actor, message FROM (
  SELECT incident_id, id, type, at, actor, message,
         row_number() OVER (PARTITION BY incident_id ORDER BY at DESC, id DESC) AS rn
  FROM timeline_events WHERE workspace_id = ? AND incident_id IN ({marks})
) WHERE rn <= ? ORDER BY incident_id, rn DESC
"""


def iso_z(stored: str | None) -> str | None:
    """`2026-01-01 00:00:00.137000` (SQLite's UTC text) -> `2026-01-01T00:00:00.137Z`."""
    if stored is None:
        return None
    return f"{stored[:10]}T{stored[11:23]}Z"


def cursor(stored: str, row_id: str) -> str:
    """The gateway's keyset cursor: base64url of `["<isoformat with offset>","<id>"]`."""
    fraction = stored[19:26]
    when = f"{stored[:10]}T{stored[11:19]}{'' if fraction == '.000000' else fraction}+00:00"
    raw = orjson.dumps([when, row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_EARLIEST = datetime(2, 1, 1)  # gateway.domain.timeutil.EARLIEST, naive UTC as stored


def rest_cursor(stored: str, row_id: str) -> str:
    """The REST layer's cursor (rest_compat/cursors.py): `<microseconds since 0002-01-01>.<id>`."""
    micros = (datetime.fromisoformat(stored) - _EARLIEST) // timedelta(microseconds=1)
    return f"{micros}.{row_id}"


def graphql_enum(value: str) -> str:
    return value.upper().replace(".", "_")


async def workspace_of(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    rows = list(await request.app[DB_KEY].execute_fetchall(AUTH_SQL, (digest,)))
    if not rows or rows[0][1] is not None:
        return None
    return str(rows[0][0])


def _marks(count: int) -> str:
    return ", ".join("?" * count)


async def dashboard(request: web.Request) -> web.Response:
    workspace_id = await workspace_of(request)
    if workspace_id is None:
        return web.Response(body=UNAUTHENTICATED, status=401, content_type="application/json")
    first = int(orjson.loads(await request.read())["variables"]["first"])
    db = request.app[DB_KEY]
    rows = list(await db.execute_fetchall(INCIDENTS_SQL, (workspace_id, first + 1)))
    more = len(rows) > first
    rows = rows[:first]
    ids = [row[0] for row in rows]
    alerts: dict[str, list[dict[str, Any]]] = {incident_id: [] for incident_id in ids}
    events: dict[str, list[dict[str, Any]]] = {incident_id: [] for incident_id in ids}
    if ids:
        marks = _marks(len(ids))
        for incident_id, *alert in await db.execute_fetchall(
            ALERTS_SQL.format(marks=marks), (workspace_id, *ids, DASHBOARD_ALERTS)
        ):
            alerts[incident_id].append({
                "id": alert[0], "title": alert[1], "severity": alert[2].upper(),
                "status": alert[3].upper(), "source": alert[4], "receivedAt": iso_z(alert[5]),
            })
        for incident_id, *event in await db.execute_fetchall(
            EVENTS_SQL.format(marks=marks), (workspace_id, *ids, DASHBOARD_EVENTS)
        ):
            events[incident_id].append({
                "id": event[0], "type": graphql_enum(event[1]), "at": iso_z(event[2]),
                "actor": event[3], "message": event[4],
            })
    nodes = [
        {
            "id": row[0], "number": row[1], "title": row[2], "status": row[3].upper(),
            "severity": row[4].upper(), "assignee": row[5], "alertCount": row[6],
            "createdAt": iso_z(row[7]), "updatedAt": iso_z(row[8]),
            "alerts": {"nodes": alerts[row[0]]}, "timeline": {"nodes": events[row[0]]},
        }
        for row in rows
    ]
    body = {
        "data": {
            "incidents": {
                "pageInfo": {
                    "hasNextPage": more,
                    "endCursor": cursor(rows[-1][7], rows[-1][0]) if rows else None,
                },
                "nodes": nodes,
            }
        },
        "extensions": {"cost": dashboard_cost(first)},
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def rest_incident(row: Sequence[Any], workspace_id: str) -> dict[str, Any]:
    return {
        "id": row[0], "workspace_id": workspace_id, "number": row[1], "title": row[2],
        "status": row[3], "severity": row[4], "assignee": row[5], "alert_count": row[6],
        "created_at": iso_z(row[7]), "updated_at": iso_z(row[8]),
        "acknowledged_at": iso_z(row[9]), "resolved_at": iso_z(row[10]),
    }


async def list_incidents(request: web.Request) -> web.Response:
    workspace_id = await workspace_of(request)
    if workspace_id is None:
        return web.Response(body=UNAUTHENTICATED, status=401, content_type="application/json")
    limit = int(request.query.get("limit", "50"))
    rows = list(
        await request.app[DB_KEY].execute_fetchall(REST_INCIDENTS_SQL, (workspace_id, limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    body = {
        "data": [rest_incident(row, workspace_id) for row in rows],
        "pagination": {
            "limit": limit,
            "next_cursor": rest_cursor(rows[-1][7], rows[-1][0]) if more else None,
            "has_more": more,
        },
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(database: str) -> web.Application:
    app = web.Application()

    async def connect(app: web.Application) -> Any:
        db = await aiosqlite.connect(database)
        await db.execute("PRAGMA query_only=ON")
        app[DB_KEY] = db
        yield
        await db.close()

    app.cleanup_ctx.append(connect)
    app.router.add_post("/dashboard", dashboard)
    app.router.add_get("/v1/incidents", list_incidents)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Hand-written reference server")
    parser.add_argument("--database", required=True, help="SQLite file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(
        create_app(args.database), host=args.host, port=args.port, access_log=None, print=None,
        loop=(event_loop_factory() or asyncio.new_event_loop)(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
