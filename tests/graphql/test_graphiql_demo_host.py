"""The demo page (GraphiQL with the demo key in its headers) is served only to loopback host
names: a browser that reached the gateway by another name (DNS rebinding, a shared port) gets
the page without a key."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.service.app import create_app

KEY = "seliq_demo-key-for-the-page"


async def page(url: str, host: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(
        f"{url}/graphql", headers={"Accept": "text/html", "Host": host}
    ) as response:
        assert response.status == 200
        return await response.text()


async def test_the_demo_key_reaches_loopback_hosts_only(settings: Settings, db: Database) -> None:
    server = TestServer(create_app(settings, db=db, demo_key=KEY), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("")).rstrip("/")
        port = server.port
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
            assert KEY in await page(url, host), host
        for host in (f"evil.example:{port}", "seliq.internal", f"127.0.0.1.evil.example:{port}"):
            text = await page(url, host)
            assert KEY not in text and "GraphiQL" in text, host
    finally:
        await server.close()
