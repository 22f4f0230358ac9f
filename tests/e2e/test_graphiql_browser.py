"""GraphiQL in a real browser with no outside network.

Headless Chromium (Debian's `chromium`, driven by Playwright's Python package through
`executable_path`; Playwright's own browser downloads are never used) opens `/graphql` on a
`seliq-gateway serve --demo` process on loopback. Every request the page makes goes through a
route that lets only the gateway's origin through, and a Content-Security-Policy listener records
anything the page's own CSP refused; either would fail the test. The test pastes the demo key into
the headers editor, runs the default query and reads the result from the page, then checks the key
appears in no URL, no localStorage entry and no server log line. Screenshot:
`test-artifacts/graphiql.png`.

Without /usr/bin/chromium the browser test is skipped, except with CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.domain.settings import Settings, load_settings
from gateway.domain.storage.engine import Database
from gateway.service.app import DEFAULT_QUERY
from gateway.service.graphiql import ASSET_PREFIX, render_graphiql_page
from gateway.service.logs import iter_log_lines
from tests.support.procs import free_port
from tests.support.server import running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
START_TIMEOUT = 90.0

HEADERS_EDITOR = "section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESULT = ".graphiql-response .result-window"
RESULT_EDITOR = ".graphiql-response .CodeMirror"
EXECUTE = ".graphiql-execute-button"
REFETCH_SCHEMA = 'button[aria-label="Re-fetch GraphQL schema"]'

# Records what the page's CSP refused (a refused load never reaches the network or our route).
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def require_browser() -> None:
    """Skip (or, with CI=true, fail) when the browser or Playwright is missing."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright Python package is not installed"
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run in CI: {missing}")
    pytest.skip(missing)


