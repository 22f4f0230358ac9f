"""Debian's Prometheus and Alertmanager against the real gateway, all on loopback.

The test starts `seliq-gateway serve` (workspace, keys and webhook token made with the CLI), an
Alertmanager whose webhook receiver posts to `POST /webhook/{slug}` with the token in an
`Authorization: Bearer` header (tests/clients/prometheus_configs.py), and a Prometheus that
scrapes the gateway's /metrics and evaluates one alerting rule, each on a free port with its own
data directory. Then:

- Prometheus reports the gateway's scrape target `up` and has its `seliq_*` series;
- the rule fires, Alertmanager posts it, and an incident opens with one firing alert;
- Alertmanager repeats the notification: the alert's `occurrences` grows, and no second alert
  or incident appears;
- the rule is switched off (rules file rewritten, `POST /-/reload`): Prometheus sends the alert
  as resolved, Alertmanager posts that, and the alert and its incident resolve (the incident's
  `status.changed` by `system`);
- every delivery was answered 202, Alertmanager counted no failed notification, and the token
  appears nowhere in the gateway's log.

Needs `prometheus` and `prometheus-alertmanager` (.ci/install-clients): skipped without them,
failed under CI=true.
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.clients.harness import (
    Child,
    Gateway,
    child,
    gateway,
    http_json,
    require_commands,
    wait_for,
)
from tests.clients.prometheus_configs import (
    ALERT_NAME,
    alertmanager_config,
    prometheus_config,
    rules,
)
from tests.support.procs import free_port

pytestmark = pytest.mark.clients

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"  # Debian's name for the alertmanager binary

STATE = """
query State {
  incidents(first: 10) {
    totalCount
    nodes { id title status severity resolvedAt timeline(first: 50) { nodes { type actor } } }
  }
  alerts(first: 10) {
    totalCount
    nodes {
      id title status severity source fingerprint labels occurrences
      firstSeenAt lastSeenAt resolvedAt incident { id }
    }
  }
  workspace {
    webhookDeliveries(first: 100) {
      totalCount
      nodes { statusCode format accepted outcomes error }
    }
  }
}
"""


@dataclass
class Stack:
    gateway: Gateway
    prometheus: Child
    prometheus_url: str
    alertmanager: Child
    alertmanager_url: str
    rules_file: Path
    run_id: str

    def state(self) -> dict[str, Any]:
        return self.gateway.graphql(STATE)

    def delivered_state(self) -> dict[str, Any]:
        """The gateway's state, after checking that Alertmanager saw no failed delivery (the
        gateway refused one: no point waiting) and nothing was created twice."""
        if _failed_webhook_notifications(self):
            raise AssertionError("Alertmanager's webhook notification failed\n" + self.diagnose())
        state = self.state()
        assert state["alerts"]["totalCount"] <= 1, state
        assert state["incidents"]["totalCount"] <= 1, state
        return state

    def diagnose(self) -> str:
        try:
            state: Any = self.state()
        except AssertionError as exc:
            state = f"(state query failed: {exc})"
        try:
            prometheus_alerts = self.prometheus_api("alerts")["alerts"]
            alertmanager_alerts = http_json(f"{self.alertmanager_url}/api/v2/alerts")[1]
        except (OSError, AssertionError) as exc:
            prometheus_alerts = alertmanager_alerts = f"(unavailable: {exc!r})"
        gateway_log = [
            line for line in self.gateway.server.log.read_text(errors="replace").splitlines()
            if '"operation":"State"' not in line  # this test's own polling
        ]
        return "\n".join([
            f"gateway state: {state}",
            f"Prometheus alerts: {prometheus_alerts}",
            f"Alertmanager alerts: {alertmanager_alerts}",
            "--- gateway log (without the test's polling):", *gateway_log[-40:],
            self.alertmanager.log_tail(10),
            self.prometheus.log_tail(10),
        ])

    def prometheus_api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = http_json(f"{self.prometheus_url}/api/v1/{path}{query}")
        assert status == 200 and body["status"] == "success", (status, body)
        return body["data"]

    def instant(self, expr: str) -> list[dict[str, Any]]:
        return list(self.prometheus_api("query", query=expr)["result"])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    require_commands(PROMETHEUS, ALERTMANAGER)
    run_id = secrets.token_hex(4)
    with ExitStack() as stack:
        gw = stack.enter_context(gateway(tmp_path))
        gateway_target = gw.url.removeprefix("http://")

        am_port = free_port()
        am_dir = tmp_path / "alertmanager"
        am_dir.mkdir()
        am_config = am_dir / "alertmanager.yml"
        am_config.write_text(alertmanager_config(gw.url, gw.slug, gw.webhook_token))
        alertmanager = stack.enter_context(child("alertmanager", [
            ALERTMANAGER,
            f"--config.file={am_config}",
            f"--storage.path={am_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",  # no gossip port: one instance, nothing shared
        ], tmp_path))

        prom_port = free_port()
        prom_dir = tmp_path / "prometheus"
        prom_dir.mkdir()
        rules_file = prom_dir / "rules.yml"
        rules_file.write_text(rules(firing=True, run_id=run_id))
        prom_config = prom_dir / "prometheus.yml"
        prom_config.write_text(
            prometheus_config(gateway_target, f"127.0.0.1:{am_port}", str(rules_file))
        )
        prometheus = stack.enter_context(child("prometheus", [
            PROMETHEUS,
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--web.enable-lifecycle",  # POST /-/reload
            # Re-send firing alerts every second, not every minute: Prometheus finds the
            # Alertmanager only a few seconds after start and drops what fired before that.
            "--rules.alert.resend-delay=1s",
        ], tmp_path))

        result = Stack(
            gateway=gw, prometheus=prometheus, prometheus_url=f"http://127.0.0.1:{prom_port}",
            alertmanager=alertmanager, alertmanager_url=f"http://127.0.0.1:{am_port}",
            rules_file=rules_file, run_id=run_id,
        )
        for name, url, process in (
            ("alertmanager", result.alertmanager_url, alertmanager),
            ("prometheus", result.prometheus_url, prometheus),
        ):
            def ready(url: str = url, process: Child = process, name: str = name) -> bool:
                if not process.alive():
                    raise AssertionError(f"{name} exited\n{process.log_tail()}")
                return http_json(f"{url}/-/ready", timeout=1)[0] == 200

            wait_for(f"{name} to be ready", ready, timeout=30, diagnose=process.log_tail)
        yield result


def _gateway_target(stack: Stack) -> dict[str, Any] | None:
    for target in stack.prometheus_api("targets", state="active")["activeTargets"]:
        if target["labels"].get("job") == "seliq-gateway" and target["health"] == "up":
            return dict(target)
    return None


def _failed_webhook_notifications(stack: Stack) -> float:
    """Alertmanager's own count of webhook notifications that failed (non-2xx, errors)."""
    status, text = http_json(f"{stack.alertmanager_url}/metrics")
    assert status == 200 and isinstance(text, str)
    total = 0.0
    for line in text.splitlines():
        if line.startswith("alertmanager_notifications_failed_total{") and (
            'integration="webhook"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_alertmanager_opens_deduplicates_and_resolves(stack: Stack) -> None:
    started = time.monotonic()

    # Prometheus scrapes the gateway: the target is up and the gateway's own series are there.
    target = wait_for("the gateway's scrape target to be up", lambda: _gateway_target(stack),
                      timeout=30, diagnose=stack.diagnose)
    assert target["scrapeUrl"] == f"{stack.gateway.url}/metrics"
    assert target["lastError"] == ""
    up = stack.instant('up{job="seliq-gateway"}')
    assert [sample["value"][1] for sample in up] == ["1"]

    # The rule fires; Alertmanager posts it with the token in the header; an incident opens.
    def opened() -> dict[str, Any] | None:
        state = stack.delivered_state()
        return state if state["alerts"]["totalCount"] == 1 else None

    state = wait_for("the first Alertmanager delivery to open an incident", opened,
                     timeout=45, diagnose=stack.diagnose)
    (alert,) = state["alerts"]["nodes"]
    (incident,) = state["incidents"]["nodes"]
    assert alert["status"] == "FIRING"
    assert alert["severity"] == "CRITICAL"
    assert alert["source"] == "alertmanager"
    assert alert["title"] == f"Disk full on db-1 (client test {stack.run_id})"
    assert alert["labels"]["alertname"] == ALERT_NAME
    assert alert["labels"]["run"] == stack.run_id
    assert alert["incident"]["id"] == incident["id"]
    assert incident["status"] == "TRIGGERED" and incident["severity"] == "CRITICAL"

    # Alertmanager repeats the notification: the same alert counts it, nothing new is created.
    def repeated() -> dict[str, Any] | None:
        state = stack.delivered_state()
        return state if state["alerts"]["nodes"][0]["occurrences"] >= 3 else None

    state = wait_for("repeated notifications to deduplicate", repeated, timeout=45,
                     diagnose=stack.diagnose)
    assert state["alerts"]["totalCount"] == 1 and state["incidents"]["totalCount"] == 1
    repeated_alert = state["alerts"]["nodes"][0]
    assert repeated_alert["id"] == alert["id"]
    assert repeated_alert["fingerprint"] == alert["fingerprint"]
    assert repeated_alert["lastSeenAt"] > alert["lastSeenAt"]
    deliveries = state["workspace"]["webhookDeliveries"]["nodes"][::-1]  # oldest first
    assert deliveries[0]["outcomes"] == ["CREATED"]
    assert all(d["outcomes"] == ["DEDUPLICATED"] for d in deliveries[1:]), deliveries

    # Prometheus scraped the gateway's ingest counter too.
    ingested = wait_for(
        "Prometheus to scrape seliq_alerts_ingested_total",
        lambda: stack.instant('sum(seliq_alerts_ingested_total{format="alertmanager"})'),
        timeout=15, diagnose=stack.diagnose,
    )
    assert float(ingested[0]["value"][1]) >= 1

    # Switch the rule off and reload: the alert resolves, then its incident.
    stack.rules_file.write_text(rules(firing=False, run_id=stack.run_id))
    status, body = http_json(f"{stack.prometheus_url}/-/reload", method="POST")
    assert status == 200, body

    def resolved() -> dict[str, Any] | None:
        state = stack.delivered_state()
        return state if state["incidents"]["nodes"][0]["status"] == "RESOLVED" else None

    state = wait_for("the resolved notification to resolve the incident", resolved,
                     timeout=45, diagnose=stack.diagnose)
    assert state["alerts"]["totalCount"] == 1 and state["incidents"]["totalCount"] == 1
    (alert,) = state["alerts"]["nodes"]
    (incident,) = state["incidents"]["nodes"]
    assert alert["status"] == "RESOLVED" and alert["resolvedAt"] is not None
    assert incident["resolvedAt"] is not None
    events = [(e["type"], e["actor"]) for e in incident["timeline"]["nodes"]]
    assert "ALERT_RESOLVED" in [event_type for event_type, _ in events], events
    assert ("STATUS_CHANGED", "system") in events, events
    assert not stack.prometheus_api("alerts")["alerts"]

    deliveries = state["workspace"]["webhookDeliveries"]["nodes"]
    assert deliveries and all(
        d["statusCode"] == 202 and d["format"] == "ALERTMANAGER" and d["error"] is None
        for d in deliveries
    ), deliveries
    assert any(d["outcomes"] == ["RESOLVED"] for d in deliveries), deliveries
    assert _failed_webhook_notifications(stack) == 0
    assert stack.gateway.webhook_token not in stack.gateway.server.log.read_text()
    assert time.monotonic() - started < 120
