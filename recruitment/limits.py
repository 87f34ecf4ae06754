"""Counting windows in the cache (Redis in production): at most `limit` events per key in the hour, or day, that
starts with the key's first event. `cache.add` starts a window only if none is open and `cache.incr` is atomic
in Redis, so concurrent web processes share one exact count."""

from django.core.cache import cache

from .errors import RateLimited

HOUR = 3600
DAY = 24 * HOUR


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one event; False (and nothing counted beyond the limit) when the window already holds `limit`."""
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window closed between add and incr: this event opens the next one
        cache.add(key, 1, timeout=window)
        count = 1
    if count > limit:
        cache.decr(key)  # refused events do not count, so a window ends on time however hard it is hammered
        return False
    return True


def hit_or_refuse(key: str, *, limit: int, window: int) -> None:
    """As hit(), raising RateLimited instead of returning False."""
    if not hit(key, limit=limit, window=window):
        raise RateLimited()


def count(key: str) -> int:
    return cache.get(key, 0)
