"""Mapping whatever a sender calls severity onto our five: critical, high, medium, low, info.

Accepted, case-insensitively (surrounding blanks, `-`, `_` and spaces inside are ignored, so
`SEV-1`, `sev_1` and `Sev 1` are the same):

- our own names: critical, high, medium, low, info;
- common synonyms (syslog, Alertmanager conventions, Zabbix, Opsgenie...), see `SYNONYMS`;
- priorities P1..P5 and SEV1..SEV5 (1 is the worst);
- numeric levels 0..15, higher is worse, as Wazuh rule levels: 0-3 info, 4-6 low, 7-11 medium,
  12-14 high, 15 critical (also as strings, e.g. "12").

Anything else is not recognised (`map_severity` returns None): the strict generic body refuses
it, third-party shapes fall back to `DEFAULT_SEVERITY`.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.domain.storage.models import SEVERITIES

DEFAULT_SEVERITY = "medium"

SYNONYMS: dict[str, str] = {
    # critical
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "emerg": "critical",
    "alert": "critical",
    "disaster": "critical",
    # high
    "high": "high",
    "error": "high",
    "err": "high",
    "major": "high",
    "severe": "high",
    "urgent": "high",
    # medium
    "medium": "medium",
    "warning": "medium",
    "warn": "medium",
    "moderate": "medium",
    "average": "medium",
    # low
    "low": "low",
    "minor": "low",
    "notice": "low",
    # info
    "info": "info",
    "informational": "info",
    "information": "info",
    "debug": "info",
    "none": "info",
    "notclassified": "info",
}

# Priorities: 1 is the worst, as in SEVERITIES.
_PRIORITY_RE = re.compile(r"^(?:p|sev|s)([1-5])$")
_INTEGER_RE = re.compile(r"^\d{1,2}$")

HELP = (
    "use critical, high, medium, low or info; synonyms such as crit, error, warning, minor, "
    "P1-P5 and numeric levels 0-15 are accepted too"
)


def wazuh_level(level: int) -> str | None:
    """Wazuh rule levels 0..15 (higher is worse) onto our severities."""
    if not 0 <= level <= 15:
        return None
    if level <= 3:
        return "info"
    if level <= 6:
        return "low"
    if level <= 11:
        return "medium"
    if level <= 14:
        return "high"
    return "critical"


def map_severity(value: Any) -> str | None:
    """Our severity for `value`, or None when it is not recognised."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return wazuh_level(value)
    if isinstance(value, float):
        return wazuh_level(int(value)) if value.is_integer() else None
    if not isinstance(value, str):
        return None
    text = re.sub(r"[\s_\-]+", "", value.strip().lower())
    if text in SYNONYMS:
        return SYNONYMS[text]
    match = _PRIORITY_RE.match(text)
    if match:
        return SEVERITIES[int(match.group(1)) - 1]
    if _INTEGER_RE.match(text):
        return wazuh_level(int(text))
    return None
