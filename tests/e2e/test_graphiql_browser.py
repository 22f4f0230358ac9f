"""GraphiQL in a real browser with no outside network.

Headless Chromium (Debian's `chromium`, driven by Playwright's Python package through
`executable_path`; Playwright's own browser downloads are never used) opens `/graphql` on a real
`seliq-gateway serve` process on loopback. Every request the page makes goes through a route that
lets only the gateway's origin through, a Content-Security-Policy listener records anything the
page's own CSP refused, and every WebSocket the page opens is recorded; a request or socket to
another host, or a refusal, fails the test.

- `serve --demo`: the page opens with the demo key in its headers editor, so the schema loads at
  once (the docs list the root types with nothing pasted) and the default query runs as is.
- The same page runs a subscription (`alertsIngested`) over graphql-transport-ws with the key from
  its headers, and shows the alert the test then posts to the workspace's webhook; a wrong key is
  shown as a refused socket (4403) at once, not retried.
- `serve` without `--demo` (a key made by `seliq-gateway demo`): the headers hold a placeholder;
  the test pastes the key, re-fetches the schema and runs the default query.

Each checks the key appears in no URL, no localStorage entry and no server log line.
Screenshots: `test-artifacts/graphiql.png`, `test-artifacts/graphiql-subscription.png`.

Without /usr/bin/chromium the browser tests are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.domain.settings import Settings, load_settings
from gateway.domain.storage.engine import Database
from gateway.service.app import DEFAULT_QUERY, DEMO_QUERY, graphiql_page
from gateway.service.graphiql import (
    ASSET_PREFIX,
    DEFAULT_HEADERS,
    STATIC_DIR,
    render_graphiql_page,
)
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
SHOW_DOCS = 'button[aria-label="Show Documentation Explorer"]'
DOC_EXPLORER = ".graphiql-doc-explorer"

SUBSCRIPTION = """subscription Live {
  alertsIngested {
    outcome
    alert { id title severity source incident { id number title } }
  }
}
"""

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
class Gateway:
    """A `seliq-gateway serve` process, the key to use with it, and its environment."""

    url: str
    key: str
    env: dict[str, str]
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

    def cli(self, *args: str) -> dict[str, Any]:
        """A management command against the server's database; its JSON answer."""
        return _cli(self.env, *args)


