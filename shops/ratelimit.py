"""Provider send rates shared by every worker (SPEC 12, CONVENTIONS 5b): SMS_RATE_LIMIT and PUSH_RATE_LIMIT are
messages a second for the whole deployment, which Celery's per-worker `rate_limit` cannot enforce.

A sender reserves the messages it is about to hand over with `provider_take` and waits the seconds it answers
(`provider_wait` does both). The bucket is GCRA, as the API throttle (shops.rest.throttling): a "theoretical
arrival time" (tat) moves n intervals further per reservation, and a reservation may go out once tat is within one
second of now, so a quiet bucket lets one second's worth through at once (the burst) and then the rate. Reserving
never fails: a caller further back in the queue is told to wait longer, so the waits add up to the rate and nobody
starves. Take chunks no larger than one second's worth, or a chunk goes out at once after its wait.

With REDIS_URL the bucket lives in Redis, moved by one Lua script (atomic across processes, timed by the Redis
clock so workers with skewed clocks agree); without it, in process memory (the single-process embedded mode). A
Redis error is raised to the caller (a sending task retries it): nothing is sent unmetered.
"""

import threading
import time
from functools import cache

import redis
from django.conf import settings

BURST_SECONDS = 1.0  # a quiet bucket lets at most one second's worth go out at once

# KEYS[1] the bucket; ARGV: interval (s per message), n, burst (s). Returns the wait in seconds, as a string (Lua
# numbers come back from Redis as integers).
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + n * interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
local wait = new_tat - burst - now
if wait < 0 then wait = 0 end
return tostring(wait)
"""


@cache
def _redis_script():
    client = redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_OPTIONS)
    return client.register_script(_RESERVE_LUA)


class _MemoryBuckets:
    """The same arithmetic in process memory, on the monotonic clock."""

    def __init__(self):
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, interval: float, n: int, burst: float) -> float:
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat.get(key, now), now) + n * interval
            self._tat[key] = tat
            return max(0.0, tat - burst - now)

    def clear(self) -> None:
        with self._lock:
            self._tat.clear()


memory_buckets = _MemoryBuckets()


def provider_rate(channel: str) -> float:
    """The configured rate of `channel` ("sms" or "push"), messages a second; 0 or less means unlimited."""
    return {"sms": settings.SMS_RATE_LIMIT, "push": settings.PUSH_RATE_LIMIT}[channel]


def provider_take(channel: str, n: int, *, rate: float) -> float:
    """Reserve `n` sends on `channel`'s shared bucket at `rate` a second; the seconds to wait before sending them
    (0.0: now). The reservation stands whatever the caller does next, so call it only for messages about to go.
    rate <= 0 is unlimited: 0.0 without touching Redis."""
    if rate <= 0 or n <= 0:
        return 0.0
    interval = 1.0 / rate
    if not settings.REDIS_URL:
        return memory_buckets.reserve(f"provider:{channel}", interval, n, BURST_SECONDS)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "huiyuan")
    return float(_redis_script()(keys=[f"{prefix}:provider-rate:{channel}"], args=[interval, n, BURST_SECONDS]))


def provider_wait(channel: str, n: int, *, rate: float) -> float:
    """`provider_take`, then sleep its answer; returns the seconds slept."""
    wait = provider_take(channel, n, rate=rate)
    if wait > 0:
        time.sleep(wait)
    return wait
