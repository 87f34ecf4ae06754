"""/healthz: is the database, the cache and the Celery broker answering? 200 when the database and the cache answer,
else 503 naming what failed (`failed`). Without the cache the API and the one-time codes refuse (shops.availability),
so a node without it is not healthy. The broker is reported without failing the check: most requests queue no task."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from config.celery import app as celery_app


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # tenant-ok: a health probe, no table
    return "ok"


def _cache() -> str:
    cache.set("healthz", "1", 10)
    return "ok" if cache.get("healthz") == "1" else "error: value not read back"


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (no broker configured: tasks run in-process)"
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@never_cache
def healthz(request):
    checks = {}
    for name, check in (("database", _database), ("cache", _cache), ("broker", _broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure instead of raising
            checks[name] = f"error: {exc.__class__.__name__}: {exc}"[:300]
    failed = [name for name in ("database", "cache") if checks[name] != "ok"]
    return JsonResponse(
        {"status": "error" if failed else "ok", "failed": failed, **checks}, status=503 if failed else 200
    )
