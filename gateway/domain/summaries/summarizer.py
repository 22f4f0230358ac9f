"""AI summaries of alerts: a built-in, deterministic, offline summarizer, and optionally an
OpenAI-compatible chat-completions endpoint (a hosted model, or a local llama.cpp, vLLM or Ollama
server) that writes the text instead, falling back to the built-in text when it fails.

Provider. Enabled when both `SELIQ_SUMMARY_URL` and `SELIQ_SUMMARY_MODEL` are set;
`SELIQ_SUMMARY_API_KEY` is sent as a bearer token when set (local servers usually need none). The
URL is the API base (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`) and the gateway
POSTs to `{base}/chat/completions`; a URL that already ends in `/chat/completions` is used as is.
One request per summary, through aiohttp's client, with a total timeout
(`SELIQ_SUMMARY_TIMEOUT_SECONDS`, default 10). Only the alert's own fields, labels and its
incident's number and title are sent; the raw payload never leaves the gateway.

Fall-back. A timeout, a connection error, a non-2xx status or an answer without a usable
`choices[0].message.content` gives the built-in text, with `generatedBy` saying why, e.g.
`builtin (fallback: timeout)`. A fall-back is remembered for a minute, so a dead provider costs
one timeout per alert per minute, not one per request.

Cache. Summaries are cached in memory, per process, in a bounded LRU keyed by a SHA-256 of the
alert content the summary is made from (`SELIQ_SUMMARY_CACHE_SIZE` entries, default 2048): a new
occurrence or a label change makes a new summary, a re-read does not. Concurrent requests for the
same content share one provider call.

Lists. Only a single alert asks the provider (`alert(id:)`, `node(id:)`, `GET /v1/alerts/{id}`).
An alert inside a list (`alerts`, `nodes`, an incident's alerts) shows the cached model summary if
there is one and the built-in text otherwise, so a page of 100 alerts never makes 100 model calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from gateway.timeutil import isoformat_z, to_utc, utcnow

log = logging.getLogger("seliq.summaries")

BUILTIN = "builtin"
FALLBACK_TTL_SECONDS = 60.0
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_TEXT_CHARS = 2000
MAX_DESCRIPTION_CHARS = 500
CHAT_PATH = "/chat/completions"

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

SYSTEM_PROMPT = (
    "You are a security-operations assistant. Summarise the alert below for an on-call analyst "
    "in at most four short sentences: what fired, where, how bad, how often, which incident it "
    "belongs to, and what to check first. Use only the facts given; do not invent hosts, "
    "numbers or causes. Plain text, no Markdown."
)


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


class ProviderError(Exception):
    """Why the provider gave no usable text; the message goes into `generatedBy`."""


def chat_url(base: str) -> str:
    url = base.strip().rstrip("/")
    return url if url.endswith(CHAT_PATH) else url + CHAT_PATH


def parse_completion(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError("bad response") from None
    if not isinstance(content, str) or not content.strip():
        raise ProviderError("bad response")
    text = content.strip()
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 3] + "..."


class _LRU:
    """A bounded LRU of summaries; an entry may expire (fall-backs are kept briefly)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], tuple[Summary, float | None]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Summary | None:
        item = self._items.get(key)
        if item is None:
            return None
        summary, expires = item
        if expires is not None and expires < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return summary

    def put(self, key: tuple[str, str], summary: Summary, ttl: float | None = None) -> None:
        if self.size <= 0:
            return
        expires = time.monotonic() + ttl if ttl is not None else None
        self._items[key] = (summary, expires)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Summarizer:
    def __init__(
        self,
        *,
        url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        cache_size: int = 2048,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.url = chat_url(url) if url else None
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.clock = clock
        self.cache = _LRU(cache_size)
        self._inflight: dict[str, asyncio.Future[Summary]] = {}
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Summarizer:
        key = settings.summary_api_key
        return cls(
            url=settings.summary_url or None,
            model=settings.summary_model or None,
            api_key=key.get_secret_value() if key is not None else None,
            timeout=settings.summary_timeout_seconds,
            cache_size=settings.summary_cache_size,
        )

    @property
    def provider_enabled(self) -> bool:
        return bool(self.url and self.model)

    def builtin(self, facts: AlertFacts, digest: str | None = None) -> Summary:
        key = (BUILTIN, digest or facts.content_hash())
        cached = self.cache.get(key)
        if cached is None:
            cached = Summary(builtin_text(facts), BUILTIN, self.clock())
            self.cache.put(key, cached)
        return cached

    async def summarize(self, facts: AlertFacts, *, allow_provider: bool = True) -> Summary:
        """The summary of one alert. With `allow_provider=False` (lists) the provider is not
        called: a cached model summary or the built-in text."""
        digest = facts.content_hash()
        if not self.provider_enabled:
            return self.builtin(facts, digest)
        cached = self.cache.get(("model", digest))
        if cached is not None:
            return cached
        if not allow_provider:
            return self.builtin(facts, digest)
        running = self._inflight.get(digest)
        if running is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this caller was cancelled, not the shared call
                return self.builtin(facts, digest)
        future: asyncio.Future[Summary] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            summary = await self._from_provider(facts, digest)
        except BaseException:  # cancelled: waiters retry on their own
            future.cancel()
            raise
        finally:
            del self._inflight[digest]
        future.set_result(summary)
        return summary

    async def _from_provider(self, facts: AlertFacts, digest: str) -> Summary:
        try:
            text = await self._call(facts)
        except Exception as exc:
            if isinstance(exc, ProviderError):
                reason = str(exc)
                log.warning("summary provider failed (%s); using the built-in summary", reason)
            else:
                reason = f"error: {type(exc).__name__}"
                log.exception("summary provider call failed; using the built-in summary")
            builtin = self.builtin(facts, digest)
            summary = Summary(builtin.text, f"{BUILTIN} (fallback: {reason})", self.clock())
            self.cache.put(("model", digest), summary, ttl=FALLBACK_TTL_SECONDS)
            return summary
        summary = Summary(text, f"model:{self.model}", self.clock())
        self.cache.put(("model", digest), summary)
        return summary

    async def _call(self, facts: AlertFacts) -> str:
        assert self.url is not None
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        payload = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(facts.to_json(), ensure_ascii=False)},
            ],
            "temperature": 0.2,
            "max_tokens": 300,
            "stream": False,
        }
        try:
            async with asyncio.timeout(self.timeout), self._http.post(
                self.url, json=payload, headers=headers, allow_redirects=False
            ) as response:
                if response.status // 100 != 2:
                    raise ProviderError(f"HTTP {response.status}")
                raw = await _read_capped(response)
        except TimeoutError:
            raise ProviderError("timeout") from None
        except aiohttp.ClientError as exc:
            raise ProviderError(f"unreachable: {type(exc).__name__}") from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise ProviderError("bad response") from None
        return parse_completion(body)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ProviderError("bad response")
        chunks.append(chunk)
    return b"".join(chunks)


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


_DEFAULT: Summarizer | None = None


def default_summarizer() -> Summarizer:
    """The built-in-only summarizer, for contexts built without one (scripts, unit tests)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Summarizer()
    return _DEFAULT


def lifecycle(summarizer: Summarizer) -> Callable[[web.Application], AsyncIterator[Any]]:
    """An aiohttp `cleanup_ctx` entry that closes the summarizer's HTTP client with the app."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        yield
        with contextlib.suppress(Exception):
            await summarizer.close()

    return run