def _command() -> list[str]:
    script = shutil.which("seliq-gateway", path=str(Path(sys.executable).parent))
    return [script] if script else [
        sys.executable, "-c", "import sys; from gateway.service.cli import main; sys.exit(main())"
    ]


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [*_command(), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _pump(stream: Any, sink: Any) -> None:
    for line in stream:
        sink(line)


@contextmanager
def gateway(tmp_path: Path, *, demo: bool) -> Iterator[Gateway]:
    """`seliq-gateway serve [--demo]` on a free loopback port with a fresh SQLite file.

    With `demo`, the key is the one `serve --demo` prints; without, `seliq-gateway demo` seeds
    the same data first and its key is used with a plain `serve`.
    """
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
    key = "" if demo else str(_cli(env, "demo")["key"])  # --demo prints its own
    process = subprocess.Popen(
        [*_command(), "serve", "--port", str(port), *(["--demo"] if demo else [])],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    server = Gateway(url=f"http://127.0.0.1:{port}", key=key, env=env, process=process)
    stdout: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(server.process.stdout, stdout.put), daemon=True).start()
    threading.Thread(
        target=_pump, args=(server.process.stderr, server.stderr.append), daemon=True
    ).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.key:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or server.process.poll() is not None:
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
            if time.monotonic() > deadline or server.process.poll() is not None:
                pytest.fail(f"the server is not answering: {''.join(server.stderr)[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


@dataclass
class Browser:
    """What one page asked for, refused and said, for the checks every test makes."""

    origin: str
    page: Any = None
    requested: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    frames: list[tuple[str, str]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    introspections: list[int] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    stored: str = ""

    def editor(self, selector: str) -> str:
        text: str = self.page.evaluate(
            "(s) => document.querySelector(s).CodeMirror.getValue()", selector
        )
        return text

    def set_editor(self, selector: str, value: str) -> None:
        self.page.evaluate(
            "([s, v]) => document.querySelector(s).CodeMirror.setValue(v)", [selector, value]
        )

    def result(self) -> Any:
        return json.loads(self.editor(RESULT_EDITOR))

    def wait_for_result(self, text: str, timeout_ms: int = 30_000) -> None:
        self.page.wait_for_function(
            "([s, t]) => { const el = document.querySelector(s);"
            " return el && el.CodeMirror.getValue().includes(t); }",
            arg=[RESULT_EDITOR, text], timeout=timeout_ms,
        )


@contextmanager
def browser_on(server: Gateway) -> Iterator[Browser]:
    """Headless Chromium with every request outside the gateway's origin refused and recorded."""
    from playwright.sync_api import Response, Route, WebSocket, sync_playwright

    seen = Browser(origin=urlsplit(server.url).netloc)

    def gate(route: Route) -> None:
        url = route.request.url
        seen.requested.append(url)
        if urlsplit(url).netloc == seen.origin:
            route.continue_()
        else:
            seen.refused.append(url)
            route.abort("blockedbyclient")

    def on_socket(socket: WebSocket) -> None:
        seen.sockets.append(socket.url)
        socket.on("framesent", lambda payload: seen.frames.append(("sent", str(payload))))
        socket.on("framereceived", lambda payload: seen.frames.append(("received", str(payload))))

    def on_response(response: Response) -> None:
        request = response.request
        if request.method == "POST" and "IntrospectionQuery" in (request.post_data or ""):
            seen.introspections.append(response.status)

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = chromium.new_context(
                viewport={"width": 1440, "height": 900}, service_workers="block"
            )
            context.route("**/*", gate)
            page = context.new_page()
            page.add_init_script(CSP_RECORDER)
            page.on("websocket", on_socket)
            page.on("response", on_response)
            page.on(
                "console",
                lambda msg: seen.console_errors.append(msg.text) if msg.type == "error" else None,
            )
            seen.page = page
            yield seen
            seen.violations = page.evaluate("() => window.__cspViolations")
            seen.stored = page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
        finally:
            chromium.close()


def open_graphiql(seen: Browser, url: str) -> None:
    page = seen.page
    response = page.goto(f"{url}/graphql", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert page.title() == "Seliq GraphQL"
    page.wait_for_selector(EXECUTE, timeout=30_000)
    page.wait_for_selector(HEADERS_EDITOR, timeout=30_000)


def run_default_query(seen: Browser) -> None:
    """Press Run on the default query and check the page shows the demo data."""
    page = seen.page
    with page.expect_response(
        lambda r: r.url.endswith("/graphql") and r.request.method == "POST"
        and "Dashboard" in (r.request.post_data or "")
    ) as run:
        page.click(EXECUTE)
    assert run.value.status == 200
    seen.wait_for_result("totalCount")
    shown = page.inner_text(RESULT)
    assert "incidents" in shown and "actingWorkspace" in shown
    result = seen.result()
    assert "errors" not in result, result
    incidents = result["data"]["incidents"]
    assert incidents["totalCount"] > 0
    assert incidents["edges"] and incidents["edges"][0]["node"]["id"].startswith("inc_")
    assert result["data"]["viewer"]["actingWorkspace"]["slug"] == "acme-corp"


def assert_offline_and_key_kept(seen: Browser, key: str, log: str) -> None:
    """Nothing but the gateway's origin was asked for or refused; the key stayed in headers."""
    assert seen.requested, "the route saw no requests"
    assert seen.refused == []
    assert seen.violations == []
    assert all(urlsplit(url).netloc == seen.origin for url in seen.sockets), seen.sockets
    assert any(ASSET_PREFIX in url for url in seen.requested)
    assert not [url for url in seen.requested + seen.sockets if key in url]
    assert key not in seen.stored
    assert key not in log
    assert not [e for e in seen.console_errors if "Content Security Policy" in e], (
        seen.console_errors
    )


def test_demo_page_opens_with_the_key_and_runs_the_default_query_offline(
    tmp_path: Path,
) -> None:
    with gateway(tmp_path, demo=True) as server, browser_on(server) as seen:
        open_graphiql(seen, server.url)
        page = seen.page
        assert seen.editor(QUERY_EDITOR).strip() == DEMO_QUERY.strip()
        # The key is in the headers editor already, and the schema loaded with it on page load:
        # no 401, nothing pasted, nothing re-fetched.
        assert json.loads(seen.editor(HEADERS_EDITOR)) == {"Authorization": f"Bearer {server.key}"}
        deadline = time.monotonic() + 15
        while not seen.introspections and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert seen.introspections and set(seen.introspections) == {200}, seen.introspections
        # The docs know the schema: the root types, down to the subscription fields.
        page.click(SHOW_DOCS)
        page.wait_for_function(
            "(s) => { const el = document.querySelector(s);"
            " return el && el.innerText.includes('Subscription'); }",
            arg=DOC_EXPLORER, timeout=15_000,
        )
        page.click(f"{DOC_EXPLORER} a:has-text('Subscription')")
        page.wait_for_selector(f"{DOC_EXPLORER} :text('alertsIngested')", timeout=15_000)

        run_default_query(seen)
        page.screenshot(path=str(ARTIFACTS / "graphiql.png"))
    log = server.stop()
    assert_offline_and_key_kept(seen, server.key, log)

    # The server logged the run as one JSON line with its operation name.
    access = [e for e in iter_log_lines(log) if e.get("logger") == "seliq.access"]
    runs = [e for e in access if e.get("operation") == "Dashboard" and e["status"] == 200]
    assert runs and runs[0]["request_id"] and runs[0]["key_id"].startswith("key_")


def _post_alert(webhook: str, title: str) -> None:
    body = json.dumps({"title": title, "severity": "critical", "source": "graphiql-e2e",
                       "labels": {"host": "web-7"}}).encode()
    request = urllib.request.Request(
        webhook, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202


def test_a_subscription_from_the_page_receives_an_alert_posted_to_the_webhook(
    tmp_path: Path,
) -> None:
    with gateway(tmp_path, demo=True) as server, browser_on(server) as seen:
        webhook = server.cli("webhook", "create", "--workspace", "acme-corp")["webhook"]["url"]
        open_graphiql(seen, server.url)
        page = seen.page
        seen.set_editor(QUERY_EDITOR, SUBSCRIPTION)
        page.wait_for_timeout(500)  # GraphiQL parses the edited document after a short debounce
        page.click(EXECUTE)

        # The page opened a socket to its own origin with graphql-transport-ws, sent the key in
        # connection_init (as the headers editor has it), got the ack and subscribed.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
            d == "sent" and '"type":"subscribe"' in f for d, f in seen.frames
        ):
            page.wait_for_timeout(100)
        assert seen.sockets and seen.sockets[0].startswith(f"ws://{seen.origin}/graphql")
        sent = [json.loads(f) for d, f in seen.frames if d == "sent"]
        received = [json.loads(f) for d, f in seen.frames if d == "received"]
        init = next(m for m in sent if m["type"] == "connection_init")
        assert init["payload"] == {"Authorization": f"Bearer {server.key}"}
        assert any(m["type"] == "connection_ack" for m in received), received
        assert any(m["type"] == "subscribe" for m in sent), sent

        # An alert posted to the webhook arrives in the result pane. The subscription becomes
        # live on the server just after `subscribe` is read, so post again until one shows.
        title = ""
        for attempt in range(10):
            title = f"Disk full on web-7 (graphiql {attempt})"
            _post_alert(webhook, title)
            try:
                seen.wait_for_result(title, timeout_ms=2_000)
                break
            except Exception:  # noqa: BLE001 - playwright's TimeoutError: post again
                continue
        else:
            pytest.fail(f"no event reached the page; frames: {seen.frames[-5:]}")
        event = seen.result()["data"]["alertsIngested"]
        assert event["outcome"] in {"CREATED", "GROUPED"}
        assert event["alert"]["title"] == title and event["alert"]["id"].startswith("alt_")
        assert event["alert"]["severity"] == "CRITICAL"
        assert event["alert"]["incident"]["id"].startswith("inc_")
        assert any(m["type"] == "next" for m in (json.loads(f) for d, f in seen.frames
                                                 if d == "received"))
        page.screenshot(path=str(ARTIFACTS / "graphiql-subscription.png"))

        # Stop: the page completes the subscription (and, lazy, closes the socket).
        page.click(EXECUTE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            d == "sent" and '"type":"complete"' in f for d, f in seen.frames
        ):
            page.wait_for_timeout(100)
        assert any(d == "sent" and '"type":"complete"' in f for d, f in seen.frames)

        # A wrong key in the headers: the socket is refused (4403) and the page says so at
        # once, without graphql-ws's default retries.
        seen.set_editor(HEADERS_EDITOR, json.dumps({"Authorization": "Bearer seliq_wrong"}))
        page.wait_for_timeout(500)
        started = time.monotonic()
        page.click(EXECUTE)
        seen.wait_for_result("4403", timeout_ms=10_000)
        assert time.monotonic() - started < 5
        assert seen.result() == {"errors": [{
            "message": "WebSocket closed with 4403 Forbidden: the key in the Authorization "
                       "header (or the X-Workspace-ID) was refused"
        }]}
        assert len(seen.sockets) == 2
    log = server.stop()
    assert_offline_and_key_kept(seen, server.key, log)


def test_graphiql_without_demo_asks_for_the_key_then_runs_offline(tmp_path: Path) -> None:
    with gateway(tmp_path, demo=False) as server, browser_on(server) as seen:
        open_graphiql(seen, server.url)
        page = seen.page
        assert seen.editor(QUERY_EDITOR).strip() == DEFAULT_QUERY.strip()
        assert seen.editor(HEADERS_EDITOR) == DEFAULT_HEADERS
        assert server.key not in page.content()

        # Paste the key where the page asks for it, then let GraphiQL load the schema
        # (it got a 401 on first load, before it had a key).
        seen.set_editor(HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {server.key}"}))
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
        run_default_query(seen)
    log = server.stop()
    assert_offline_and_key_kept(seen, server.key, log)


def test_graphiql_page_loads_only_its_own_assets() -> None:
    page = render_graphiql_page(default_query=DEFAULT_QUERY)
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert f'src="{ASSET_PREFIX}/' in page
    # Every file the page loads is vendored, listed in VERSIONS.txt, and has its licence.
    loaded = re.findall(rf'(?:src|href)="{re.escape(ASSET_PREFIX)}/([^"?]+)\?v=', page)
    assert "graphql-ws.min.js" in loaded and "graphiql.min.js" in loaded
    versions = (STATIC_DIR / "VERSIONS.txt").read_text()
    for name in loaded:
        assert (STATIC_DIR / name).is_file(), name
        assert f"  {name}  <-  " in versions, name
    assert "graphql-ws@6.4.2" in versions
    assert "MIT License" in (STATIC_DIR / "licenses" / "graphql-ws.LICENSE").read_text()


def test_only_the_demo_page_carries_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELIQ_GRAPHIQL", "true")
    settings = load_settings()
    plain = graphiql_page(settings)
    assert plain is not None
    assert "Bearer \\u003cpaste your API key here\\u003e" in plain  # the placeholder
    assert "Bearer seliq_" not in plain
    demo = graphiql_page(settings, "seliq_demo-key_123")
    assert demo is not None
    assert json.dumps(json.dumps({"Authorization": "Bearer seliq_demo-key_123"}, indent=2)) in demo
    assert json.dumps(DEMO_QUERY) in demo
    # Whatever the headers hold cannot end the inline script.
    hostile = render_graphiql_page(default_query="{ a }", headers={"X": "</script><b>"})
    assert "</script><b>" not in hostile and "\\u003c/script\\u003e" in hostile


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
            body = await response.json()  # /graphql answers in GraphQL's error shape
            assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            assert "SELIQ_GRAPHIQL" in body["errors"][0]["message"]
        async with http.get(f"{url}{ASSET_PREFIX}/graphiql.min.js") as response:
            assert response.status == 404
        async with http.get(f"{url}{ASSET_PREFIX}/graphql-ws.min.js") as response:
            assert response.status == 404
        # The API itself is unaffected.
        async with http.post(f"{url}/graphql", json={"query": "{ __typename }"}) as response:
            assert response.status == 401

    monkeypatch.setenv("SELIQ_GRAPHIQL", "true")
    async with running_server(load_settings(database_url=db_url), db) as server:
        async with server.http.get(f"{server.url}/graphql", headers=browser_headers) as response:
            assert response.status == 200
            page = await response.text()
            assert "Seliq GraphQL" in page and "Bearer seliq_" not in page
        # The subscription client is served with the rest of the IDE.
        async with server.http.get(f"{server.url}{ASSET_PREFIX}/graphql-ws.min.js") as response:
            assert response.status == 200
            assert "javascript" in response.content_type
            assert "graphql-transport-ws" in await response.text()
