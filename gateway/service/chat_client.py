"""The HTTP side of model summaries: an OpenAI-compatible chat-completions client on aiohttp.

It lives in the service layer because the domain (`gateway.domain.summaries`) imports no HTTP
library; the summarizer only sees the `ChatProvider` protocol. One POST per call to
`{base}/chat/completions` (a base that already ends in `/chat/completions` is used as is), a total
timeout, no redirects, and an answer capped at 1 MiB; every failure is a `ProviderError` whose
text ends up in `generatedBy` (`builtin (fallback: timeout)`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from gateway.domain.settings import Settings
from gateway.domain.summaries.summarizer import ProviderError, Summarizer

CHAT_PATH = "/chat/completions"
MAX_RESPONSE_BYTES = 1024 * 1024


def chat_url(base: str) -> str:
    url = base.strip().rstrip("/")
    return url if url.endswith(CHAT_PATH) else url + CHAT_PATH


class ChatCompletionsClient:
    """A `ChatProvider` over aiohttp; the client session is opened on first use."""

    def __init__(
        self, url: str, model: str, *, api_key: str | None = None, timeout: float = 10.0
    ) -> None:
        self.url = chat_url(url)
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    async def complete(self, payload: dict[str, Any]) -> Any:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
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
            return json.loads(raw)
        except ValueError:
            raise ProviderError("bad response") from None

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


def summarizer_for(
    *,
    url: str | None,
    model: str | None,
    api_key: str | None = None,
    timeout: float = 10.0,
    cache_size: int = 2048,
) -> Summarizer:
    """A summarizer that asks the model at `url` when both a URL and a model are given, and
    writes the built-in text otherwise."""
    provider = (
        ChatCompletionsClient(url, model, api_key=api_key, timeout=timeout)
        if url and model else None
    )
    return Summarizer(provider, cache_size=cache_size)


def summarizer_from_settings(settings: Settings) -> Summarizer:
    key = settings.summary_api_key
    return summarizer_for(
        url=settings.summary_url or None,
        model=settings.summary_model or None,
        api_key=key.get_secret_value() if key is not None else None,
        timeout=settings.summary_timeout_seconds,
        cache_size=settings.summary_cache_size,
    )
