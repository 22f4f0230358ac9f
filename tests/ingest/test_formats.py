"""Pure parts of ingestion: severity mapping, shape recognition, normalisation, group keys."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.errors import InvalidInput
from gateway.domain.ingest import correlation, formats
from gateway.domain.ingest.severity import map_severity
from gateway.domain.ingest.webhook_auth import SignatureError, sign, verify_signature
from tests.ingest.payloads import (
    alertmanager_group,
    grafana_group,
    legacy_grafana,
    wazuh_alert,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("critical", "critical"), ("CRIT", "critical"), ("fatal", "critical"),
        ("emergency", "critical"), ("disaster", "critical"),
        ("high", "high"), ("error", "high"), ("ERR", "high"), ("major", "high"),
        ("medium", "medium"), ("warning", "medium"), ("Warn", "medium"), ("average", "medium"),
        ("low", "low"), ("minor", "low"), ("notice", "low"),
        ("info", "info"), ("informational", "info"), ("debug", "info"), ("none", "info"),
        ("P1", "critical"), ("p2", "high"), ("P3", "medium"), ("P4", "low"), ("P5", "info"),
        ("SEV-1", "critical"), ("sev2", "high"), ("Sev 3", "medium"),
        (0, "info"), (3, "info"), (4, "low"), (6, "low"), (7, "medium"), (11, "medium"),
        (12, "high"), (14, "high"), (15, "critical"), ("12", "high"), (15.0, "critical"),
        (16, None), (-1, None), ("P6", None), ("bogus", None), (True, None), (None, None),
        (2.5, None), ({"x": 1}, None),
    ],
)
def test_severity_mapping(value: Any, expected: str | None) -> None:
    assert map_severity(value) == expected


def test_generic_body_is_normalised_strictly() -> None:
    parsed = formats.parse(
        {
            "title": "Disk full", "severity": "warning", "description": "95% used",
            "source": "zabbix", "dedup_key": "disk-db-1", "status": "resolved",
            "labels": {"host": "db-1", "port": 5432, "tls": True},
            "occurred_at": "2026-11-27T10:00:00+01:00",
        }
    )
    assert parsed.format == "generic"
    (alert,) = parsed.alerts
    assert (alert.title, alert.severity, alert.source, alert.fingerprint, alert.status) == (
        "Disk full", "medium", "zabbix", "disk-db-1", "resolved"
    )
    assert alert.labels == {"host": "db-1", "port": "5432", "tls": "true"}
    assert alert.occurred_at is not None and alert.occurred_at.hour == 9


def test_derived_fingerprint_ignores_label_order_and_depends_on_title() -> None:
    one = formats.parse({"title": "A", "labels": {"x": "1", "y": "2"}}).alerts[0]
    two = formats.parse({"title": "A", "labels": {"y": "2", "x": "1"}}).alerts[0]
    three = formats.parse({"title": "B", "labels": {"x": "1", "y": "2"}}).alerts[0]
    assert one.fingerprint == two.fingerprint != three.fingerprint
    assert len(one.fingerprint) == 64


def test_title_is_derived_when_possible() -> None:
    assert formats.parse({"description": "first line\nsecond"}).alerts[0].title == "first line"
    assert formats.parse({"labels": {"alertname": "HighCPU"}}).alerts[0].title == "HighCPU"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "title", "`title` is required"),
        ({"severity": "high"}, "title", "`title` is required"),
        ({"title": 5}, "title", "must be a string"),
        ({"title": "x", "severity": "urgentish"}, "severity", "not recognised"),
        ({"title": "x", "status": "maybe"}, "status", "firing or resolved"),
        ({"title": "x", "labels": ["a"]}, "labels", "object of strings"),
        ({"title": "x", "labels": {"a": {"b": 1}}}, "labels", "`a` is an object"),
        ({"title": "x", "fingerprint": "f" * 256}, "fingerprint", "1-255"),
        ({"title": "x", "fingerprint": "a", "dedup_key": "b"}, "dedup_key", "send one"),
        ({"title": "x", "occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"title": "x", "source": ""}, "source", "1-200"),
        ({"alerts": []}, "alerts", "`alerts` is empty"),
        ({"alerts": {"title": "x"}}, "alerts", "must be an array"),
        ({"alerts": [{"title": "ok"}, 3]}, "alerts[1]", "alerts[1] must be an object"),
        ({"alerts": [{"title": "ok"}, {"severity": "high"}]}, "alerts[1].title", "alerts[1]: "),
        ([{"title": "x"}], "payload", 'wrap them: {"alerts": [...]}'),
        ("text", "payload", "got a string"),
        (None, "payload", "got null"),
    ],
)
def test_bad_bodies_say_what_to_fix(body: Any, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        formats.parse(body)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_decode_refuses_empty_and_malformed() -> None:
    for text, fragment in (("", "empty"), ("  ", "empty"), ("{nope", "not valid JSON")):
        with pytest.raises(InvalidInput, match=fragment):
            formats.decode(text)


def test_batch_limit() -> None:
    with pytest.raises(InvalidInput, match="at most 1000"):
        formats.parse({"alerts": [{"title": "x"}] * 1001})


def test_alertmanager_group() -> None:
    parsed = formats.parse(alertmanager_group("firing"), door_source="webhook")
    assert parsed.format == "alertmanager"
    first, second = parsed.alerts
    assert first.source == "alertmanager"
    assert first.title == "Checkout latency above 2 s"
    assert first.severity == "critical" and second.severity == "medium"
    assert first.fingerprint == "a1b2c3d4e5f60001"
    assert first.labels["service"] == "checkout"
    assert first.description == "p99 latency is 2.7 s"
    assert first.occurred_at is not None and first.ended_at is None
    assert first.raw["generatorURL"].startswith("http://prometheus")
    resolved = formats.parse(alertmanager_group("resolved")).alerts[0]
    assert resolved.status == "resolved" and resolved.ended_at is not None


def test_route_source_wins_over_the_format_name() -> None:
    parsed = formats.parse(alertmanager_group("firing"), route_source="prom-eu")
    assert {a.source for a in parsed.alerts} == {"prom-eu"}


def test_grafana_group() -> None:
    parsed = formats.parse(grafana_group("firing"))
    assert parsed.format == "grafana"
    (alert,) = parsed.alerts
    assert alert.source == "grafana"
    assert alert.title == "Memory above 90% on web-1"
    assert alert.severity == "high"
    assert alert.raw["values"] == {"B": 93.2, "C": 1}
    assert alert.raw["dashboardURL"].endswith("/d/abc")


def test_legacy_grafana() -> None:
    firing = formats.parse(legacy_grafana("alerting")).alerts[0]
    ok = formats.parse(legacy_grafana("ok")).alerts[0]
    assert (firing.status, ok.status) == ("firing", "resolved")
    assert firing.fingerprint == ok.fingerprint == "grafana-rule-7"
    assert firing.title == "Panel error rate"


def test_unknown_shape_wazuh() -> None:
    parsed = formats.parse(wazuh_alert(level=12), door_source="webhook")
    assert parsed.format == "unknown"
    (alert,) = parsed.alerts
    assert alert.title == "sshd: brute force trying to get access to the system."
    assert alert.severity == "high"
    assert alert.source == "wazuh"
    assert alert.labels == {"host": "web-01"}
    assert alert.raw == wazuh_alert(level=12)


def test_unknown_shape_without_any_title_is_still_accepted() -> None:
    (alert,) = formats.parse({"foo": 1, "bar": [1, 2]}, door_source="webhook").alerts
    assert alert.title == "Alert from webhook (no title in the payload)"
    assert alert.severity == "medium"


def test_group_key() -> None:
    def key(labels: dict[str, str], names: tuple[str, ...] = correlation.DEFAULT_LABELS) -> str:
        alert = formats.parse({"title": "Disk", "source": "s", "labels": labels}).alerts[0]
        return correlation.group_key(alert, names)

    assert key({"host": "a", "service": "x"}) == "s|Disk|a"
    assert key({"instance": "i:9100"}) == "s|Disk|i:9100"
    assert key({"service": "x", "pod": "p1"}) == key({"service": "x", "pod": "p2"})
    assert key({}) == "s|Disk|"
    assert key({"cluster": "c1", "host": "a"}, ("cluster",)) == "s|Disk|c1"


def test_signature() -> None:
    body = b'{"title": "x"}'
    header = sign("whsec_test", body, 1_000_000)
    verify_signature("whsec_test", header, body, 1_000_100)
    verify_signature("whsec_test", f"t=1000000,v1={'0' * 64},{header.split(',')[1]}", body,
                     1_000_000)
    cases = [
        (None, "requires a signature"),
        ("v1=abc", "malformed"),
        (sign("whsec_test", body, 1_000_000), "more than 300 s"),
        (sign("whsec_other", body, 1_000_400), "does not match"),
    ]
    for value, fragment in cases:
        with pytest.raises(SignatureError, match=fragment):
            verify_signature("whsec_test", value, body, 1_000_400)
