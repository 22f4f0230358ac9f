"""Server processes under test: the real gateway (`seliq-gateway serve`) and the hand-written
reference, each in its own process, pinned to the server core once they answer; and the helpers
the benchmark's other processes share (pinning, the child environment, a spawned worker)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Cores:
    """Which core runs the servers and which the load generator (None: no pinning)."""

    server: int | None
    client: int | None

    @classmethod
    def detect(cls) -> Cores:
        if not hasattr(os, "sched_getaffinity"):
            return cls(None, None)
        available = sorted(os.sched_getaffinity(0))
        if len(available) < 2:
            return cls(None, None)
        return cls(available[0], available[1])

    def describe(self) -> str:
        if self.server is None:
            return "not pinned (fewer than 2 cores available)"
        return f"servers on core {self.server}, load generator on core {self.client}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def pin_process(pid: int, core: int | None) -> None:
    """Pin every thread of `pid` (threads it starts later inherit from its main thread)."""
    if core is None or not hasattr(os, "sched_setaffinity"):
        return
    try:
        tids = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    for tid in tids:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(tid, {core})


def pin_self(core: int | None) -> None:
    """Pin the calling process to `core` (threads it starts later inherit it)."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of `env` with the repository first on PYTHONPATH, for a child `python -m ...`."""
    path = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, "PYTHONPATH": path}


class Worker:
    """A spawned child process running `target(conn, *args)`, which answers each message it
    receives on `conn` until it receives None. `ask` sends one message and waits for the answer."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), daemon=True)
        self._process.start()

    def ask(self, message: Any) -> Any:
        self._conn.send(message)
        return self._conn.recv()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.send(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}: {self.tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer /healthz in {timeout} s: {self.tail()}")

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def pin(self, core: int | None) -> None:
        pin_process(self.process.pid, core)

    def peak_rss_mib(self) -> float:
        """VmHWM: the peak resident set size of the process since it started."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc/<pid>/status")

    def cpu_seconds(self) -> float:
        """User and system CPU time the process has used (/proc/<pid>/stat)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def spawn(name: str, command: list[str], env: dict[str, str], log: Path, port: int) -> Server:
    handle = log.open("wb")
    process = subprocess.Popen(
        command, stdout=handle, stderr=subprocess.STDOUT, env=child_env(env),
        stdin=subprocess.DEVNULL, cwd=ROOT,
    )
    handle.close()
    return Server(name, port, process, log)


def gateway_command() -> list[str]:
    script = Path(sys.executable).with_name("seliq-gateway")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from gateway.service.cli import main; raise SystemExit(main())"]


def start_gateway(name: str, database_url: str, run_dir: Path) -> Server:
    """`seliq-gateway serve` as production runs it (INFO access log included), plus the debug
    header that reports SQL statements; the SLA sweeper is off so that no background scan runs
    between rounds, and the webhook bucket is made large enough never to refuse a sender."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        SELIQ_DEBUG_HEADERS="true",
        SELIQ_SLA_SWEEP_SECONDS="0",
        SELIQ_WEBHOOK_RATE_LIMIT="1000000000",
        SELIQ_LOG_LEVEL=env.get("SELIQ_BENCH_LOG_LEVEL", "INFO"),
    )
    env.pop("SELIQ_REDIS_URL", None)
    command = [*gateway_command(), "serve", "--host", HOST, "--port", str(port),
               "--database", database_url]
    return spawn(name, command, env, run_dir / f"{name}.log", port)


def start_reference(name: str, database: Path, run_dir: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "bench.reference", "--database", str(database),
               "--host", HOST, "--port", str(port)]
    return spawn(name, command, dict(os.environ), run_dir / f"{name}.log", port)
