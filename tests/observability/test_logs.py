"""Structured logs: one JSON line per request on `seliq.access`, carrying the request id the
response carried, and never a key, token, query string or body."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp import web

from gateway.domain.settings import Settings, load_settings
from gateway.domain.storage.engine import Database
from gateway.service.app import create_app
from gateway.service.logs import (
    _SECRET_RE,
    JsonFormatter,
    configure_logging,
    iter_log_lines,
    redact,
)
from tests.support.data import Tenants
from tests.support.metrics import running
from tests.support.server import Server


class Logs:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        # Every line the handler wrote must be one JSON object.
        raw = [line for line in self.text.splitlines() if line]
        parsed = [orjson.loads(line) for line in raw]
        assert all(isinstance(entry, dict) for entry in parsed)
        return parsed

    def access(self, request_id: str) -> dict[str, Any]:
        found = [
            e for e in self.lines()
            if e["logger"] == "seliq.access" and e.get("request_id") == request_id
        ]
        assert len(found) == 1, self.text
        return found[0]


@pytest.fixture
def logs() -> Iterator[Logs]:
    """The process logging as `seliq-gateway serve` sets it up, written to a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield Logs(stream)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


async def test_access_line_is_json_with_the_response_request_id(
    server: Server, tenants: Tenants, logs: Logs
) -> None:
    query = "query OpenIncidents($n: Int) { incidents(first: $n) { totalCount } }"
    body = await server.graphql(query, {"n": 2}, key=tenants.mssp.key, workspace="acme")
    request_id = body["_headers"]["X-Request-ID"]

    line = logs.access(request_id)
    assert line["level"] == "info"
    assert line["msg"] == "request"
    assert line["ts"].endswith("Z")
    assert line["method"] == "POST"
    assert line["route"] == "/graphql"
    assert line["operation"] == "OpenIncidents"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    assert line["workspace_id"] == tenants.acme.id  # the workspace acted on
    assert line["key_id"].startswith("key_")
    assert line["sql_statements"] >= 1
    assert isinstance(line["cost"], int) and line["cost"] >= 1  # the executor's query cost
    assert list(line)[:6] == ["ts", "level", "logger", "msg", "request_id", "method"]
    assert tenants.mssp.key not in logs.text
    assert "totalCount" not in logs.text  # no query text, variables or response body


async def test_no_secret_reaches_the_logs(server: Server, tenants: Tenants, logs: Logs) -> None:
    bad_key = "seliq_" + "k" * 43
    await server.graphql("{ incidents { totalCount } }", key=bad_key, expect_status=401)
    token = "whk_" + "t" * 43
    async with server.http.post(f"{server.url}/webhook/acme/{token}", json={"x": 1}) as response:
        assert response.status == 404
        webhook_id = response.headers["X-Request-ID"]
    async with server.http.get(
        f"{server.url}/graphql",
        params={"query": "{ incidents { totalCount } }"},
        headers={"Authorization": f"Bearer {tenants.acme.key}", "X-Request-ID": "client-id-1"},
    ) as response:
        assert response.status == 200
        assert response.headers["X-Request-ID"] == "client-id-1"

    assert logs.access(webhook_id)["route"] == "/webhook/{slug}/{token}"
    get_line = logs.access("client-id-1")
    assert get_line["operation"] == "<anonymous>"
    assert get_line["method"] == "GET"
    for secret in (bad_key, token, tenants.acme.key, "incidents {"):
        assert secret not in logs.text


async def test_unexpected_errors_are_logged_with_the_request_id(
    settings: Settings, db: Database, logs: Logs
) -> None:
    app = create_app(settings, db=db)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("kaboom")

    app.router.add_get("/boom", boom)
    async with running(app) as (url, http), http.get(f"{url}/boom") as response:
        assert response.status == 500
        request_id = response.headers["X-Request-ID"]
    access = logs.access(request_id)
    assert access["level"] == "error"
    assert access["status"] == 500
    errors = [e for e in logs.lines() if e["logger"] == "seliq.http"]
    assert errors and errors[0]["request_id"] == request_id
    assert "RuntimeError: kaboom" in errors[0]["exc"]


async def test_log_level_setting(
    server: Server, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELIQ_LOG_LEVEL", "warning")
    configure_logging(load_settings().log_level, stream=logs.stream)
    async with server.http.get(f"{server.url}/healthz") as response:
        assert response.status == 200
    assert "seliq.access" not in logs.text

    configure_logging("DEBUG", stream=logs.stream)  # probes and scrapes are DEBUG lines
    async with server.http.get(f"{server.url}/healthz") as response:
        request_id = response.headers["X-Request-ID"]
    assert logs.access(request_id)["level"] == "debug"
    # Reconfiguring replaced the handler instead of adding a second one.
    assert len(logs.text.splitlines()) == len(set(logs.text.splitlines()))


def test_formatter_masks_anything_shaped_like_a_secret() -> None:
    key = "seliq_" + "A1b2-C3_d4" * 5
    record = logging.LogRecord(
        "seliq.test", logging.WARNING, __file__, 1, "got %s and %s", (key, "Bearer abc.def"), None
    )
    record.detail = {"token": "whk_" + "z" * 43}
    line = JsonFormatter().format(record)
    entry = orjson.loads(line)
    assert entry["msg"] == "got seliq_[redacted] and Bearer [redacted]"
    assert entry["detail"] == {"token": "whk_[redacted]"}
    assert redact("seliq.access seliq_abcd") == "seliq.access seliq_abcd"  # short: not a secret
    assert redact("auth: BeArEr abc.def") == "auth: BeArEr [redacted]"  # any case
    assert list(iter_log_lines(f"banner\n{line}\n")) == [entry]


TOKEN = "A1b2-C3_d4" * 4
REDACTION_CASES = [
    '{"key_id":"whk_01bench0000000000000000000","route":"/webhook/{slug}/{token}"}',
    f"path /webhook/acme/whk_{TOKEN}",
    f"xseliq_aaa-whk_{TOKEN}",  # no boundary before seliq_, one before whk_
    f"foo_whk_{TOKEN}",  # no boundary: not a token of its own
    f"éwhk_{TOKEN} and (seliq_{TOKEN})",
    f"whk_{TOKEN[:31]} is short",
    "Authorization: bearer xyz, BEARER\tq",
    "seliq.access seliq_ whk_",
    "",
]


@pytest.mark.parametrize("text", REDACTION_CASES)
def test_redaction_is_the_regex_with_shortcuts_only(text: str) -> None:
    """The tests before the regex never change its answer."""
    whole = _SECRET_RE.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)
    assert redact(text) == whole


@pytest.mark.parametrize(
    "now", [86400.0, 86401.0009, 1700000000.123, 1765128994.999, 1765128995.9999996]
)
def test_each_line_is_stamped_in_utc_to_the_millisecond(
    now: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The formatter writes the second once per second (a cache), and the milliseconds of each
    line: what `isoformat(timespec="milliseconds")` of the record's time gives."""
    formatter = JsonFormatter()
    for at in (now - 1, now):  # a line of the second before, then one of this second
        clock = logging.time  # type: ignore[attr-defined]
        monkeypatch.setattr(clock, "time", lambda at=at: at)
        monkeypatch.setattr(clock, "time_ns", lambda at=at: int(at * 1e9))
        record = logging.getLogger("seliq.test").makeRecord(
            "seliq.test", logging.INFO, __file__, 1, "tick", (), None
        )
        expected = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
        assert orjson.loads(formatter.format(record))["ts"] == expected.replace("+00:00", "Z")
