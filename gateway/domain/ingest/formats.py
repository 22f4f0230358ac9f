"""Recognising a payload by its shape and normalising it into `AlertIn` records.

Formats, tried in this order on a JSON object:

- `grafana`: Grafana alerting webhook (an Alertmanager-like group with `orgId`, `title`, `state`,
  `message`, and per alert `values`, `dashboardURL`, `panelURL`, `silenceURL`...); also the
  legacy (pre-8) Grafana webhook (`ruleName`, `state`, `evalMatches`).
- `alertmanager`: Prometheus Alertmanager webhook v4 (`version`, `groupKey`, `receiver`,
  `status`, `alerts[]` with `labels`, `annotations`, `startsAt`, `endsAt`, `fingerprint`,
  `generatorURL`).
- `batch`: `{"alerts": [...]}`, each item a generic body (or any object, handled as below).
- `generic`: an object whose keys are all keys of the documented generic body. Validated
  strictly: a wrong type or an unknown severity/status is a 400 that says what to fix.
- `unknown`: any other object. Accepted leniently: the title comes from common keys, the raw
  payload is kept whole.

Everything here is pure (no I/O); errors are `InvalidInput` with the path of the offending field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gateway.domain.errors import InvalidInput
from gateway.domain.ingest.severity import DEFAULT_SEVERITY, HELP, map_severity
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


def not_an_object(value: Any) -> InvalidInput:
    hint = (
        '; to send several alerts, wrap them: {"alerts": [...]}'
        if isinstance(value, list)
        else ""
    )
    return InvalidInput(
        f"the body must be a JSON object, got {kind_of(value)}{hint}", field="payload"
    )


def decode(body: str | bytes) -> Any:
    """Decode a body received as text; InvalidInput (HTTP 400) when it is empty or not JSON."""
    if not body.strip():
        raise InvalidInput(
            "the body is empty: send a JSON object describing the alert", field="payload"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not valid JSON ({exc}): send one JSON object", field="payload"
        ) from None


def parse(payload: Any, *, route_source: str | None = None, door_source: str = "api") -> Parsed:
    """Recognise and normalise `payload` (already decoded JSON). Raises InvalidInput.

    Source of each alert: its own `source` key (generic and unknown shapes), else
    `route_source` (given by the caller, e.g. the webhook's `?source=`), else the format's name
    for Alertmanager and Grafana, else `door_source` ("webhook" or "api").
    """
    fmt = detect(payload)
    if not isinstance(payload, dict) or fmt is None:
        raise not_an_object(payload)
    if "alerts" in payload:
        return _parse_group(payload, fmt, route_source, door_source)
    if fmt == "grafana":
        return Parsed(fmt, [_legacy_grafana(payload, route_source or "grafana")])
    parse_one = _generic if fmt == "generic" else _unknown
    return Parsed(fmt, [parse_one(payload, "", route_source or door_source)])


def detect(payload: Any) -> str | None:
    """The format of `payload` by its shape (None when it is not a JSON object)."""
    if not isinstance(payload, dict):
        return None
    alerts = payload.get("alerts")
    if "alerts" in payload:
        if isinstance(alerts, list) and _is_grafana(payload, alerts):
            return "grafana"
        return "alertmanager" if _is_alertmanager(payload) else "batch"
    if "ruleName" in payload or "evalMatches" in payload:
        return "grafana"
    return "generic" if set(payload) <= GENERIC_KEYS else "unknown"


def _parse_group(
    payload: dict[str, Any], fmt: str, route_source: str | None, door_source: str
) -> Parsed:
    alerts = payload["alerts"]
    if not isinstance(alerts, list):
        raise InvalidInput(
            f"`alerts` must be an array of alert objects, got {kind_of(alerts)}", field="alerts"
        )
    if not alerts:
        raise InvalidInput("`alerts` is empty: send at least one alert", field="alerts")
    if len(alerts) > MAX_BATCH:
        raise InvalidInput(
            f"`alerts` has {len(alerts)} items; send at most {MAX_BATCH} per request",
            field="alerts",
        )
    items: list[AlertIn] = []
    for index, item in enumerate(alerts):
        path = f"alerts[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{path} must be an object, got {kind_of(item)}", field=path)
        if fmt == "batch":
            parse_one = _generic if set(item) <= GENERIC_KEYS else _unknown
            items.append(parse_one(item, f"{path}.", route_source or door_source))
        else:
            items.append(_prometheus_alert(item, payload, fmt, route_source or fmt))
    return Parsed(fmt, items)


def _is_grafana(payload: dict[str, Any], alerts: list[Any]) -> bool:
    if "orgId" in payload:
        return True
    return any(isinstance(a, dict) and GRAFANA_ALERT_KEYS & a.keys() for a in alerts[:10])


def _is_alertmanager(payload: dict[str, Any]) -> bool:
    return (
        str(payload.get("version", "")) == "4"
        or "groupKey" in payload
        or "receiver" in payload
    )


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


# --- generic (strict) -----------------------------------------------------------------------


def _generic(obj: dict[str, Any], prefix: str, default_source: str) -> AlertIn:
    where = f"{prefix[:-1]}: " if prefix else ""

    def bad(name: str, message: str) -> InvalidInput:
        return InvalidInput(f"{where}`{name}` {message}", field=f"{prefix}{name}")

    labels: dict[str, str] = {}
    raw_labels = obj.get("labels")
    if raw_labels is not None:
        if not isinstance(raw_labels, dict):
            raise bad("labels", f"must be an object of strings, got {kind_of(raw_labels)}")
        for key, value in raw_labels.items():
            text = _scalar_text(value)
            if text is None:
                raise bad("labels", f"must be an object of strings; `{key}` is {kind_of(value)}")
            labels[str(key)] = text

    description = obj.get("description")
    if description is not None and not isinstance(description, str):
        raise bad("description", f"must be a string, got {kind_of(description)}")

    title = obj.get("title")
    if title is not None and not isinstance(title, str):
        raise bad("title", f"must be a string, got {kind_of(title)}")
    if not title or not title.strip():
        title = labels.get("alertname") or (_first_line(description) if description else "")
        if not title:
            raise bad(
                "title",
                'is required: a short line saying what fired, e.g. "Disk almost full on db-1"',
            )

    severity = DEFAULT_SEVERITY
    if obj.get("severity") is not None:
        mapped = map_severity(obj["severity"])
        if mapped is None:
            raise bad("severity", f"{obj['severity']!r} is not recognised: {HELP}")
        severity = mapped

    status = "firing"
    if obj.get("status") is not None:
        mapped_status = _status(obj["status"])
        if mapped_status is None:
            raise bad("status", f"must be firing or resolved, got {obj['status']!r}")
        status = mapped_status

    source = default_source
    if obj.get("source") is not None:
        given = obj["source"]
        if not isinstance(given, str) or not given.strip() or len(given) > MAX_SOURCE:
            raise bad("source", f"must be a string of 1-{MAX_SOURCE} characters")
        source = given

    fingerprint: str | None = None
    for name in ("fingerprint", "dedup_key"):
        given = obj.get(name)
        if given is None:
            continue
        text = _scalar_text(given) if not isinstance(given, bool) else None
        if text is None or not text.strip() or len(text) > MAX_FINGERPRINT:
            raise bad(name, f"must be a string of 1-{MAX_FINGERPRINT} characters")
        if fingerprint is not None and fingerprint != text:
            raise bad(name, "differs from `fingerprint`: send one of them")
        fingerprint = text

    occurred_at = None
    if obj.get("occurred_at") is not None:
        given = obj["occurred_at"]
        try:
            occurred_at = parse_iso(given) if isinstance(given, str) else None
        except ValueError:
            occurred_at = None
        if occurred_at is None:
            raise bad(
                "occurred_at", f"must be an ISO 8601 date-time such as 2026-11-27T21:52:32Z, "
                f"got {given!r}"
            )

    return _finish(
        title=title, severity=severity, status=status, source=source, fingerprint=fingerprint,
        labels=labels, raw=obj, description=description, occurred_at=occurred_at,
    )


# --- any other object (lenient) -------------------------------------------------------------


def _unknown(obj: dict[str, Any], prefix: str, default_source: str) -> AlertIn:
    source = default_source
    given_source = obj.get("source")
    if isinstance(given_source, str) and given_source.strip():
        source = given_source
    elif isinstance(obj.get("rule"), dict) and "level" in obj["rule"] and (
        "agent" in obj or "manager" in obj
    ):
        source = "wazuh"

    labels = _lenient_labels(obj.get("labels")) or _lenient_labels(obj.get("tags"))
    for label, keys in LABEL_HINTS:
        if label not in labels:
            found = _first_text(obj, keys)
            if found:
                labels[label] = found

    title = _first_text(obj, TITLE_KEYS)
    title = _first_line(title) if title else f"Alert from {source} (no title in the payload)"
    description = next(
        (
            text
            for key in DESCRIPTION_KEYS
            if (text := _first_text(obj, (key,))) and _first_line(text) != title
        ),
        None,
    )

    severity = DEFAULT_SEVERITY
    for key in SEVERITY_KEYS:
        mapped = map_severity(_lookup(obj, key))
        if mapped is not None:
            severity = mapped
            break

    status = "firing"
    for key in STATUS_KEYS:
        mapped_status = _status(obj.get(key))
        if mapped_status is not None:
            status = mapped_status
            break

    fingerprint = None
    for key in FINGERPRINT_KEYS:
        text = _scalar_text(obj.get(key)) if not isinstance(obj.get(key), bool) else None
        if text and text.strip():
            fingerprint = _fit_fingerprint(text)
            break

    occurred_at = next((t for key in TIME_KEYS if (t := _time(obj.get(key)))), None)
    return _finish(
        title=title, severity=severity, status=status, source=source, fingerprint=fingerprint,
        labels=labels, raw=obj, description=description, occurred_at=occurred_at,
    )


# --- Alertmanager and Grafana ---------------------------------------------------------------


def _prometheus_alert(
    item: dict[str, Any], envelope: dict[str, Any], fmt: str, default_source: str
) -> AlertIn:
    """One alert of an Alertmanager v4 or Grafana alerting group."""
    labels = _lenient_labels(item.get("labels"))
    annotations = _lenient_labels(item.get("annotations"))
    alertname = labels.get("alertname")
    title = (
        annotations.get("summary")
        or annotations.get("title")
        or alertname
        or (envelope.get("title") if isinstance(envelope.get("title"), str) else None)
        or f"{fmt} alert"
    )
    description = annotations.get("description") or annotations.get("message")
    severity = next(
        (
            mapped
            for value in (labels.get("severity"), labels.get("priority"),
                          annotations.get("severity"))
            if (mapped := map_severity(value)) is not None
        ),
        DEFAULT_SEVERITY,
    )
    status = _status(item.get("status")) or _status(envelope.get("status")) or "firing"
    fingerprint = item.get("fingerprint")
    return _finish(
        title=_first_line(title) or f"{fmt} alert",
        severity=severity,
        status=status,
        source=default_source,
        fingerprint=_fit_fingerprint(fingerprint) if isinstance(fingerprint, str) and fingerprint
        else None,
        labels=labels,
        raw=item,
        description=description,
        occurred_at=_time(item.get("startsAt")),
        ended_at=_time(item.get("endsAt")) if status == "resolved" else None,
        # Summaries often carry changing values ("CPU at 93%"): derive from the alert name.
        fingerprint_title=alertname,
    )


def _legacy_grafana(payload: dict[str, Any], source: str) -> AlertIn:
    """The pre-8 Grafana webhook: one rule per request, `state` alerting/ok/no_data/paused."""
    rule = payload.get("ruleName")
    title = rule if isinstance(rule, str) and rule.strip() else _first_text(payload, ("title",))
    state = str(payload.get("state", "")).lower()
    status = "resolved" if state in ("ok", "paused") else "firing"
    labels = _lenient_labels(payload.get("tags"))
    rule_id = payload.get("ruleId")
    fingerprint = f"grafana-rule-{rule_id}" if isinstance(rule_id, int | str) else None
    severity = next(
        (m for v in (labels.get("severity"), labels.get("priority"))
         if (m := map_severity(v)) is not None),
        DEFAULT_SEVERITY,
    )
    message = payload.get("message")
    return _finish(
        title=title or "Grafana alert",
        severity=severity,
        status=status,
        source=source,
        fingerprint=fingerprint,
        labels=labels,
        raw=payload,
        description=message if isinstance(message, str) and message.strip() else None,
        occurred_at=None,
        fingerprint_title=title or "Grafana alert",
    )
