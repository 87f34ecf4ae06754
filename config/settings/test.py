"""Tests: fast hashing, in-memory SMS, push and email; the database and Redis come from the environment."""

import uuid

from .base import *  # noqa: F403
from .base import CACHES, INSTALLED_APPS, REDIS_URL

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
