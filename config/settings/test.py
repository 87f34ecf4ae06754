"""Tests: fast hashing, in-memory SMS, push and email; the database and Redis come from the environment."""

import uuid

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, INSTALLED_APPS, REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "locmem"
PUSH_BACKEND = "locmem"
# Job models for the tests of members.jobs (tests/jobapp).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.jobapp"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if REDIS_URL:
    # A prefix per test process keeps runs (and a developer's own data) apart on a shared Redis.
    CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
if "replica" in DATABASES:
    # The replica streams the primary's whole cluster, so the test database made on the primary appears there by
    # itself: the replica's connection only takes its name (tests/conftest.py, django_db_modify_db_settings).
    DATABASES["replica"]["TEST"] = {
        "NAME": DATABASES["default"].get("TEST", {}).get("NAME") or f"test_{DATABASES['default']['NAME']}"
    }
