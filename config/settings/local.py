"""Local development: DEBUG on, everything else from the environment (SQLite and eager tasks by default)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
