"""One parser per payload shape: the documented generic body (strict), any other object
(lenient), Prometheus Alertmanager v4 alerts and the legacy Grafana webhook. `formats.parse`
chooses among them."""

from __future__ import annotations

from typing import Any

from gateway.domain.errors import InvalidInput
from gateway.domain.ingest.normalize import (
    DESCRIPTION_KEYS,
    FINGERPRINT_KEYS,
    LABEL_HINTS,
    MAX_FINGERPRINT,
    MAX_SOURCE,
    SEVERITY_KEYS,
    STATUS_KEYS,
    TIME_KEYS,
    TITLE_KEYS,
    AlertIn,
    _finish,
    _first_line,
    _first_text,
    _fit_fingerprint,
    _lenient_labels,
    _lookup,
    _scalar_text,
    _status,
    _time,
    kind_of,
)
from gateway.domain.ingest.severity import DEFAULT_SEVERITY, HELP, map_severity
from gateway.domain.timeutil import OutOfRange, parse_iso

# --- generic (strict) -----------------------------------------------------------------------


def generic(obj: dict[str, Any], prefix: str, default_source: str) -> AlertIn:
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
        except OutOfRange as exc:
            raise bad("occurred_at", str(exc)) from None
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


def unknown(obj: dict[str, Any], prefix: str, default_source: str) -> AlertIn:
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


def prometheus_alert(
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


def legacy_grafana(payload: dict[str, Any], source: str) -> AlertIn:
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
