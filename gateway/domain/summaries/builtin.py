"""The built-in summary: deterministic and offline. What fired, where, how bad, how often, which
incident, and what to check first, from the alert's own fields and labels; the same facts always
give the same text. `AlertFacts` is also what an outside model is sent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.domain.timeutil import isoformat_z, to_utc

MAX_DESCRIPTION_CHARS = 500

# Label keys that say where an alert fired, in the order they are mentioned.
WHERE_LABELS = (
    ("host", "host"), ("hostname", "host"), ("instance", "instance"), ("node", "node"),
    ("device", "device"), ("ip", "IP"), ("service", "service"), ("job", "job"),
    ("pod", "pod"), ("container", "container"), ("namespace", "namespace"),
    ("cluster", "cluster"), ("region", "region"), ("user", "user"),
)
HOW_BAD = {
    "critical": "critical: respond now",
    "high": "high: respond promptly",
    "medium": "medium: look at it today",
    "low": "low: review when convenient",
    "info": "informational",
}
# (keywords in title/description/alert name, what to check first); the first match wins.
CHECKS = (
    (("disk", "filesystem", "inode", "volume full", "storage"),
     "free space on the affected filesystem (df -h, du) and what is filling it"),
    (("memory", "oom", "swap"),
     "memory use per process and recent OOM kills in the kernel log"),
    (("cpu", "load average", "loadavg", "throttl"),
     "the top CPU consumers on the host and what changed (deploys, cron jobs)"),
    (("5xx", "error rate", "errors", "http 5", "exception"),
     "the service's recent deploys and error logs for the failing endpoints"),
    (("latency", "slow", "timeout", "p99", "response time"),
     "the slowest dependencies (database, upstream APIs) and saturation on the path"),
    (("down", "unreachable", "heartbeat", "no data", "absent", "not responding"),
     "whether the target is reachable at all (ping, the exporter, the network path)"),
    (("certificate", "cert ", "tls", "ssl", "expir"),
     "the certificate's expiry date and the renewal job"),
    (("login", "authentication", "brute", "password", "ssh", "mfa"),
     "the source addresses and accounts involved, and whether any attempt succeeded"),
    (("powershell", "malware", "ransom", "trojan", "edr", "process", "execution"),
     "the process tree and parent process on the endpoint; isolate it if it is unexpected"),
    (("scan", "nmap", "port sweep"),
     "the scanning source address and whether it is known; block it at the edge if not"),
    (("iam", "privilege", "role", "root account", "console login", "api activity"),
     "the identity's recent API calls and whether the change was expected"),
    (("backup",), "the last successful backup and the job's log"),
)
DEFAULT_CHECK = "the source's own view of the alert and any recent changes on the affected system"

@dataclass(frozen=True)
class Summary:
    text: str
    generated_by: str
    generated_at: datetime


@dataclass(frozen=True)
class AlertFacts:
    """What a summary is made from: the alert's own fields and labels, and its incident."""

    title: str
    description: str | None
    severity: str
    status: str
    source: str
    labels: Mapping[str, Any]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    incident_number: int | None = None
    incident_title: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": (self.description or "")[:MAX_DESCRIPTION_CHARS] or None,
            "severity": self.severity,
            "status": self.status,
            "source": self.source,
            "labels": {str(k): str(v) for k, v in sorted(self.labels.items())},
            "occurrences": self.occurrences,
            "first_seen_at": isoformat_z(self.first_seen_at),
            "last_seen_at": isoformat_z(self.last_seen_at),
            "incident": (
                {"number": self.incident_number, "title": self.incident_title}
                if self.incident_number is not None else None
            ),
        }

    def content_hash(self) -> str:
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _when(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _where(labels: Mapping[str, Any]) -> str | None:
    parts, seen = [], set()
    for key, word in WHERE_LABELS:
        value = labels.get(key)
        if value in (None, "") or word in seen:
            continue
        seen.add(word)
        parts.append(f"{word} {value}")
    return ", ".join(parts[:4]) if parts else None


def _check_first(facts: AlertFacts) -> str:
    runbook = facts.labels.get("runbook_url") or facts.labels.get("runbook")
    haystack = " ".join(
        str(x) for x in (facts.title, facts.description, facts.labels.get("alertname")) if x
    ).lower()
    hint = next(
        (check for words, check in CHECKS if any(word in haystack for word in words)),
        DEFAULT_CHECK,
    )
    return f"{hint}; runbook: {runbook}" if runbook else hint


def builtin_text(facts: AlertFacts) -> str:
    """The deterministic summary: the same facts always give the same text."""
    where = _where(facts.labels)
    status = "is firing" if facts.status == "firing" else "has resolved"
    first = f"{facts.severity.upper()} alert \u201c{facts.title}\u201d from {facts.source} {status}"
    first += f" on {where}." if where else " (no host or service label)."
    how_bad = f"Severity {HOW_BAD.get(facts.severity, facts.severity)}."
    if facts.occurrences <= 1:
        how_often = f"Seen once, at {_when(facts.first_seen_at)}."
    else:
        how_often = (
            f"Seen {facts.occurrences} times between {_when(facts.first_seen_at)} and "
            f"{_when(facts.last_seen_at)}."
        )
    if facts.incident_number is not None:
        incident = f"Part of incident #{facts.incident_number}"
        incident += f" \u201c{facts.incident_title}\u201d." if facts.incident_title else "."
    else:
        incident = "Not attached to an incident."
    sentences = [first, how_bad, how_often, incident]
    if facts.description and facts.description.strip() != facts.title:
        detail = " ".join(facts.description.split())
        if len(detail) > 200:
            detail = detail[:197] + "..."
        if not detail.endswith((".", "!", "?")):
            detail += "."
        sentences.append(f"Details: {detail}")
    sentences.append(f"Check first: {_check_first(facts)}.")
    return " ".join(sentences)


def facts_of(alert: Any, incident: Any | None = None) -> AlertFacts:
    """Facts from an alert row (or anything with the same attributes) and its incident row."""

    def text(value: Any) -> str:
        return str(getattr(value, "value", value))

    return AlertFacts(
        title=alert.title,
        description=alert.description,
        severity=text(alert.severity),
        status=text(alert.status),
        source=alert.source,
        labels=dict(alert.labels or {}),
        occurrences=alert.occurrences,
        first_seen_at=alert.first_seen_at,
        last_seen_at=alert.last_seen_at,
        incident_number=incident.number if incident is not None else None,
        incident_title=incident.title if incident is not None else None,
    )
