"""Counting windows in the cache (Redis in production): at most `limit` events per key in the hour, or day, that
starts with the key's first event. `cache.add` starts a window only if none is open and `cache.incr` is atomic
in Redis, so concurrent web processes share one exact count."""

from contextlib import suppress

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


def hit_all_or_refuse(*windows: tuple[str, int, int]) -> None:
    """Count one event in each window `(key, limit, window)`, all or none: when one is full, the windows already
    counted are given their event back and RateLimited is raised. Put the window most likely to be full first."""
    counted = []
    for key, limit, window in windows:
        if not hit(key, limit=limit, window=window):
            for done in counted:
                with suppress(ValueError):  # that window closed meanwhile: nothing left to give back
                    cache.decr(done)
            raise RateLimited()
        counted.append(key)


def count(key: str) -> int:
    return cache.get(key, 0)
