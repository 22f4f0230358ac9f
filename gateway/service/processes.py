"""Running the server: one process, or `serve --workers N` processes sharing one port.

One process (`run`): the app on an aiohttp runner, until SIGTERM or SIGINT. Then, in order:
1. the listening socket closes (new connections are refused) and idle keep-alive connections
   are closed;
2. on-shutdown hooks: subscriptions are closed with 1001 (going away), the SLA sweeper stops,
   and the report job in flight is handed back to the queue;
3. requests in flight get up to SELIQ_SHUTDOWN_GRACE_SECONDS (default 10) to finish; their
   answers go out (with `Connection: close`); anything still running after that is cancelled,
   so its transaction rolls back and it never answered 2xx;
4. clean-up: background tasks end, the event broker sends what it still holds, the database
   pool closes; the process exits 0.
A second signal while shutting down is ignored (SIGKILL forces).

Several processes (`supervise`): the supervisor starts N worker processes (multiprocessing,
spawn), each binding the same host:port with SO_REUSEPORT, so the kernel spreads connections
over them; nothing is shared in memory, which is why it needs PostgreSQL (rows, job claims,
LISTEN/NOTIFY events) and, for shared rate limits, Redis. The supervisor restarts a worker that
dies (and gives up, exit 1, when workers keep dying at start-up), and on SIGTERM/SIGINT sends
SIGTERM to every worker once, waits for them to finish their clean shutdown, and exits 0 when
all of them did. Workers run in their own process group, so a terminal's Ctrl-C reaches them
only through the supervisor, and (on Linux) they get SIGTERM if the supervisor itself dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from typing import Any

from aiohttp import web

from gateway.domain.settings import Settings
from gateway.service.http.connection import GatewayRunner

log = logging.getLogger("seliq.server")

RESTART_DELAY_SECONDS = 1.0
# A worker that dies within this many seconds of starting counts as a start-up failure;
# this many of those in a row make the supervisor give up.
EARLY_DEATH_SECONDS = 10.0
MAX_EARLY_DEATHS = 3
# Beyond the grace period, what a worker gets for its clean-up before it is killed.
CLEANUP_ALLOWANCE_SECONDS = 20.0


async def serve_app(
    app: web.Application, settings: Settings, *, reuse_port: bool = False,
    stop: asyncio.Event | None = None, own_process: bool = False,
) -> None:
    """Serve `app` until SIGTERM/SIGINT (or `stop` is set), then shut down cleanly.
    `own_process`: the process serves nothing else (`serve`, a worker), so its garbage
    collector is tuned for serving once the app has started (`tune_gc`)."""
    runner = GatewayRunner(app, handle_signals=False,
                           shutdown_timeout=settings.shutdown_grace_seconds)
    await runner.setup()
    stopping = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, _on_signal, stopping, signum)
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
        await site.start()
        if own_process:
            tune_gc()
        await stopping.wait()
        log.info("shutting down: no new connections; requests in flight get %g s",
                 settings.shutdown_grace_seconds)
    finally:
        await runner.cleanup()
        for signum in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    log.info("shut down cleanly")


# Allocations (net of frees) between two collections of the youngest generation; Python's
# default is 700. See `tune_gc`.
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Collect less often, and never look at what start-up made again.

    Under webhook load (T6) the cyclic garbage collector took ~6% of the gateway's CPU: about
    700 young collections and a few full ones per 6,400 alerts, the full ones walking every
    object start-up made (the schema, SQLAlchemy's mappers, the plans' code). `gc.freeze()`
    moves those to a generation the collector skips (the Python docs suggest it for servers);
    with 10,000 allocations between young collections instead of 700, the same load ran one
    collection and spent 3 ms in it (400 ms before). Cycles are still collected, only later:
    peak RSS under the read benchmark (T8) stays the figure to watch."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _on_signal(stopping: asyncio.Event, signum: int) -> None:
    if stopping.is_set():
        log.warning("already shutting down (%s ignored; SIGKILL forces)",
                    signal.Signals(signum).name)
        return
    log.info("%s received", signal.Signals(signum).name)
    stopping.set()


def run(settings: Settings, *, reuse_port: bool = False) -> int:
    """One gateway process (also each worker of `supervise`)."""
    from gateway.service.app import create_app

    async def main() -> None:
        await serve_app(create_app(settings), settings, reuse_port=reuse_port, own_process=True)

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())
    return 0


def event_loop_factory() -> Any:
    """uvloop's event loop when it is installed (faster I/O under aiohttp), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a dependency, but optional on odd platforms
        return None
    return uvloop.new_event_loop


