"""The load generator: a separate process, pinned to its own core where the machine allows, that
drives a server over loopback with keep-alive HTTP/1.1 connections.

It is a deliberately small client (pre-encoded requests, `Content-Length` bodies only) so that on
its own core it can push several times more requests than the servers under test answer: what
is measured is the server, not the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.procs import Worker, pin_self
from gateway.service.processes import event_loop_factory


class BenchmarkBroken(RuntimeError):
    """A request failed or answered something other than expected: the benchmark is wrong (or
    the server is), which must fail the run whatever the speed."""


@dataclass
class Job:
    host: str
    port: int
    # Pre-encoded requests. "duration": each connection cycles through them until the time is up;
    # "count": the connections share them and send each exactly once.
    requests: list[bytes]
    concurrency: int = 1
    seconds: float = 1.0
    mode: str = "duration"
    expect_status: tuple[int, ...] = (200,)


@dataclass
class JobResult:
    count: int
    elapsed: float
    errors: int
    latencies: list[float] = field(repr=False)
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def median_latency(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, limit=1 << 22)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, bytes, bytes]:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            raise BenchmarkBroken("chunked responses are not expected from the servers under test")
    body = await reader.readexactly(length) if length else b""
    return status, head, body


async def fetch(host: str, port: int, payload: bytes) -> Fetched:
    reader, writer = await _open(host, port)
    try:
        status, head, body = await _exchange(reader, writer, payload)
    finally:
        writer.close()
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    return Fetched(status, headers, body)


async def run_job(job: Job) -> JobResult:
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    shared = iter(job.requests)
    deadline = 0.0

    async def connection(offset: int) -> None:
        nonlocal errors, first_error
        reader, writer = await _open(job.host, job.port)
        index = offset
        try:
            while True:
                if job.mode == "count":
                    payload = next(shared, None)
                    if payload is None:
                        return
                else:
                    if time.perf_counter() >= deadline:
                        return
                    payload = job.requests[index % len(job.requests)]
                    index += 1
                started = time.perf_counter()
                status, _, body = await _exchange(reader, writer, payload)
                latencies.append(time.perf_counter() - started)
                if status not in job.expect_status:
                    errors += 1
                    if first_error is None:
                        first_error = f"HTTP {status}: {body[:500]!r}"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    started = time.perf_counter()
    deadline = started + job.seconds
    await asyncio.gather(*(connection(i) for i in range(job.concurrency)))
    elapsed = time.perf_counter() - started
    return JobResult(len(latencies), elapsed, errors, latencies, first_error)


def _serve(conn: Connection, core: int | None) -> None:
    pin_self(core)
    loop: asyncio.AbstractEventLoop = (event_loop_factory() or asyncio.new_event_loop)()
    while True:
        message = conn.recv()
        if message is None:
            break
        kind, payload = message
        try:
            if kind == "job":
                answer: Any = loop.run_until_complete(run_job(payload))
            else:
                host, port, request = payload
                answer = loop.run_until_complete(fetch(host, port, request))
        except Exception as exc:  # reported to the orchestrator, which fails the run
            answer = BenchmarkBroken(f"{type(exc).__name__}: {exc}")
        conn.send(answer)
    loop.close()


class LoadGenerator(Worker):
    """A load-generator process; `run` and `fetch` block until it answers."""

    def __init__(self, core: int | None) -> None:
        super().__init__(_serve, core)

    def _call(self, kind: str, payload: Any) -> Any:
        answer = self.ask((kind, payload))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def run(self, job: Job) -> JobResult:
        result: JobResult = self._call("job", job)
        return result

    def fetch(self, host: str, port: int, request: bytes) -> Fetched:
        result: Fetched = self._call("fetch", (host, port, request))
        return result
