"""Production: secrets and hosts must come from the environment; HTTPS assumed behind the load balancer.

The Content-Security-Policy is in base.py (every environment); what only makes sense over HTTPS is here: the
redirect of plain HTTP, HSTS and Secure cookies. `manage.py check --deploy` passes with these settings
(tests/test_security_headers.py).
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")

# TLS ends at the load balancer, which talks plain HTTP to gunicorn. Django believes a request was HTTPS when
# X-Forwarded-Proto says so: the proxy must set that header on every request and drop any value a client sent,
# or a client could claim HTTPS over plain HTTP.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Plain HTTP is redirected to HTTPS (301), except the health check, which load balancers send over plain HTTP.
# Off only where the proxy redirects itself, or for a plain-http test deployment (docker-compose.yml).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # matched against the path without its leading slash
# Browsers that saw us over HTTPS refuse plain HTTP for a year, on every subdomain too (sent on HTTPS answers only).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading (hstspreload.org) is hard to undo and binds every subdomain: the operator opts in.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # "Not preloaded": a decision, not an oversight. (Keeps whatever base.py silences.)
    SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "security.W021"]

SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
LANGUAGE_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
