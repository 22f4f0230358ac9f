"""The Prometheus and Alertmanager configuration the real-client suite runs with.

`alertmanager_config` is a working receiver for the gateway with header auth: Alertmanager's
`webhook_configs[].http_config.authorization` sends `Authorization: Bearer <token>` to
`POST /webhook/{slug}`, so the token never appears in a URL (nor in proxy or access logs).
Intervals are seconds instead of minutes so the test runs quickly; a real set-up keeps
Alertmanager's defaults (group_wait 30s, group_interval 5m, repeat_interval 4h).
"""

from __future__ import annotations

ALERT_NAME = "SeliqClientTestDiskFull"
RULE_GROUP = "seliq-client-test"


def alertmanager_config(gateway_url: str, slug: str, token: str) -> str:
    """Alertmanager 0.25 configuration: one route, one webhook receiver posting to the gateway
    with the webhook token in the Authorization header."""
    return f"""\
route:
  receiver: seliq
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: seliq
    webhook_configs:
      - url: {gateway_url}/webhook/{slug}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def prometheus_config(gateway_target: str, alertmanager_target: str, rules_file: str) -> str:
    """Prometheus 2.42: scrape the gateway's /metrics every second, evaluate `rules_file` every
    second, send alerts to the Alertmanager at `alertmanager_target` (host:port)."""
    return f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules_file}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{alertmanager_target}"]
scrape_configs:
  - job_name: seliq-gateway
    metrics_path: /metrics
    static_configs:
      - targets: ["{gateway_target}"]
"""


def rules(*, firing: bool, run_id: str) -> str:
    """One alerting rule, switched by rewriting this file and reloading Prometheus: its
    expression is always true when `firing`, never true otherwise. The rule keeps its name and
    labels across the switch, so Prometheus carries its state over on reload and sends the
    alert as resolved when it stops firing."""
    expr = "vector(1)" if firing else "vector(1) < 0"
    return f"""\
groups:
  - name: {RULE_GROUP}
    interval: 1s
    rules:
      - alert: {ALERT_NAME}
        expr: {expr}
        labels:
          severity: critical
          host: db-1
          service: orders-db
          run: "{run_id}"
        annotations:
          summary: Disk full on db-1 (client test {run_id})
          description: The orders database volume is at 100%.
"""
