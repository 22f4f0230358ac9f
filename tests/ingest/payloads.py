"""Realistic sample payloads of the recognised formats (shapes as the tools send them)."""

from __future__ import annotations

from typing import Any

STARTS_AT = "2026-11-27T09:00:00.123456789Z"
UNSET = "0001-01-01T00:00:00Z"


def _am_alert(status: str, pod: str, severity: str, fingerprint: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": "CheckoutLatencyHigh",
            "service": "checkout",
            "pod": pod,
            "severity": severity,
        },
        "annotations": {
            "summary": "Checkout latency above 2 s",
            "description": "p99 latency is 2.7 s",
        },
        "startsAt": STARTS_AT,
        "endsAt": "2026-11-27T09:20:00Z" if status == "resolved" else UNSET,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
        "fingerprint": fingerprint,
    }


def alertmanager_group(status: str, *, only_first: bool = False) -> dict[str, Any]:
    """An Alertmanager v4 notification: two pods of one service firing the same alert."""
    alerts = [
        _am_alert(status, "checkout-1", "critical", "a1b2c3d4e5f60001"),
        _am_alert(status, "checkout-2", "warning", "a1b2c3d4e5f60002"),
    ]
    if only_first:
        alerts = alerts[:1]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutLatencyHigh"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "seliq",
        "groupLabels": {"alertname": "CheckoutLatencyHigh"},
        "commonLabels": {"alertname": "CheckoutLatencyHigh", "service": "checkout"},
        "commonAnnotations": {"summary": "Checkout latency above 2 s"},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def grafana_group(status: str) -> dict[str, Any]:
    """A Grafana (unified alerting) webhook notification."""
    return {
        "receiver": "seliq",
        "status": status,
        "orgId": 1,
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "HighMemory", "host": "web-1", "severity": "high",
                    "grafana_folder": "Infra",
                },
                "annotations": {"summary": "Memory above 90% on web-1"},
                "startsAt": "2026-11-27T09:51:03.157076+02:00",
                "endsAt": "2026-11-27T10:30:00+02:00" if status == "resolved" else UNSET,
                "generatorURL": "https://grafana.example/alerting/grafana/abc/view",
                "fingerprint": "c6eadffa33fcdf37",
                "silenceURL": "https://grafana.example/alerting/silence/new",
                "dashboardURL": "https://grafana.example/d/abc",
                "panelURL": "https://grafana.example/d/abc?viewPanel=2",
                "values": {"B": 93.2, "C": 1},
                "valueString": "[ var='B' labels={host=web-1} value=93.2 ]",
            }
        ],
        "groupLabels": {"alertname": "HighMemory"},
        "commonLabels": {"alertname": "HighMemory", "host": "web-1"},
        "commonAnnotations": {},
        "externalURL": "https://grafana.example/",
        "version": "1",
        "groupKey": '{}:{alertname="HighMemory"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] HighMemory (web-1)",
        "state": "alerting" if status == "firing" else "ok",
        "message": "**Firing**\n\nValue: B=93.2",
    }


def legacy_grafana(state: str) -> dict[str, Any]:
    """The pre-8 Grafana webhook."""
    return {
        "title": f"[{state.title()}] Panel error rate",
        "ruleId": 7,
        "ruleName": "Panel error rate",
        "ruleUrl": "https://grafana.example/d/xyz?panelId=4",
        "state": state,
        "message": "Error rate above 5%",
        "evalMatches": [{"value": 7.5, "metric": "errors", "tags": {}}],
        "tags": {"service": "api"},
    }


def wazuh_alert(level: int = 10, agent: str = "web-01") -> dict[str, Any]:
    """A Wazuh alert as its integrations post it: no key of the generic body but `id`."""
    return {
        "timestamp": "2026-11-27T09:12:44.123+0000",
        "rule": {
            "level": level,
            "description": "sshd: brute force trying to get access to the system.",
            "id": "5712",
            "groups": ["syslog", "sshd", "authentication_failures"],
        },
        "agent": {"id": "001", "name": agent},
        "manager": {"name": "wazuh-manager"},
        "id": "1701076364.123456",
        "full_log": "Nov 27 09:12:44 web-01 sshd[1234]: Failed password for root",
        "location": "/var/log/auth.log",
    }
