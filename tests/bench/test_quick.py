"""The benchmark in the normal suite: the statement-count ratio T4 (the dashboard runs as many SQL
statements at first: 100 as at first: 10, on the standard executor and on its cached plan), and
`python -m bench --quick`, which must finish with every ratio printed. That run fails the suite
only when the benchmark is broken (the reference's bytes differ, a request fails, a server does
not start): slow ratios are the machine's business, not a test failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from bench import seed
from bench.queries import DASHBOARD, DASHBOARD_NAME
from bench.report import FULL_ONLY, ORDER, PEER_ONLY
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.service.app import EXECUTOR_KEY, create_app

ROOT = Path(__file__).resolve().parents[2]
SHAPE = seed.Shape("t4", 120)


@pytest.fixture(scope="module")
def dataset() -> Path:
    return seed.ensure(SHAPE).path  # built (once, cached) outside any event loop


@pytest.fixture
async def dashboard(dataset: Path, tmp_path: Path) -> AsyncIterator[tuple[str, TestServer]]:
    path = tmp_path / "t4.db"
    shutil.copyfile(dataset, path)
    url = f"sqlite+aiosqlite:///{path}"
    db = Database(url)
    app = create_app(
        Settings(database_url=url, debug_headers=True, sla_sweep_seconds=0), db=db
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/graphql")), server
    await server.close()
    await db.dispose()


async def _statements(http: aiohttp.ClientSession, url: str, first: int) -> int:
    payload = {"query": DASHBOARD, "variables": {"first": first}, "operationName": DASHBOARD_NAME}
    headers = {"Authorization": f"Bearer {seed.API_KEY}"}
    async with http.post(url, json=payload, headers=headers) as response:
        body = orjson.loads(await response.read())
        assert response.status == 200 and "errors" not in body, body
        assert len(body["data"]["incidents"]["nodes"]) == first
        return int(response.headers["X-Seliq-SQL-Statements"])


@pytest.mark.parametrize("plans", [True, False], ids=["cached plan", "standard executor"])
async def test_t4_statements_do_not_grow_with_the_page(
    dashboard: tuple[str, TestServer], plans: bool
) -> None:
    url, server = dashboard
    server.app[EXECUTOR_KEY].plans.enabled = plans
    async with aiohttp.ClientSession() as http:
        await _statements(http, url, 10)  # the key lookup is cached, the plan learned
        small = await _statements(http, url, 10)
        large = await _statements(http, url, 100)
    assert large / small == 1.0
    # The page, then the alerts and the timeline of all its incidents: one statement each.
    assert large == 3


def test_bench_quick_runs_and_prints_every_ratio(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, f"the benchmark is broken:\n{done.stdout}\n{done.stderr}"
    latest = orjson.loads((tmp_path / "latest.json").read_bytes())
    assert list(latest["ratios"]) == [
        key for key in ORDER if key not in FULL_ONLY and key not in PEER_ONLY
    ]
    for key, ratio in latest["ratios"].items():
        assert isinstance(ratio["value"], int | float), (key, ratio)
        assert f"\n{key} " in done.stdout
    assert (tmp_path / "history.md").read_text().count("| quick |") == 1
