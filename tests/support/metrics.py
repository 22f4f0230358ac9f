"""Running an app built in the test (routes added, settings changed) and reading /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield str(server.make_url("")).rstrip("/"), http
    finally:
        await server.close()


async def scrape(http: aiohttp.ClientSession, url: str) -> list[Sample]:
    """GET /metrics and parse it with prometheus-client's own parser."""
    async with http.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the one sample called `name` whose labels include `labels`, or None."""
    found = [
        s for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, found
    return found[0].value if found else None
