"""Shared fixtures: a migrated SQLite file per test, the real app on a loopback port, a real HTTP
client, and a small tenant tree (an MSSP, two customers, an unrelated workspace) with keys.

Backends: every test that uses `db_url` (so `db`, `settings`, `server`, `tenants`...) runs twice,
`[sqlite]` and `[postgres]`. PostgreSQL needs SELIQ_TEST_POSTGRES_URL (CI sets it; without it only
`[sqlite]` runs, as the header says): one private database per session, migrated once, every
table emptied before each test (tests/support/backends.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.domain.settings import Settings
from gateway.domain.storage import migrate
from gateway.domain.storage.engine import Database
from tests.support import backends
from tests.support.data import Tenants, make_tenant
from tests.support.diagnostics import print_task_stacks
from tests.support.heap import forget_apps
from tests.support.server import Server, running_server


@pytest.fixture(autouse=True)
def _task_stacks_before_a_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """pytest-timeout (pyproject: `timeout`, thread method) ends a hung run with every thread's
    stack, which for an asyncio test is only the event loop's `select`. Ten seconds before it
    does, print what each asyncio task is awaiting: that is where a hang is."""
    marker = request.node.get_closest_marker("timeout")
    limit = float(marker.args[0] if marker and marker.args else request.config.getini("timeout"))
    if limit <= 10:
        yield
        return

    def dump() -> None:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # as pytest-timeout does: its dump follows, the run ends
            capture.suspend_global_capture(in_=True)
        print_task_stacks(f"{request.node.nodeid}, near the timeout")

    timer = threading.Timer(limit - 10, dump)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Tests that run the CLI in-process install its log handler on the root logger, bound to
    that test's captured stderr; left there, every later test's log line hits a closed file
    ("--- Logging error ---" in CI's output). Put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What importing the code and the tests made is never garbage: keep the collector off it,
    as a serving process does (`gateway.service.processes.tune_gc`), so a full collection walks
    only what tests made (half the objects; full collections of ~0.5 s in CI before)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _no_app_outlives_its_test() -> Iterator[None]:
    """Library caches keyed by app, schema and dialect would keep every earlier test's app alive
    (tests/support/heap.py): millions of objects, and multi-second full collections landing in
    whichever test's timing they please."""
    yield
    forget_apps()


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


# Suites marked by folder, so a new test file in one of them is marked without an edit.
FOLDER_MARKERS = {
    "e2e": "e2e",
    "scale": "scale",
    "bench": "bench",
    "clients": "clients",
    "hostile": "hostile",
}
BROWSER_MODULES = frozenset({"test_graphiql_browser.py"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers for the inner loop (`make test-fast` deselects the slow ones): by folder, the
    browser tests by module, and `postgres` on every `[postgres]` variant and every test that
    uses a fixture named for PostgreSQL."""
    tests_root = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(tests_root).parts
        marker = FOLDER_MARKERS.get(parts[0]) if len(parts) > 1 else None
        if marker:
            item.add_marker(marker)
        if item.path.name in BROWSER_MODULES:
            item.add_marker("browser")
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("backend") == backends.POSTGRES
        uses_postgres = any(
            "postgres" in name or name.endswith("_pg") for name in getattr(item, "fixturenames", ())
        )
        if on_postgres or uses_postgres:
            item.add_marker("postgres")


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


@pytest.fixture
async def server(settings: Settings, db: Database) -> AsyncIterator[Server]:
    async with running_server(settings, db) as running:
        yield running


@pytest.fixture
async def tenants(db: Database) -> Tenants:
    mssp = await make_tenant(db, "mssp", "enterprise")
    acme = await make_tenant(db, "acme", "growth", parent="mssp")
    globex = await make_tenant(db, "globex", "starter", parent="mssp")
    other = await make_tenant(db, "other", "starter")
    return Tenants(mssp=mssp, acme=acme, globex=globex, other=other)

