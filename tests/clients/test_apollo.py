"""Apollo Client (npm `@apollo/client` 4, `graphql-ws`, `ws`) in Node against the real gateway.

`tests/clients/node/apollo.mjs` builds a client as a frontend would (automatic persisted queries
in front of HttpLink, subscriptions over graphql-transport-ws) and runs: a query; the
persisted-query handshake (hash only → PERSISTED_QUERY_NOT_FOUND → resent with the document →
the hash alone again answers), seen through a fetch wrapper that records every request; a
subscription that receives an alert this test posts to the webhook while it is subscribed; a
mutation; and a read key's mutation refused with FORBIDDEN. It prints what it saw as JSON and
this test checks it.

Needs node and the packages of tests/clients/node (.ci/install-clients): skipped without them,
failed under CI=true.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.harness import (
    NODE_DIR,
    Gateway,
    gateway,
    require_node_modules,
    tail,
)

pytestmark = pytest.mark.clients

SCRIPT = NODE_DIR / "apollo.mjs"
PACKAGES = ("@apollo/client", "graphql", "graphql-ws", "ws", "rxjs")
TIMEOUT = 60.0


class NodeRun:
    """`node apollo.mjs`, its stdout read line by line as JSON."""

    def __init__(self, gw: Gateway, log: Path) -> None:
        env = {
            **os.environ,
            "SELIQ_URL": gw.url,
            "SELIQ_KEY": gw.key,
            "SELIQ_READ_KEY": gw.read_key,
            "SELIQ_TIMEOUT_MS": str(int(TIMEOUT * 1000)),
        }
        self.log = log
        self._stderr = log.open("wb")
        self.process = subprocess.Popen(
            ["node", str(SCRIPT)], cwd=NODE_DIR, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.seen.append(line.rstrip())
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                continue

    def poll(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON line, or None after `timeout` seconds; a failure report fails the
        test."""
        try:
            message = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if "error" in message:
            raise AssertionError(f"node failed: {message['error']}\n{self.output()}")
        return message

    def next(self, timeout: float) -> dict[str, Any]:
        message = self.poll(timeout)
        if message is None:
            raise AssertionError(f"node said nothing for {timeout:.0f} s\n{self.output()}")
        return message

    def expect(self, step: str, timeout: float) -> dict[str, Any]:
        message = self.next(timeout)
        assert message.get("step") == step, (step, message, self.output())
        return message

    def output(self) -> str:
        return "stdout:\n" + "\n".join(self.seen) + "\n" + tail(self.log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._stderr.close()


@pytest.fixture
def node_run(tmp_path: Path) -> Iterator[tuple[Gateway, NodeRun]]:
    require_node_modules(*PACKAGES)
    with gateway(tmp_path) as gw:
        run = NodeRun(gw, tmp_path / "node-stderr.log")
        try:
            yield gw, run
        finally:
            run.stop()


def _post_until_received(gw: Gateway, run: NodeRun) -> list[str]:
    """Post an alert to the webhook every second until node reports the first one it got (the
    subscription may reach the server a moment after node reports it sent). Each title is new,
    so each post opens its own incident."""
    titles: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        title = f"Apollo subscription check {len(titles) + 1}"
        status, body = gw.post_webhook({
            "title": title, "severity": "high", "source": "apollo-test",
            "labels": {"host": f"web-{len(titles) + 1}"},
        })
        assert status == 202, (status, body)
        titles.append(title)
        message = run.poll(timeout=1.0)
        if message is None:
            continue
        assert message.get("step") == "received", (message, run.output())
        assert message["title"] in titles, (message, titles)
        return titles
    raise AssertionError(f"no alert reached the subscription after {len(titles)} posts\n"
                         f"{run.output()}\n{gw.log_tail()}")


def test_apollo_client(node_run: tuple[Gateway, NodeRun]) -> None:
    gw, run = node_run
    started = time.monotonic()
    run.expect("subscribed", timeout=TIMEOUT)
    titles = _post_until_received(gw, run)
    final = run.next(timeout=TIMEOUT)
    assert "result" in final, final
    result = final["result"]
    assert run.process.wait(timeout=10) == 0, run.output()

    # The query.
    viewer = result["viewer"]
    assert viewer["name"] == "ci" and viewer["scope"] == "WRITE"
    assert viewer["workspace"]["slug"] == gw.slug
    assert viewer["id"].startswith("key_")

    # The persisted-query handshake, request by request.
    sent = [r for r in result["requests"] if r["operationName"] == "Incidents"]
    assert len(sent) == 3, sent
    hash_only, resent, again = sent
    assert hash_only["query"] is None and hash_only["sha256Hash"]
    assert hash_only["status"] == 200
    assert hash_only["errorCodes"] == ["PERSISTED_QUERY_NOT_FOUND"]
    assert not hash_only["hasData"]
    assert resent["query"] is not None
    assert resent["sha256Hash"] == hash_only["sha256Hash"]
    assert hashlib.sha256(resent["query"].encode()).hexdigest() == resent["sha256Hash"]
    assert resent["status"] == 200 and resent["errorCodes"] == [] and resent["hasData"]
    assert again["query"] is None and again["sha256Hash"] == hash_only["sha256Hash"]
    assert again["status"] == 200 and again["errorCodes"] == [] and again["hasData"]
    assert all(r["method"] == "POST" for r in sent)
    assert result["incidents"]["first"] == result["incidents"]["second"]
    assert result["incidents"]["first"]["totalCount"] == 0  # counted before any alert
    # Every document Apollo registered answered once registered: nothing else was refused.
    assert {tuple(r["errorCodes"]) for r in result["requests"]} <= {
        ("PERSISTED_QUERY_NOT_FOUND",), (), ("FORBIDDEN",)
    }, result["requests"]

    # The subscription received an alert posted to the webhook while subscribed.
    event = result["event"]
    assert event["outcome"] == "CREATED"
    assert event["alert"]["title"] in titles
    assert event["alert"]["severity"] == "HIGH"
    assert event["alert"]["id"].startswith("alt_")
    incident = event["alert"]["incident"]
    assert incident["id"].startswith("inc_") and incident["status"] == "TRIGGERED"

    # The mutation, and what the gateway now holds.
    mutation = result["mutation"]
    assert mutation["userErrors"] == []
    assert mutation["incident"]["id"] == incident["id"]
    assert mutation["incident"]["status"] == "ACKNOWLEDGED"
    assert mutation["incident"]["assignee"] == "apollo"
    stored = gw.graphql("query($id: ID!) { incident(id: $id) { status assignee } }",
                        {"id": incident["id"]})
    assert stored["incident"] == {"status": "ACKNOWLEDGED", "assignee": "apollo"}

    # The read key: queries work, its mutation is FORBIDDEN and changes nothing.
    assert result["readViewer"]["scope"] == "READ"
    refused = result["readMutation"].get("rejected")
    assert refused is not None, result["readMutation"]
    assert refused["name"] == "CombinedGraphQLErrors", refused
    assert refused["codes"] == ["FORBIDDEN"], refused
    (refused_request,) = [r for r in result["requests"]
                          if r["client"] == "read" and r["operationName"] == "Acknowledge"
                          and r["errorCodes"] != ["PERSISTED_QUERY_NOT_FOUND"]]
    assert refused_request["status"] == 200 and refused_request["errorCodes"] == ["FORBIDDEN"]
    stored = gw.graphql("query($id: ID!) { incident(id: $id) { assignee } }",
                        {"id": incident["id"]})
    assert stored["incident"]["assignee"] == "apollo"
    assert time.monotonic() - started < TIMEOUT
