"""When Redis cannot be reached, a request that cannot be served safely answers 503 with Retry-After instead of a
500: the API in its error format (shops.rest.errors), pages with a plain page
(shops.middleware.ServiceUnavailableMiddleware). These predicates say which errors mean "down".

Redis is the store of what must be counted exactly across processes: the API throttle, the one-time codes and their
send and attempt limits, referral velocity. Without it those refuse (fail closed). What the cache only speeds up is
computed without it (shops.cache.optional_cache) and never gets here."""

import logging

from django.utils.translation import gettext_lazy as _
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A restart or a failover takes seconds; a client that waits longer only delays its recovery.
RETRY_AFTER = 5
MESSAGE = _("The service is briefly unavailable. Please try again in a moment.")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)

logger = logging.getLogger(__name__)


def unavailable(exc: BaseException) -> bool:
    """Whether the request that raised `exc` should answer 503: Redis is out of reach."""
    return isinstance(exc, REDIS_DOWN)


def log(exc: BaseException) -> None:
    """An outage is no bug of ours, but someone must see it: logged as an error, with the traceback."""
    logger.error("Answered 503: Redis is out of reach (%s)", exc, exc_info=exc)