def _exit_while_starting(signum: int, frame: Any) -> None:
    """SIGTERM/SIGINT before the worker serves: nothing is in flight, so just leave (0). Once
    it serves, `serve_app`'s handlers replace this one."""
    raise SystemExit(0)


def _worker_main(settings: Settings, index: int) -> None:
    """Entry point of a worker process (spawned: a fresh interpreter)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_while_starting)
    with contextlib.suppress(OSError):
        os.setpgrp()  # a terminal's Ctrl-C goes to the supervisor, which passes it on once
    _die_with_parent()
    from gateway.service.logs import configure_logging

    configure_logging(settings.log_level, json=True)
    log.info("worker %d started (pid %d)", index, os.getpid())
    sys.exit(run(settings, reuse_port=True))


def _die_with_parent() -> None:
    """Linux: ask for SIGTERM when the supervisor dies, so no worker outlives it."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context = multiprocessing.get_context("spawn")
        self.workers: dict[int, Any] = {}
        self.started_at: dict[int, float] = {}
        self.early_deaths = 0
        self.stopping = False
        self.failed = False

    def _start(self, index: int) -> None:
        process = self.context.Process(
            target=_worker_main, args=(self.settings, index), name=f"seliq-worker-{index}"
        )
        process.start()
        self.workers[index] = process
        self.started_at[index] = time.monotonic()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if not self.stopping:
            log.info("%s received: stopping %d worker(s)", signal.Signals(signum).name,
                     len(self.workers))
        self.stopping = True

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for index in range(self.settings.workers):
            self._start(index)
        while not self.stopping:
            sentinels = [p.sentinel for p in self.workers.values()]
            multiprocessing.connection.wait(sentinels, timeout=0.5)
            if self.stopping:
                break
            for index, process in list(self.workers.items()):
                if process.is_alive():
                    continue
                self._handle_death(index, process)
                if self.failed:
                    self.stopping = True
                    break
        return self._stop_all()

    def _handle_death(self, index: int, process: Any) -> None:
        lived = time.monotonic() - self.started_at[index]
        log.error("worker %d (pid %s) exited with %s after %.1f s", index, process.pid,
                  process.exitcode, lived)
        if lived < EARLY_DEATH_SECONDS:
            self.early_deaths += 1
            if self.early_deaths >= MAX_EARLY_DEATHS:
                log.error("workers keep dying at start-up; giving up")
                self.failed = True
                return
        else:
            self.early_deaths = 0
        time.sleep(RESTART_DELAY_SECONDS)
        if not self.stopping:
            self._start(index)

    def _stop_all(self) -> int:
        alive = [p for p in self.workers.values() if p.is_alive()]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + (
            CLEANUP_ALLOWANCE_SECONDS
        )
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker pid %s did not stop in time: killed", process.pid)
                process.kill()
                process.join()
        clean = all(p.exitcode == 0 for p in alive)
        if self.failed:
            return 1
        log.info("all workers stopped%s", "" if clean else " (some not cleanly)")
        return 0 if clean else 1


def supervise(settings: Settings) -> int:
    return Supervisor(settings).run()


def check_workers(settings: Settings) -> str | None:
    """Why `--workers N` cannot run with these settings, or None."""
    if settings.workers <= 1:
        return None
    if settings.is_sqlite:
        return (
            "serve --workers N needs PostgreSQL (SELIQ_DATABASE_URL=postgresql+asyncpg://...): "
            "SQLite is one process's database"
        )
    if settings.port == 0:
        return "serve --workers N needs a fixed --port (the workers share it)"
    return None
