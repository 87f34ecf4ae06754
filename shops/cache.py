"""The cache where it only saves work: `optional_cache` has the cache's methods, and when Redis cannot be reached
a read is a miss and a write does not happen, so the page is computed without it (slower, not failed).

Use it for what can be recomputed or lost: cached counts, pages kept rendered, channel visit counters. What must be
counted exactly (limits, one-time codes) uses django's `cache` itself, where an outage raises and the request
answers 503 (shops.availability)."""

import logging

from django.core.cache import cache
from django.core.cache.backends.base import DEFAULT_TIMEOUT

from .availability import REDIS_DOWN

logger = logging.getLogger(__name__)


class OptionalCache:
    def get(self, key, default=None):
        return self._call("get", default, key, default)

    def get_many(self, keys) -> dict:
        return self._call("get_many", {}, keys)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT) -> None:
        self._call("set", None, key, value, timeout)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT) -> bool:
        """False, as for a key that exists, when the cache is down: callers then skip what follows a new key."""
        return self._call("add", False, key, value, timeout)

    def incr(self, key, delta: int = 1) -> int | None:
        return self._call("incr", None, key, delta)

    @staticmethod
    def _call(method: str, fallback, *args):
        try:
            return getattr(cache, method)(*args)
        except REDIS_DOWN as exc:
            logger.warning("Cache unreachable, going on without it (%s): %s", method, exc)
            return fallback


optional_cache = OptionalCache()
