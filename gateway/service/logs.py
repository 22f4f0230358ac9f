"""JSON logs: stdlib `logging` with `JsonFormatter` (orjson), one object per line with any
`extra=` fields. As a second line of defence the formatter masks anything shaped like an API key,
webhook token or bearer credential."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

import orjson

_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}
# API keys (`seliq_` + 43 url-safe chars), webhook tokens (`whk_` + 43) and bearer credentials.
_SECRET_RE = re.compile(r"\b((?:seliq|whk)_)[A-Za-z0-9_-]{32,}|(?i:\b(bearer\s+))[^\s\"\\]+")
# What every match of the first alternative contains (it only adds the word boundary): a search
# for it starts at a literal, so it is a fast scan where the whole pattern tries each position.
_KEY_RE = re.compile(r"(?:seliq|whk)_[A-Za-z0-9_-]{32,}")


def redact(text: str) -> str:
    """Mask anything shaped like an API key, webhook token or bearer credential."""
    # Nearly every line has none of the three: three substring tests cost 0.7 us where the
    # regex costs 14 (an access line, measured), and every match of the regex contains one.
    # A webhook's access line names its webhook (`whk_` + 26): a 2 us search tells it holds no
    # token, where the regex took 19 us (7% of a webhook request answered without ingesting).
    bearer = "bearer" in text.lower()
    if not bearer and ("seliq_" not in text and "whk_" not in text or not _KEY_RE.search(text)):
        return text
    return _SECRET_RE.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ms), level, logger, msg, then any `extra=` fields.

    Every request writes one (the access line), so this is written for speed: the date and time
    to the second are formatted once per second, and the extra fields found by a set
    difference rather than a test per attribute (14 us a line down to 5, measured)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _timestamp(self, record: logging.LogRecord) -> str:
        """`2026-12-07T17:36:34.123Z`: what `datetime.isoformat(timespec="milliseconds")` of
        `record.created` in UTC gives (rounded to the microsecond, then cut to milliseconds;
        logging's own `msecs` cuts the float, one millisecond early at times)."""
        second, micros = divmod(round(record.created * 1_000_000), 1_000_000)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{micros // 1000:03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        attributes = record.__dict__
        extra = attributes.keys() - _RECORD_FIELDS
        if extra:
            for key in attributes:  # in the order they were given
                if key in extra and not key.startswith("_"):
                    entry[key] = attributes[key]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        line = orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return redact(line)


class _SeliqHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure_logging` installed, so calling it again replaces it."""


def configure_logging(
    level: str = "INFO", *, json: bool = True, stream: IO[str] | None = None
) -> None:
    """Process logging: one handler on the root logger writing JSON lines (or bare messages when
    `json` is false) to stderr, at `level` (SELIQ_LOG_LEVEL). Our `seliq.access` line replaces
    aiohttp's own access log, which is turned down to warnings."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _SeliqHandler)]:
        root.removeHandler(handler)
    handler = _SeliqHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Nothing we write names the thread or process: the Python docs' "Optimization" knobs turn
    # their lookups off. (The caller's source line stays: `stack_info=True` needs it.)
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def iter_log_lines(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects among `text`'s lines (tests and tooling)."""
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                yield value
