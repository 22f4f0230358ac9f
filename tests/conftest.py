"""Shared fixtures: a migrated SQLite file per test, the real app on a loopback port, a real HTTP
client, and a small tenant tree (an MSSP, two customers, an unrelated workspace) with keys.

Backends: every test that uses `db_url` (so `db`, `settings`, `server`, `tenants`...) runs twice,
`[sqlite]` and `[postgres]`. PostgreSQL needs SELIQ_TEST_POSTGRES_URL (CI sets it; without it only
`[sqlite]` runs, as the header says): one private database per session, migrated once, every
table emptied before each test (tests/backends.py).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.domain import ids
from gateway.domain.incidents.timeline import record
from gateway.domain.settings import Settings
from gateway.domain.storage import migrate
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, Note, Workspace
from gateway.domain.tenancy.auth import create_key
from gateway.domain.tenancy.workspaces import create_workspace
from gateway.domain.timeutil import utcnow
from gateway.service.app import create_app
from tests import backends


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head, copied for every test (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(migrate.upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[backends.PostgresDatabase]:
    """This session's PostgreSQL database, migrated to head (skips without a server)."""
    database = backends.postgres_session_database()
    yield database
    backends.drop_postgres_database(database)


def pytest_report_header() -> str:
    return backends.report_header()


@pytest.fixture(params=backends.enabled_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """`sqlite` or `postgres`: the backend this run of the test uses."""
    return str(request.param)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A migrated, empty database for this test alone."""
    if backend == backends.POSTGRES:
        database: backends.PostgresDatabase = request.getfixturevalue("postgres_database")
        database.reset()
        return database.url
    template: Path = request.getfixturevalue("migrated_template")
    target = tmp_path / "seliq.db"
    shutil.copy(template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, debug_headers=True, graphiql=True)


@dataclass
class Server:
    """The real app on a loopback port, plus an HTTP client and helpers for GraphQL calls."""

    url: str
    http: aiohttp.ClientSession
    db: Database

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        workspace: str | None = None,
        expect_status: int | None = 200,
    ) -> dict[str, Any]:
        headers = {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if workspace:
            headers["X-Workspace-ID"] = workspace
        async with self.http.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, headers=headers
        ) as response:
            body = await response.json()
            if expect_status is not None:
                assert response.status == expect_status, body
            body["_status"] = response.status
            body["_headers"] = dict(response.headers)
            return body


@asynccontextmanager
async def running_server(settings: Settings, db: Database) -> AsyncIterator[Server]:
    """The real app with `settings` on a loopback port, and a client for it."""
    app = create_app(settings, db=db)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Server(url=str(test_server.make_url("")).rstrip("/"), http=http, db=db)
    finally:
        await test_server.close()


@pytest.fixture
async def server(settings: Settings, db: Database) -> AsyncIterator[Server]:
    async with running_server(settings, db) as running:
        yield running


@dataclass
class Tenant:
    workspace: Workspace
    key: str
    read_key: str
    incidents: list[Incident] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.workspace.id

    @property
    def slug(self) -> str:
        return self.workspace.slug


@dataclass
class Tenants:
    """mssp -> (acme, globex); `other` is unrelated to all of them."""

    mssp: Tenant
    acme: Tenant
    globex: Tenant
    other: Tenant

    def all(self) -> list[Tenant]:
        return [self.mssp, self.acme, self.globex, self.other]


async def make_incident(
    db: Database,
    workspace: Workspace,
    *,
    title: str = "Disk full",
    severity: str = "high",
    status: str = "triggered",
    alerts: int = 2,
    created_at: datetime | None = None,
    assignee: str | None = None,
) -> tuple[Incident, list[Alert]]:
    """An incident with its alerts and timeline, written directly (no ingestion involved)."""
    created = created_at or utcnow()
    async with db.write() as session:
        ws = await session.get(Workspace, workspace.id)
        assert ws is not None
        ws.incident_seq += 1
        incident = Incident(
            id=ids.new_id(ids.INCIDENT), workspace_id=ws.id, number=ws.incident_seq, title=title,
            severity=severity, status=status, created_at=created, updated_at=created,
            alert_count=alerts, assignee=assignee,
            acknowledged_at=created if status != "triggered" else None,
            resolved_at=created if status == "resolved" else None,
        )
        session.add(ws)
        session.add(incident)
        await session.flush()
        record(session, incident, "incident.created", "system", "opened", at=created)
        rows = []
        for index in range(alerts):
            seen = created + timedelta(seconds=index)
            alert = Alert(
                id=ids.new_id(ids.ALERT), workspace_id=ws.id, incident_id=incident.id,
                source="test", title=f"{title} #{index}", description=f"{title} on host-{index}",
                severity=severity, status="resolved" if status == "resolved" else "firing",
                fingerprint=f"fp-{incident.id}-{index}", labels={"host": f"host-{index}"},
                raw_payload={"title": title}, first_seen_at=seen, last_seen_at=seen,
                received_at=seen,
            )
            rows.append(alert)
            session.add(alert)
            record(session, incident, "alert.attached", "system", "attached",
                   {"alert_id": alert.id}, at=seen)
        await session.flush()
    return incident, rows


async def make_note(db: Database, incident: Incident, body: str = "looked at it") -> Note:
    async with db.write() as session:
        note = Note(
            id=ids.new_id(ids.NOTE), workspace_id=incident.workspace_id, incident_id=incident.id,
            body=body, author="tester",
        )
        session.add(note)
        await session.flush()
        row = await session.get(Incident, incident.id)
        assert row is not None
        record(session, row, "note.added", "key:tester", "note", {"note_id": note.id})
    return note


async def _tenant(db: Database, slug: str, tier: str, parent: str | None = None) -> Tenant:
    async with db.write() as session:
        workspace = await create_workspace(
            session, slug=slug, name=slug.title(), tier=tier, parent_slug=parent
        )
        _, key = await create_key(session, workspace, f"{slug} writer", "write")
        _, read_key = await create_key(session, workspace, f"{slug} reader", "read")
    tenant = Tenant(workspace=workspace, key=key, read_key=read_key)
    for number in range(3):
        incident, alerts = await make_incident(
            db, workspace, title=f"{slug} incident {number}", severity="high"
        )
        tenant.incidents.append(incident)
        tenant.alerts.extend(alerts)
    return tenant


@pytest.fixture
async def tenants(db: Database) -> Tenants:
    mssp = await _tenant(db, "mssp", "enterprise")
    acme = await _tenant(db, "acme", "growth", parent="mssp")
    globex = await _tenant(db, "globex", "starter", parent="mssp")
    other = await _tenant(db, "other", "starter")
    return Tenants(mssp=mssp, acme=acme, globex=globex, other=other)

