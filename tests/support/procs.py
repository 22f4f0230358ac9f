"""Running the real `seliq-gateway` executable: CLI commands and servers as subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXECUTABLE = str(Path(sys.executable).with_name("seliq-gateway"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELIQ_")}
    env["SELIQ_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(database_url: str, *args: str) -> dict[str, Any]:
    """Run a management command; it must print exactly one JSON object."""
    done = subprocess.run(
        [EXECUTABLE, *args],
        env=cli_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, up to 10 s for a clean exit, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_server(database_url: str, *args: str, **env: str) -> ServerProcess:
    """Start `seliq-gateway serve` on a free loopback port and wait until /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [EXECUTABLE, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=cli_env(database_url, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return ServerProcess(process, url)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start within 30 s")
