"""Rate limits per calling workspace (the key's): starter 60, growth 300, enterprise its own number
of units per minute. A GraphQL operation costs its computed cost (at least 1); a REST call costs
what the operation it translates to costs.

In one process the buckets are aiolimiter leaky buckets, checked for capacity first so a request
over the limit is refused at once (429) instead of being queued. The decision travels back to the
HTTP middleware through a context variable, which puts the `X-RateLimit-*` headers on every
authenticated response, errors included.
"""

from __future__ import annotations

import contextvars
import math
import time
from dataclasses import dataclass
from typing import Protocol

from aiolimiter import AsyncLimiter

from gateway.domain.errors import DomainError

TIER_LIMITS = {"starter": 60, "growth": 300}
DEFAULT_ENTERPRISE_LIMIT = 1000
WINDOW_SECONDS = 60


def limit_for(tier: str, custom: int | None) -> int:
    """Units per minute for a workspace: its custom number (enterprise), else its tier's."""
    if custom:
        return custom
    return TIER_LIMITS.get(tier, DEFAULT_ENTERPRISE_LIMIT)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the bucket is full again
    retry_after: int  # seconds to wait when refused
    cost: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimited(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"rate limit of {decision.limit} units per minute exceeded (this request costs "
            f"{decision.cost}); retry in {decision.retry_after} s"
        )
        self.decision = decision


def decide(allowed: bool, per_minute: int, level: float, cost: int) -> Decision:
    """A Decision from a leaky bucket's state after the charge (`level` units in the bucket)."""
    rate = per_minute / WINDOW_SECONDS
    retry_after = 0
    if not allowed:
        missing = min(cost, per_minute) - (per_minute - level)
        retry_after = max(1, math.ceil(missing / rate))
    return Decision(
        allowed=allowed,
        limit=per_minute,
        remaining=max(0, math.floor(per_minute - level)),
        reset_at=math.ceil(time.time() + level / rate),
        retry_after=retry_after,
        cost=cost,
    )


class Limiter(Protocol):
    async def charge(self, bucket: str, per_minute: int, cost: int) -> Decision: ...

    def status(self) -> str: ...


class LocalLimiter:
    """In-process buckets, one per key string (e.g. `api:ws_...`, `webhook:ws_...`)."""

    def __init__(self) -> None:
        self._buckets: dict[str, AsyncLimiter] = {}

    async def charge(self, bucket: str, per_minute: int, cost: int) -> Decision:
        limiter = self._buckets.get(bucket)
        if limiter is None or limiter.max_rate != per_minute:
            limiter = self._buckets[bucket] = AsyncLimiter(per_minute, WINDOW_SECONDS)
        allowed = cost <= per_minute and limiter.has_capacity(cost)
        if allowed:
            await limiter.acquire(cost)  # returns at once: capacity was checked
        level = limiter._level  # noqa: SLF001 - aiolimiter exposes no public reading
        return decide(allowed, per_minute, level, cost)

    def status(self) -> str:
        return "local"


# The decision of the current request, for the middleware's headers.
current_decision: contextvars.ContextVar[list[Decision] | None] = contextvars.ContextVar(
    "seliq_rate_decision", default=None
)


def remember(decision: Decision) -> None:
    holder = current_decision.get()
    if holder is not None:
        holder.append(decision)
