"""Settings come from the environment: SQLite and eager tasks by default, PostgreSQL and Redis when configured.
Each case imports the settings in a fresh interpreter with exactly the environment it names."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json; from config.settings import base as s; print(json.dumps({"
    "'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']),"
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL,"
    "'cache': s.CACHES['default']['BACKEND'], 'cache_options': s.CACHES['default'].get('OPTIONS', {}),"
    "'sms': s.SMS_BACKEND, 'push': s.PUSH_BACKEND, 'debug': s.DEBUG}))"
)


def _settings_with(env: dict) -> dict:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_with_no_environment_the_project_runs_embedded():
    s = _settings_with({})
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"].endswith("db.sqlite3")
    assert s["eager"] is True
    assert s["broker"] == "memory://"
    assert s["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert s["sms"] == "console"
    assert s["push"] == "console"
    assert s["debug"] is False


def test_database_broker_and_redis_come_from_the_environment():
    s = _settings_with(
        {
            "DATABASE_URL": "postgres://app@db.internal:5432/huiyuan",
            "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
            "REDIS_URL": "redis://redis.internal:6379/1",
            "SMS_BACKEND": "file",
            "PUSH_BACKEND": "http",
        }
    )
    assert s["engine"] == "shops.postgresql"  # Django's, with integers kept whole (shops/postgresql/base.py)
    assert s["name"] == "huiyuan"
    assert s["eager"] is False
    assert s["broker"] == "redis://redis.internal:6379/0"
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert s["sms"] == "file"
    assert s["push"] == "http"


def test_redis_counts_as_down_after_redis_timeout():
    # an unreachable or hung Redis fails each call within this time instead of holding the request for minutes
    s = _settings_with({"REDIS_URL": "redis://redis.internal:6379/1"})
    assert s["cache_options"] == {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
    s = _settings_with({"REDIS_URL": "redis://redis.internal:6379/1", "REDIS_TIMEOUT": "0.25"})
    assert s["cache_options"] == {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
