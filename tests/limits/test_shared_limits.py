"""Two gateway processes sharing Redis enforce one combined limit; without Redis reachable the
gateway falls back to local limits and says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.support.procs import run_cli, start_server
from tests.support.services import require_redis


async def _count(url: str, key: str, requests: int) -> tuple[int, int]:
    ok = refused = 0
    async with aiohttp.ClientSession() as http:
        for _ in range(requests):
            async with http.post(
                f"{url}/graphql", json={"query": "{ viewer { id } }"},
                headers={"Authorization": f"Bearer {key}"},
            ) as response:
                if response.status == 200:
                    ok += 1
                elif response.status == 429:
                    refused += 1
    return ok, refused


async def test_two_processes_share_one_quota(tmp_path: Path) -> None:
    redis_url = require_redis()
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    run_cli(url, "workspace", "create", "tiny", "--name", "Tiny", "--tier", "starter")
    key = run_cli(url, "key", "create", "--workspace", "tiny", "--name", "k")["key"]["secret"]
    first = start_server(url, SELIQ_REDIS_URL=redis_url)
    second = start_server(url, SELIQ_REDIS_URL=redis_url)
    try:
        results = await asyncio.gather(
            _count(first.url, key, 45), _count(second.url, key, 45)
        )
        async with aiohttp.ClientSession() as http, http.get(f"{first.url}/readyz") as response:
            ready = await response.json()
    finally:
        first.stop()
        second.stop()
    allowed = sum(ok for ok, _ in results)
    refused = sum(no for _, no in results)
    # 60 per minute in all (a unit or two may leak back while the 90 requests run).
    assert 60 <= allowed <= 63, results
    assert allowed + refused == 90
    assert ready["checks"]["rate_limits"] == "redis"


async def test_unreachable_redis_falls_back_to_local(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fallback.db'}"
    run_cli(url, "workspace", "create", "tiny", "--name", "Tiny", "--tier", "starter")
    key = run_cli(url, "key", "create", "--workspace", "tiny", "--name", "k")["key"]["secret"]
    server = start_server(url, SELIQ_REDIS_URL="redis://127.0.0.1:1/0")
    try:
        ok, refused = await _count(server.url, key, 3)
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
            ready = await response.json()
    finally:
        server.stop()
    assert (ok, refused) == (3, 0)
    assert ready["checks"]["rate_limits"] == "local (redis unreachable)"
