"""Per-key API throttling: a token bucket (GCRA) allowing API_THROTTLE_RATE requests/s with bursts of
API_THROTTLE_BURST. Failed authentications have a bucket per network address (bad_key_refusal).

With REDIS_URL the bucket lives in Redis, updated by one Lua script (atomic across web processes, timed by the
Redis clock so servers with skewed clocks agree); without Redis it lives in process memory, which is right for
the single-process embedded mode. When Redis cannot be reached the bucket cannot be counted, and the request
answers 503 with Retry-After (shops.availability): nothing gets through unthrottled.
"""

import math
import threading
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from shops.models import ApiKey

# GCRA: each request moves the "theoretical arrival time" (tat) one interval further; a request is allowed while
# tat stays within burst * interval of now. Returns {allowed, tat - now} in seconds.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > capacity + 1e-6 then
  return {0, tostring(tat - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, tostring(new_tat - now)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: float  # seconds until the bucket is full again
    retry_after: float  # seconds until the next request would be allowed (0 when allowed)

    @property
    def wait(self) -> int:
        """Retry-After: whole seconds."""
        return math.ceil(self.retry_after)


@cache
def _redis_script():
    client = redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_OPTIONS)
    return client.register_script(_GCRA_LUA)


# (tat + interval) - now is not exactly `interval` in floating point once the clock reads thousands of seconds: a
# full bucket of one request would refuse it. Both comparisons allow this much (the Lua script spells it out).
EPSILON = 1e-6


class _MemoryBuckets:
    def __init__(self):
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, key: str, interval: float, capacity: float) -> tuple[bool, float]:
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat.get(key, now), now)
            if tat + interval - now > capacity + EPSILON:
                return False, tat - now
            self._tat[key] = tat + interval
            return True, tat + interval - now

    def clear(self):
        with self._lock:
            self._tat.clear()


memory_buckets = _MemoryBuckets()


def bucket_take(key: str, *, rate: float, burst: int) -> Decision:
    interval = 1.0 / rate
    capacity = burst * interval
    if settings.REDIS_URL:
        allowed, ahead = _redis_script()(keys=[key], args=[interval, capacity])
        allowed, ahead = bool(int(allowed)), float(ahead)
    else:
        allowed, ahead = memory_buckets.take(key, interval, capacity)
    remaining = max(0, math.floor((capacity - ahead) / interval + 1e-9))
    retry_after = 0.0 if allowed else max(0.0, ahead + interval - capacity)
    return Decision(allowed, burst, remaining, ahead, retry_after)


def api_throttle(request, ident: str) -> Decision:
    """Take one request from the bucket of `ident` at API_THROTTLE_RATE / API_THROTTLE_BURST. The decision is left
    on the Django request: RateLimitHeadersMiddleware adds the RateLimit-* headers to every API answer from it."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "huiyuan")
    decision = bucket_take(
        f"{prefix}:throttle:{ident}", rate=settings.API_THROTTLE_RATE, burst=settings.API_THROTTLE_BURST
    )
    request.rate_limit = decision
    return decision


def client_ip(request) -> str | None:
    # Behind the load balancer, configure the proxy to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR")


def bad_key_refusal(request) -> exceptions.Throttled | None:
    """Count one failed authentication (a missing, malformed, unknown or revoked key) against the client's address;
    the Throttled to raise instead of the 401 once that address has used its allowance: API_BAD_KEY_BURST at once,
    then API_BAD_KEY_RATE per second.

    Only failures count, so an integration sending hundreds of good requests a second from one address is never
    held up by them, and the successful path (the lean hot writes included) makes no extra Redis call: this runs
    only once the key has failed. A valid key from a refused address is still served: keys carry 256 random bits,
    so telling a valid one from a refused one teaches a guesser nothing, and a revoked key left in one till must not
    stop the store's new key behind the same address. When the bucket cannot be reached the 401 goes out as it
    would have: nothing is served either way."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "huiyuan")
    try:
        decision = bucket_take(
            f"{prefix}:bad-key:{client_ip(request)}", rate=settings.API_BAD_KEY_RATE, burst=settings.API_BAD_KEY_BURST
        )
    except redis.RedisError:
        return None
    if decision.allowed:
        return None
    return exceptions.Throttled(decision.wait, "Too many requests without a valid API key from your address.")


def key_ident(api_key: ApiKey) -> str:
    return f"key:{api_key.pk}"


class ApiKeyRateThrottle(BaseThrottle):
    """Throttle per API key (per client IP before authentication succeeds, e.g. the schema page)."""

    def allow_request(self, request, view):
        # The address is REMOTE_ADDR (client_ip), never DRF's get_ident, which believes any X-Forwarded-For.
        ident = key_ident(request.auth) if isinstance(request.auth, ApiKey) else f"ip:{client_ip(request)}"
        self.decision = api_throttle(request._request, ident)
        return self.decision.allowed

    def wait(self):
        return self.decision.wait
