"""External services some suites need (PostgreSQL, Redis): run under CI=true, where a missing
service fails the run; elsewhere such tests skip with a one-line reason."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy.engine import make_url

REDIS_URL = os.environ.get("SELIQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_redis() -> str:
    if _reachable("127.0.0.1", 6379) or "SELIQ_TEST_REDIS_URL" in os.environ:
        return REDIS_URL
    if os.environ.get("CI") == "true":
        pytest.fail("Redis is required in CI (127.0.0.1:6379) but is not reachable")
    pytest.skip("Redis not reachable on 127.0.0.1:6379 (runs in CI)")


POSTGRES_ENV = "SELIQ_TEST_POSTGRES_URL"
CI_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def require_postgres() -> str:
    """The PostgreSQL URL the suites use (`SELIQ_TEST_POSTGRES_URL`). Unset: skip, except under
    CI=true, where it defaults to the machine's server and an unreachable one fails the run."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI") != "true":
            pytest.skip(f"PostgreSQL: {POSTGRES_ENV} not set (CI sets it)")
        url = CI_POSTGRES_URL
    parsed = make_url(url)
    if not _reachable(parsed.host or "127.0.0.1", parsed.port or 5432):
        message = f"PostgreSQL not reachable at {parsed.host}:{parsed.port or 5432}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} ({POSTGRES_ENV}); it is required in CI")
        pytest.skip(message)
    return url
