"""Local development: DEBUG on, everything else from the environment (SQLite and eager tasks by default)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# Webhook receivers on http:// while developing (base.py decided before DEBUG was known here).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=DEBUG)
