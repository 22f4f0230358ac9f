"""The normalised alert (`AlertIn`) that every payload shape becomes, the limits on its fields,
and the helpers the shape parsers share (lookups, status words, times, labels, fingerprints).
Pure: no I/O; errors are `InvalidInput` with the path of the offending field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gateway.domain.timeutil import parse_iso

MAX_BATCH = 1000
MAX_FINGERPRINT = 255
MAX_TITLE = 500
MAX_SOURCE = 200

GENERIC_KEYS = frozenset(
    {
        "title", "severity", "description", "source", "fingerprint", "dedup_key", "status",
        "labels", "occurred_at",
    }
)
FORMATS = ("generic", "batch", "alertmanager", "grafana", "unknown")

FIRING_WORDS = frozenset(
    {"firing", "fire", "triggered", "trigger", "problem", "open", "alerting", "active", "new"}
)
RESOLVED_WORDS = frozenset(
    {"resolved", "resolve", "ok", "closed", "close", "recovered", "recovery", "normal",
     "inactive", "cleared", "clear"}
)

# Keys tried, in order, for the title of an object of unknown shape (dotted = nested).
TITLE_KEYS = (
    "title", "summary", "message", "name", "alertname", "description", "rule.description",
    "rule.name", "alert.title", "alert.name", "alert.description", "event.title",
    "event.message", "check.name", "msg", "subject",
)
DESCRIPTION_KEYS = (
    "description", "details", "message", "full_log", "rule.description", "alert.description",
    "event.message", "text", "body",
)
SEVERITY_KEYS = (
    "severity", "level", "priority", "urgency", "rule.level", "alert.severity",
    "labels.severity", "event.severity",
)
STATUS_KEYS = ("status", "state", "event_action", "action")
FINGERPRINT_KEYS = ("fingerprint", "dedup_key", "dedupKey", "incident_key", "alert_key")
TIME_KEYS = ("occurred_at", "timestamp", "@timestamp", "time", "startsAt", "created_at")
# Well-known places of the host / service an alert is about, added as labels when absent.
LABEL_HINTS = (
    ("host", ("host", "hostname", "host.name", "host.hostname", "agent.name", "computer")),
    ("service", ("service", "service.name", "application")),
)
GRAFANA_ALERT_KEYS = frozenset({"dashboardURL", "panelURL", "silenceURL", "values", "valueString"})


@dataclass
class AlertIn:
    """One alert, normalised: what the pipeline deduplicates, correlates and stores."""

    title: str
    severity: str
    status: str
    source: str
    fingerprint: str
    labels: dict[str, str]
    raw: dict[str, Any]
    description: str | None = None
    occurred_at: datetime | None = None
    ended_at: datetime | None = None
    # What correlation calls "the alert name": `labels.alertname`, else the title.
    alertname: str = ""


@dataclass
class Parsed:
    format: str
    alerts: list[AlertIn] = field(default_factory=list)


# --- helpers --------------------------------------------------------------------------------


def _lookup(obj: dict[str, Any], dotted: str) -> Any:
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _first_text(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _lookup(obj, key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.strip()[:MAX_TITLE]


def _status(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    if word in FIRING_WORDS:
        return "firing"
    if word in RESOLVED_WORDS:
        return "resolved"
    return None


def _time(value: Any) -> datetime | None:
    """A sane timestamp or None (Alertmanager's `0001-01-01T00:00:00Z` means "unset")."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parse_iso(value)
    except ValueError:
        return None
    return parsed if parsed.year >= 1971 else None


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _lenient_labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    labels: dict[str, str] = {}
    for key, item in value.items():
        text = _scalar_text(item)
        if text is not None:
            labels[str(key)] = text
    return labels


def _fit_fingerprint(value: str) -> str:
    """Over-long fingerprints of third-party shapes are hashed to fit (the generic body refuses
    them instead)."""
    if len(value) <= MAX_FINGERPRINT:
        return value
    return hashlib.sha256(value.encode()).hexdigest()


def derive_fingerprint(source: str, title: str, labels: dict[str, str]) -> str:
    """Stable fingerprint from source, title and the sorted labels (what `fingerprint` or
    `dedup_key` default to)."""
    material = orjson.dumps([source, title, sorted(labels.items())])
    return hashlib.sha256(material).hexdigest()


def _finish(
    *,
    title: str,
    severity: str,
    status: str,
    source: str,
    fingerprint: str | None,
    labels: dict[str, str],
    raw: dict[str, Any],
    description: str | None,
    occurred_at: datetime | None,
    ended_at: datetime | None = None,
    fingerprint_title: str | None = None,
) -> AlertIn:
    title = title.strip()[:MAX_TITLE]
    source = source.strip()[:MAX_SOURCE] or "api"
    if fingerprint is None:
        fingerprint = derive_fingerprint(source, fingerprint_title or title, labels)
    return AlertIn(
        title=title,
        severity=severity,
        status=status,
        source=source,
        fingerprint=fingerprint,
        labels=labels,
        raw=raw,
        description=description,
        occurred_at=occurred_at,
        ended_at=ended_at,
        alertname=labels.get("alertname") or title,
    )


def kind_of(value: Any) -> str:
    """How a JSON value is named in error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