@dataclass
class DemoServer:
    url: str
    key: str
    process: subprocess.Popen[str]
    stderr: list[str] = field(default_factory=list)

    def stop(self) -> str:
        """Stop the server; its whole stderr (the log)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return "".join(self.stderr)


def _pump(stream: Any, sink: Any) -> None:
    for line in stream:
        sink(line)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[DemoServer]:
    """`seliq-gateway serve --demo` on a free loopback port with a fresh SQLite file."""
    require_browser()  # before paying for a server start
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELIQ_")}
    env.update(
        SELIQ_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        SELIQ_HOST="127.0.0.1",
        SELIQ_PORT=str(port),
        SELIQ_GRAPHIQL="true",
        SELIQ_LOG_LEVEL="INFO",
        # This checkout first, whatever an older editable install recorded.
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    script = shutil.which("seliq-gateway", path=str(Path(sys.executable).parent))
    command = [script] if script else [
        sys.executable, "-c", "import sys; from gateway.service.cli import main; sys.exit(main())"
    ]
    process = subprocess.Popen(
        [*command, "serve", "--demo", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stdout: queue.Queue[str] = queue.Queue()
    server = DemoServer(url=f"http://127.0.0.1:{port}", key="", process=process)
    threading.Thread(target=_pump, args=(process.stdout, stdout.put), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, server.stderr.append), daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.key:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                pytest.fail(f"the demo server did not start: {''.join(server.stderr)[-2000:]}")
            try:
                line = stdout.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if line.startswith("{"):
                server.key = json.loads(line)["key"]
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"the demo server is not answering: {''.join(server.stderr)[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


def test_graphiql_runs_the_default_query_offline_in_chromium(demo_server: DemoServer) -> None:
    from playwright.sync_api import Route, sync_playwright

    origin = urlsplit(demo_server.url).netloc
    key = demo_server.key
    requested: list[str] = []
    refused: list[str] = []
    sockets: list[str] = []
    console_errors: list[str] = []

    def gate(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if urlsplit(url).netloc == origin:
            route.continue_()
        else:
            refused.append(url)
            route.abort("blockedbyclient")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1440, "height": 900}, service_workers="block"
            )
            context.route("**/*", gate)
            page = context.new_page()
            page.add_init_script(CSP_RECORDER)
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.on(
                "console",
                lambda msg: console_errors.append(msg.text) if msg.type == "error" else None,
            )

            response = page.goto(f"{demo_server.url}/graphql", wait_until="networkidle")
            assert response is not None and response.status == 200
            assert page.title() == "Seliq GraphQL"
            page.wait_for_selector(EXECUTE, timeout=30_000)
            page.wait_for_selector(HEADERS_EDITOR, timeout=30_000)

            editor_text = page.evaluate(
                "(s) => document.querySelector(s).CodeMirror.getValue()", QUERY_EDITOR
            )
            assert editor_text.strip() == DEFAULT_QUERY.strip()

            # Paste the key where the page asks for it, then let GraphiQL load the schema
            # (it got a 401 on first load, before it had a key).
            page.evaluate(
                "([s, v]) => document.querySelector(s).CodeMirror.setValue(v)",
                [HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {key}"})],
            )
            # GraphiQL takes the editor's text after a short debounce: refetch until it has it.
            deadline = time.monotonic() + 15
            while True:
                with page.expect_response(
                    lambda r: r.url.endswith("/graphql") and r.request.method == "POST"
                ) as introspection:
                    page.click(REFETCH_SCHEMA)
                if introspection.value.status == 200 or time.monotonic() > deadline:
                    break
                page.wait_for_timeout(250)
            assert introspection.value.status == 200

            with page.expect_response(
                lambda r: r.url.endswith("/graphql") and r.request.method == "POST"
                and "Dashboard" in (r.request.post_data or "")
            ) as run:
                page.click(EXECUTE)
            assert run.value.status == 200
            page.wait_for_function(
                "(s) => { const el = document.querySelector(s);"
                " return el && el.innerText.includes('totalCount'); }",
                arg=RESULT, timeout=30_000,
            )

            shown = page.inner_text(RESULT)
            assert "incidents" in shown and "actingWorkspace" in shown
            assert '"errors"' not in shown
            result = json.loads(page.evaluate(
                "(s) => document.querySelector(s).CodeMirror.getValue()", RESULT_EDITOR
            ))
            assert "errors" not in result, result
            incidents = result["data"]["incidents"]
            assert incidents["totalCount"] > 0
            assert incidents["edges"] and incidents["edges"][0]["node"]["id"].startswith("inc_")
            assert result["data"]["viewer"]["actingWorkspace"]["slug"] == "acme-corp"

            page.screenshot(path=str(ARTIFACTS / "graphiql.png"))
            violations = page.evaluate("() => window.__cspViolations")
            stored = page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
        finally:
            browser.close()
    log = demo_server.stop()

    # Nothing but the gateway's own origin was asked for, and nothing was refused.
    assert requested, "the route saw no requests"
    assert refused == []
    assert violations == []
    assert all(urlsplit(url).netloc == origin for url in sockets), sockets
    assert any(ASSET_PREFIX in url for url in requested)
    # The key travelled in a header only: not in a URL, not in the browser's storage, not in logs.
    assert not [url for url in requested if key in url]
    assert key not in stored
    assert key not in log
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors

    # The server logged the run as one JSON line with its operation name.
    access = [e for e in iter_log_lines(log) if e.get("logger") == "seliq.access"]
    runs = [e for e in access if e.get("operation") == "Dashboard" and e["status"] == 200]
    assert runs and runs[0]["request_id"] and runs[0]["key_id"].startswith("key_")


def test_graphiql_page_loads_only_its_own_assets() -> None:
    page = render_graphiql_page(default_query=DEFAULT_QUERY)
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert f'src="{ASSET_PREFIX}/' in page


async def test_graphiql_can_be_turned_off(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELIQ_GRAPHIQL", "false")
    settings: Settings = load_settings(database_url=db_url)
    assert settings.graphiql is False
    browser_headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with running_server(settings, db) as server:
        url, http = server.url, server.http
        async with http.get(f"{url}/graphql", headers=browser_headers) as response:
            assert response.status == 404
            body = await response.json()
            assert body["error"]["code"] == "not_found"
            assert "SELIQ_GRAPHIQL" in body["error"]["message"]
        async with http.get(f"{url}{ASSET_PREFIX}/graphiql.min.js") as response:
            assert response.status == 404
        # The API itself is unaffected.
        async with http.post(f"{url}/graphql", json={"query": "{ __typename }"}) as response:
            assert response.status == 401

    monkeypatch.setenv("SELIQ_GRAPHIQL", "true")
    async with running_server(load_settings(database_url=db_url), db) as server, server.http.get(
        f"{server.url}/graphql", headers=browser_headers
    ) as response:
        assert response.status == 200
        assert "Seliq GraphQL" in await response.text()
