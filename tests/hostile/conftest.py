"""Fixtures for the hostile-input suite: the shared server and tenant tree with the
background workers off (so nothing but the request under test runs on the loop), a webhook URL
for `acme`, and a real `seliq-gateway serve` process for the cases that live below the app (the
HTTP parser, header timeouts, the `Server` header), where only the real server is the truth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from tests.ingest.conftest import Hook, make_hook
from tests.support.data import Tenants
from tests.support.procs import ServerProcess, start_server

#: The header-read timeout the served process is started with (see test_http_layer.py).
HEADER_READ_TIMEOUT_SECONDS = 1.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with the SLA sweeper and report worker off: the fragment test counts
    the work done on the event loop, and nothing else should run there meanwhile."""
    return settings.model_copy(update={"report_poll_seconds": 0, "sla_sweep_seconds": 0})


@pytest.fixture
async def hook(db: Database, tenants: Tenants) -> Hook:
    """acme's webhook URL."""
    return await make_hook(db, tenants.acme.id)


@pytest.fixture
def served(db_url: str) -> Iterator[ServerProcess]:
    """`seliq-gateway serve` on a free loopback port over this test's database, with
    SELIQ_HEADER_READ_TIMEOUT_SECONDS at 1 s (the header-read timeout). Its stderr (JSON
    log lines) is readable after `stop()`."""
    server = start_server(
        db_url,
        SELIQ_HEADER_READ_TIMEOUT_SECONDS=str(HEADER_READ_TIMEOUT_SECONDS),
        SELIQ_REPORT_POLL_SECONDS="0",
        SELIQ_SLA_SWEEP_SECONDS="0",
    )
    try:
        yield server
    finally:
        server.stop()
