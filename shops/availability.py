"""When Redis or PostgreSQL cannot be reached, a request that cannot be served safely answers 503 with Retry-After
instead of a 500: the API in its error format (shops.rest.errors), pages with a plain page
(shops.middleware.ServiceUnavailableMiddleware). These predicates say which errors mean "down".

Redis is the store of what must be counted exactly across processes: the API throttle, the one-time codes and their
send and attempt limits, referral velocity. Without it those refuse (fail closed). What the cache only speeds up is
computed without it (shops.cache.optional_cache) and never gets here.

For PostgreSQL only a connection that is refused, lost or ended by the server (a restart, a failover) counts; any
other database error (an integrity or a programming error, a statement timeout) stays a 500, so it is seen."""

import logging

import psycopg
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A restart or a failover of either server takes seconds; a client that waits longer only delays its recovery.
RETRY_AFTER = 5
MESSAGE = _("The service is briefly unavailable. Please try again in a moment.")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# SQLSTATEs of a server that is going away or not accepting connections yet: admin_shutdown (what a restart and
# pg_terminate_backend send), crash_shutdown, cannot_connect_now ("the database system is starting up"); class 08
# is "connection exception".
_SERVER_GOING = frozenset({"57P01", "57P02", "57P03"})

logger = logging.getLogger(__name__)


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` is Django's error for a PostgreSQL connection that was refused, lost or ended by the server."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    if not isinstance(cause, psycopg.Error):  # SQLite's "database is locked" and the like stay errors
        return False
    if cause.sqlstate:
        return cause.sqlstate.startswith("08") or cause.sqlstate in _SERVER_GOING
    # No SQLSTATE: raised by the client library itself, whose OperationalErrors are about the connection
    # ("connection failed", "the connection is lost", "the connection is closed"); its InterfaceErrors are misuse.
    return isinstance(cause, psycopg.OperationalError)


def unavailable(exc: BaseException) -> bool:
    """Whether the request that raised `exc` should answer 503: Redis or PostgreSQL is out of reach."""
    return isinstance(exc, REDIS_DOWN) or database_unreachable(exc)


def log(exc: BaseException) -> None:
    """An outage is no bug of ours, but someone must see it: logged as an error, with the traceback."""
    server = "Redis" if isinstance(exc, REDIS_DOWN) else "PostgreSQL"
    logger.error("Answered 503: %s is out of reach (%s)", server, exc, exc_info=exc)
