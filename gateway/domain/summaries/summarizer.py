"""AI summaries of alerts: a built-in, deterministic, offline summarizer, and optionally an
OpenAI-compatible chat-completions endpoint (a hosted model, or a local llama.cpp, vLLM or Ollama
server) that writes the text instead, falling back to the built-in text when it fails.

Provider. Enabled when both `SELIQ_SUMMARY_URL` and `SELIQ_SUMMARY_MODEL` are set;
`SELIQ_SUMMARY_API_KEY` is sent as a bearer token when set (local servers usually need none). The
URL is the API base (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`) and the gateway
POSTs to `{base}/chat/completions`; a URL that already ends in `/chat/completions` is used as is.
One request per summary, through the service's chat-completions client
(`gateway.service.chat_client`), with a total timeout (`SELIQ_SUMMARY_TIMEOUT_SECONDS`, default
10). Only the alert's own fields, labels and its incident's number and title are sent; the raw
payload never leaves the gateway.

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
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from gateway.domain.summaries.builtin import AlertFacts, Summary, builtin_text, facts_of
from gateway.domain.timeutil import utcnow

__all__ = [
    "AlertFacts",
    "ChatProvider",
    "ProviderError",
    "Summarizer",
    "Summary",
    "builtin_text",
    "default_summarizer",
    "facts_of",
]

log = logging.getLogger("seliq.summaries")

BUILTIN = "builtin"
FALLBACK_TTL_SECONDS = 60.0
MAX_TEXT_CHARS = 2000

SYSTEM_PROMPT = (
    "You are a security-operations assistant. Summarise the alert below for an on-call analyst "
    "in at most four short sentences: what fired, where, how bad, how often, which incident it "
    "belongs to, and what to check first. Use only the facts given; do not invent hosts, "
    "numbers or causes. Plain text, no Markdown."
)


class ProviderError(Exception):
    """Why the provider gave no usable text; the message goes into `generatedBy`."""


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


class ChatProvider(Protocol):
    """An OpenAI-compatible chat-completions endpoint. The HTTP client that implements it lives
    in the service layer (`gateway.service.chat_client`), so the domain needs no HTTP library."""

    model: str

    async def complete(self, payload: dict[str, Any]) -> Any:
        """POST `payload`; the decoded JSON answer, or `ProviderError` saying why not."""
        ...

    async def close(self) -> None: ...


class Summarizer:
    """Summaries with a cache, shared in-flight calls and a fall-back to the built-in text;
    `provider` writes them when there is one."""

    def __init__(
        self,
        provider: ChatProvider | None = None,
        *,
        cache_size: int = 2048,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.provider = provider
        self.clock = clock
        self.cache = _LRU(cache_size)
        self._inflight: dict[str, asyncio.Future[Summary]] = {}

    @property
    def provider_enabled(self) -> bool:
        return self.provider is not None

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
        model = self.provider.model if self.provider is not None else ""
        summary = Summary(text, f"model:{model}", self.clock())
        self.cache.put(("model", digest), summary)
        return summary

    async def _call(self, facts: AlertFacts) -> str:
        assert self.provider is not None
        payload = {
            "model": self.provider.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(facts.to_json(), ensure_ascii=False)},
            ],
            "temperature": 0.2,
            "max_tokens": 300,
            "stream": False,
        }
        return parse_completion(await self.provider.complete(payload))

    async def close(self) -> None:
        if self.provider is not None:
            await self.provider.close()


_DEFAULT: Summarizer | None = None


def default_summarizer() -> Summarizer:
    """The built-in-only summarizer, for contexts built without one (scripts, unit tests)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Summarizer()
    return _DEFAULT
