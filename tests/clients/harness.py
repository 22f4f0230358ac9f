"""What the real-client suites share: the skip-or-fail rule for missing tools, the real
`seliq-gateway serve` on a loopback port over its own SQLite file (workspace, keys and webhook
token made with the CLI, as the README tells a user to), child processes that log to files and
are always stopped, and bounded polling.

Tools come from `.ci/install-clients`. Without them a suite is skipped with one line naming what
is missing, except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.procs import EXECUTABLE, cli_env, free_port, run_cli, stop_process

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
INSTALL_HINT = "run .ci/install-clients"

T = TypeVar("T")


def require(missing: str | None) -> None:
    """Skip the test because `missing` is missing, or fail it under CI=true."""
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"real-client test cannot run in CI: {missing}")
    pytest.skip(missing)


def require_commands(*names: str) -> None:
    for name in names:
        if shutil.which(name) is None:
            require(f"{name} not installed ({INSTALL_HINT})")


def require_node_modules(*packages: str) -> None:
    require_commands("node")
    for package in packages:
        if not (NODE_DIR / "node_modules" / package / "package.json").exists():
            require(f"npm package {package} not installed in {NODE_DIR.relative_to(REPO)} "
                    f"({INSTALL_HINT})")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.25,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Call `probe` until it returns something other than None (or False); fail after
    `timeout` seconds with `what` and whatever `diagnose` says."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value is not None and value is not False:
                return value
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            details = f"\nlast error: {last_error!r}" if last_error else ""
            if diagnose is not None:
                details += "\n" + diagnose()
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{details}")
        time.sleep(interval)


def http_json(
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """One HTTP request; the status and the decoded JSON body (or the text if not JSON)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path.name}: no output)"
    text = path.read_text(errors="replace").splitlines()
    return f"--- last {min(lines, len(text))} lines of {path.name}:\n" + "\n".join(text[-lines:])


@dataclass
class Child:
    """A child process whose stdout and stderr go to one log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)


@contextmanager
def child(
    name: str, args: Sequence[str], log_dir: Path, env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Child]:
    """Start `args`, logging to `log_dir/name.log`; always stopped on the way out."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd,
        )
    running = Child(name, process, log)
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Gateway:
    """`seliq-gateway serve` on loopback, with one workspace, a write key, a read key and a
    webhook token."""

    url: str
    slug: str
    key: str
    read_key: str
    webhook_token: str
    server: Child

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        status, body = http_json(
            f"{self.url}/graphql", {"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key or self.key}"},
        )
        assert status == 200 and isinstance(body, dict) and not body.get("errors"), (status, body)
        return dict(body["data"])

    def post_webhook(self, body: Any) -> tuple[int, Any]:
        """A delivery to the token-in-path webhook URL."""
        return http_json(f"{self.url}/webhook/{self.slug}/{self.webhook_token}", body)

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)


@contextmanager
def gateway(tmp_path: Path, slug: str = "acme", **env: str) -> Iterator[Gateway]:
    """Seed a fresh SQLite file with the CLI, then serve it on a free loopback port."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    run_cli(database, "workspace", "create", slug, "--name", slug.title(), "--tier", "growth")
    key = run_cli(database, "key", "create", "--workspace", slug, "--name", "ci")["key"]
    read_key = run_cli(database, "key", "create", "--workspace", slug, "--name", "ci-reader",
                       "--scope", "read")["key"]
    hook = run_cli(database, "webhook", "create", "--workspace", slug)["webhook"]
    # The URL printed is {public url}/webhook/{slug}/{token}: the token is its last segment.
    token = hook["url"].rstrip("/").rsplit("/", 1)[1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [EXECUTABLE, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with child("gateway", args, tmp_path, env=cli_env(database, **env)) as server:
        def healthy() -> bool:
            if not server.alive():
                raise AssertionError("gateway exited\n" + server.log_tail())
            return http_json(f"{url}/healthz", timeout=1)[0] == 200

        wait_for("the gateway's /healthz", healthy, timeout=30, interval=0.1,
                 diagnose=server.log_tail)
        yield Gateway(url=url, slug=slug, key=key["secret"], read_key=read_key["secret"],
                      webhook_token=token, server=server)
