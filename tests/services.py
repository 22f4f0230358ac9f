"""External services some suites need (PostgreSQL, Redis): run under CI=true, where a missing
service fails the run; elsewhere such tests skip with a one-line reason."""

from __future__ import annotations

import os
import socket

import pytest

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
