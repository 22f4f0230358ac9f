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

The normalised record and the helpers every shape uses are in `normalize`, the parsers of each
shape in `shapes`. Everything here is pure (no I/O); errors are `InvalidInput` with the path of
the offending field.
"""

from __future__ import annotations

from typing import Any

from gateway.domain import jsontext
from gateway.domain.errors import InvalidInput
from gateway.domain.ingest.normalize import (
    GENERIC_KEYS,
    GRAFANA_ALERT_KEYS,
    MAX_BATCH,
    AlertIn,
    Parsed,
    kind_of,
)
from gateway.domain.ingest.shapes import generic, legacy_grafana, prometheus_alert, unknown


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
        return jsontext.loads(body, what="the body")
    except jsontext.BadJson as exc:
        field = f"payload.{exc.path}" if exc.path else "payload"
        raise InvalidInput(f"{exc.message}: send one JSON object", field=field) from None


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
        return Parsed(fmt, [legacy_grafana(payload, route_source or "grafana")])
    parse_one = generic if fmt == "generic" else unknown
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
            parse_one = generic if set(item) <= GENERIC_KEYS else unknown
            items.append(parse_one(item, f"{path}.", route_source or door_source))
        else:
            items.append(prometheus_alert(item, payload, fmt, route_source or fmt))
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
