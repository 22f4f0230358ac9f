"""What the libraries remember of one test's app, forgotten before the next test.

aiohttp, Strawberry and SQLAlchemy keep process-wide caches keyed by the objects they serve: the
middleware chain per (handler, apps) (1,024 entries), validated documents per (schema, document)
(256 per cache size) and compiled persistence statements per (mapper, dialect) (100 each). A
gateway process builds one app, one schema and one engine, so they never outgrow it; the test
process builds one of each per test, and those caches kept hundreds of whole apps, schemas and
dialects alive: 2.7 million objects by the hostile suite, where a full collection took 2-3 s and
held the event loop of whichever test it landed in (two CI runs failed a 1 s /healthz bound that
way). `forget_apps` empties them; tests/gateway/test_process_heap.py holds it to its word.
"""

from __future__ import annotations

import aiohttp.web_app
from sqlmodel import SQLModel
from strawberry.extensions import validation_cache

from schema.build import VALIDATION_CACHE_SIZE


def forget_apps() -> None:
    """Empty the library caches that would keep earlier tests' apps, schemas and engines alive.
    Private names: if a library renames one, this fails loudly rather than leaking quietly."""
    aiohttp.web_app._cached_build_middleware.cache_clear()
    validation_cache._get_validate_cache(VALIDATION_CACHE_SIZE).cache_clear()  # type: ignore[attr-defined]
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        mapper._compiled_cache.clear()
