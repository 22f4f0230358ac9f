"""Rate-limit buckets in Redis, so N gateway processes enforce one combined quota.

The bucket is the same leaky bucket as aiolimiter's, kept as a Redis hash and updated by one Lua
script (atomic: no two replicas can both spend the last unit), timed by Redis's own clock so
replicas with skewed clocks agree. If Redis cannot be reached the gateway keeps serving with
in-process buckets, logs it once, and reports it in /readyz, rather than failing every request.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.domain.ratelimit.local import Decision, LocalLimiter, decide

log = logging.getLogger("seliq.ratelimit")

LEAKY_BUCKET = """
local capacity = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local rate = capacity / 60
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'level', 'last')
local level = tonumber(state[1]) or 0
local last = tonumber(state[2]) or now
level = math.max(0, level - (now - last) * rate)
local allowed = 0
if cost <= capacity and level + cost <= capacity then
  level = level + cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'last', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
return {allowed, tostring(level)}
"""
RETRY_REDIS_AFTER = 10.0


class RedisLimiter:
    def __init__(self, url: str, prefix: str = "seliq:rl:") -> None:
        self.redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix
        self.script = self.redis.register_script(LEAKY_BUCKET)
        self.fallback = LocalLimiter()
        self._down_since: float | None = None

    async def charge(self, bucket: str, per_minute: int, cost: int) -> Decision:
        if self._down_since is not None and time.monotonic() - self._down_since < RETRY_REDIS_AFTER:
            return await self.fallback.charge(bucket, per_minute, cost)
        try:
            allowed, level = await self.script(keys=[self.prefix + bucket], args=[per_minute, cost])
        except (RedisError, OSError) as exc:
            if self._down_since is None:
                log.warning("redis unreachable (%s); using in-process rate limits", exc)
            self._down_since = time.monotonic()
            return await self.fallback.charge(bucket, per_minute, cost)
        if self._down_since is not None:
            log.warning("redis reachable again; rate limits are shared")
            self._down_since = None
        return decide(bool(int(allowed)), per_minute, float(level), cost)

    def status(self) -> str:
        return "redis" if self._down_since is None else "local (redis unreachable)"
