"""Lower-severity cases, below the application: the HTTP parser and the server.

These run against a real `seliq-gateway serve` process (the `served` fixture), since what
answers a request aiohttp cannot parse, how long a connection may take to send its headers and
what the `Server` header says are properties of the server, wherever the implementer sets them.

- Headers trickled slowly are never timed out today (a few thousand such sockets exhaust file
  descriptors). Expected: a header-read timeout, the setting SELIQ_HEADER_READ_TIMEOUT_SECONDS
  (`header_read_timeout_seconds` in gateway/domain/settings.py; the fixture starts the server
  with 1 s): a connection that has not sent its complete headers within it is closed (a 408
  answer before closing is fine). Bound asserted: closed within 10 s, generously.
- aiohttp's own 400s (a bad request line, a control character in a header, a header line over
  8,190 bytes) are plain text without X-Request-ID today, echo the offending header (the
  caller's own key) and are logged at ERROR with a traceback and the query string. Expected:
  our JSON error body (`invalid_request` for a 400; 431 is accepted for the long line) with
  `X-Request-ID`, nothing of the offending header or the query string echoed, and in the log no
  ERROR line, no traceback and no query string.
- The `Server` header names Python and aiohttp versions today. Expected: no version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time

import aiohttp
import pytest

from tests.hostile.conftest import HEADER_READ_TIMEOUT_SECONDS
from tests.hostile.helpers import host_port, raw_exchange
from tests.support.procs import ServerProcess

#: Generous bound for a trickling connection to be closed (the setting is 1 s).
TRICKLE_BOUND_SECONDS = 10.0
SECRET_KEY = "seliq_" + "K" * 20 + "trickled-key-secret" + "K" * 4
QUERY_SECRET = "probe-qs-secret-4f1c"


async def _healthz(url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
        assert response.status == 200


def _no_version(server_header: str | None) -> bool:
    if server_header is None:
        return True
    return not re.search(r"\d", server_header) and not re.search(
        r"python|aiohttp", server_header, re.IGNORECASE
    )


async def _trickle(url: str) -> float | None:
    """Open a connection, send a request line and then one byte of a header every 0.2 s.
    Returns the seconds until the server closed the connection (or answered), None if it was
    still open after TRICKLE_BOUND_SECONDS."""
    host, port = host_port(url)
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()
        while time.monotonic() - started < TRICKLE_BOUND_SECONDS:
            try:
                data = await asyncio.wait_for(reader.read(1024), 0.2)
            except TimeoutError:
                try:
                    writer.write(b"a")
                    await writer.drain()
                except (ConnectionResetError, BrokenPipeError):
                    return time.monotonic() - started
                continue
            if data:  # an answer before closing: a 408 (or 400)
                assert data.startswith((b"HTTP/1.1 408", b"HTTP/1.1 400")), data
            return time.monotonic() - started
        return None
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - started
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.wait_closed()


async def test_trickled_headers_are_timed_out(served: ServerProcess) -> None:
    trickles = [asyncio.create_task(_trickle(served.url)) for _ in range(20)]
    # Meanwhile others are answered.
    for _ in range(5):
        await _healthz(served.url)
        await asyncio.sleep(0.1)
    closed_after = await asyncio.gather(*trickles)
    assert all(seconds is not None for seconds in closed_after), (
        f"trickling connections still open after {TRICKLE_BOUND_SECONDS} s "
        f"(SELIQ_HEADER_READ_TIMEOUT_SECONDS={HEADER_READ_TIMEOUT_SECONDS}): {closed_after}"
    )
    await _healthz(served.url)


def _parse_error_requests() -> list[tuple[str, bytes, bytes]]:
    """(id, raw request, what must not be echoed)."""
    key = SECRET_KEY.encode()
    return [
        ("bad request line",
         f"GET /v1/incidents?probe={QUERY_SECRET} HTTTP/1.1\r\nHost: x\r\n\r\n".encode(),
         QUERY_SECRET.encode()),
        ("control character in a header",
         f"GET /v1/incidents?probe={QUERY_SECRET} HTTP/1.1\r\nHost: x\r\n".encode()
         + b"Authorization: Bearer " + key + b"\x01\x07\r\nConnection: close\r\n\r\n",
         key),
        ("header line over 8190 bytes",
         f"GET /v1/incidents?probe={QUERY_SECRET} HTTP/1.1\r\nHost: x\r\n".encode()
         + b"Authorization: Bearer " + key + b"A" * 9000 + b"\r\nConnection: close\r\n\r\n",
         key),
    ]


@pytest.mark.parametrize(
    ("request_bytes", "secret"), [case[1:] for case in _parse_error_requests()],
    ids=[case[0] for case in _parse_error_requests()],
)
async def test_parse_errors_are_our_json_error(
    served: ServerProcess, request_bytes: bytes, secret: bytes
) -> None:
    answer, _ = await asyncio.gather(raw_exchange(served.url, request_bytes), _healthz(served.url))
    assert answer.status in (400, 431), answer.raw
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.raw
    error = json.loads(answer.body)["error"]
    if answer.status == 400:
        assert error["code"] == "invalid_request", answer.raw
    assert error["message"] and error["request_id"] == answer.headers.get("x-request-id"), (
        answer.raw
    )
    assert secret not in answer.raw and QUERY_SECRET.encode() not in answer.raw, answer.raw
    assert _no_version(answer.headers.get("server")), answer.headers
    await _healthz(served.url)

    served.stop()
    assert served.process.stderr is not None
    log = served.process.stderr.read()
    assert QUERY_SECRET not in log, log[-3000:]
    assert secret.decode() not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            assert entry.get("level") not in ("error", "critical"), line[:1000]


async def test_server_header_names_no_version(served: ServerProcess) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/graphql", "/v1/incidents", "/nothing-here"):
            async with http.get(f"{served.url}{path}") as response:
                assert _no_version(response.headers.get("Server")), (path, response.headers)
