"""Settings shared by every environment. Everything environment-specific comes from environment variables.

With no environment at all, the project runs on SQLite with eager Celery tasks, a local-memory cache and console
SMS/email, so a newcomer needs nothing but Python.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_scopes",
    "axes",
    "shops",
    "events",
    "members",
    "orders",
    "tiers",
    "points",
    "coupons",
    "recruitment",
    "campaigns",
    "analytics",
    "automations",
    "webhooks",
    "portal",
]

MIDDLEWARE = [
    "shops.middleware.RequestScopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: our own static files need no policy; every page, API answer and upload does.
    "shops.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "shops.middleware.AdminScopesDisabledMiddleware",
    "shops.middleware.RateLimitHeadersMiddleware",
    "shops.middleware.ServiceUnavailableMiddleware",
    # Last, as axes requires: it turns a log-in refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Content-Security-Policy (shops.csp), in every environment, so that tests and the demo run under the policy
# that production sends. Everything comes from our host: no CDN, no inline script (our scripts are static files,
# Swagger UI's set-up is a script URL of its own: SpectacularSwaggerSplitView). Inline <style> only with the
# response's nonce: the shop's brand colour is a custom property set per page; style attributes are not allowed
# (bars are SVG rects). data: images for the icons in Swagger UI's stylesheet. No plugins, no <base>, forms post
# to us only, and no other site may frame our pages (clickjacking; X-Frame-Options says the same to old browsers).
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "<nonce>"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "shops.csp.csp",
            ],
        },
    },
]


# --- Database: SQLite unless DATABASE_URL is set (postgres://user@host:port/name uses psycopg 3).
def database_from_env(var: str, **kwargs) -> dict:
    """The connection settings of the database URL in `var`, adapted as every connection of ours is."""
    database = env.db(var, **kwargs)
    # Persistent connections: a minimal write endpoint measured about 5x faster with them (CONVENTIONS section 5).
    database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    database["CONN_HEALTH_CHECKS"] = True
    if database["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, but an integer parameter beyond its field's type is sent as a bigint instead of being
        # cut to 32 bits by the driver (shops/postgresql/base.py, issue 16).
        database["ENGINE"] = "shops.postgresql"
    if "postgresql" in database["ENGINE"] and env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Values bound by the server and statements prepared after 5 runs on a connection: the hot writes run the
        # same statements on every request, and PostgreSQL spent more CPU planning them than running them (about
        # 1 ms of 3.7 per order). Turn off behind a pooler in transaction mode (PgBouncer before 1.21), where a
        # connection's prepared statements do not follow the client.
        database.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
    return database


DATABASES = {"default": database_from_env("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# --- A read-only streaming replica of the primary (optional): analytics reads go there (analytics/routers.py,
# analytics/replica.py), everything else and every write to the primary. Unset: analytics reads the primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = database_from_env("DATABASE_REPLICA_URL")
    if "postgresql" not in DATABASES["default"]["ENGINE"] or "postgresql" not in DATABASES["replica"]["ENGINE"]:
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL is a PostgreSQL streaming replica of the PostgreSQL server of DATABASE_URL."
        )
    DATABASE_ROUTERS = ["analytics.routers.AnalyticsReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and API throttling. Without REDIS_URL both stay in process memory.
REDIS_URL = env("REDIS_URL", default="")
# Seconds to connect, and to wait for an answer, before Redis counts as down (shops.availability): without them an
# unreachable host holds every request (and /healthz) for the system's TCP timeout of minutes.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=1.0)
REDIS_OPTIONS = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="huiyuan"),
            "OPTIONS": REDIS_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery: eager (in-process, synchronous) when no broker is configured.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # 03:10 in China: the rolling 12-month figures age out what left the window yesterday.
    "member-windows-refresh": {
        "task": "orders.tasks.member_windows_refresh_all_shops",
        "schedule": crontab(hour=19, minute=10),
    },
    # 03:40 in China, after the windows: rule tags such as "spent 2000 in 12 months" read those figures.
    "rule-tags-refresh": {
        "task": "members.tasks.rule_tags_refresh_all_shops",
        "schedule": crontab(hour=19, minute=40),
    },
    # 04:10 in China: due tier changes apply, then the incremental tier evaluation (upgrades happen with orders;
    # this lowers tiers whose retention ended and catches what refunds and the 12-month window changed).
    "tiers-daily": {
        "task": "tiers.tasks.tiers_daily_all_shops",
        "schedule": crontab(hour=20, minute=10),
    },
    # Hourly: pending points whose return window ended become available.
    "points-release": {
        "task": "points.tasks.points_release_all_shops",
        "schedule": crontab(minute=25),
    },
    # 00:05 in China: lots expire at local midnight (the default rule: the first instant of a year).
    "points-expire": {
        "task": "points.tasks.points_expire_all_shops",
        "schedule": crontab(hour=16, minute=5),
    },
    # 10:00 in China: points.expiring events, so that reminders go out at a decent hour.
    "points-expiry-reminders": {
        "task": "points.tasks.points_expiry_reminders_all_shops",
        "schedule": crontab(hour=2, minute=0),
    },
    # 05:10 in China, after the night's expiry: cached balances checked against entries and lots.
    "points-reconcile": {
        "task": "points.tasks.points_reconcile_all_shops",
        "schedule": crontab(hour=21, minute=10),
    },
    # Hourly: tier gifts (upgrades of the last hours; birthdays and monthly packs once each local day / month).
    "coupons-tier-gifts": {
        "task": "coupons.tasks.tier_gifts_all_shops",
        "schedule": crontab(minute=15),
    },
    # 00:07 in China: coupons whose window ended yesterday are marked expired.
    "coupons-expire": {
        "task": "coupons.tasks.coupons_expire_all_shops",
        "schedule": crontab(hour=16, minute=7),
    },
    # Every 5 minutes: channel visit counters (cached as they happen) are copied into the channels' daily rows.
    "recruitment-stats-flush": {
        "task": "recruitment.tasks.channel_stats_flush_all_shops",
        "schedule": crontab(minute="*/5"),
    },
    # 10:05 in China: coupon.expiring events (coupon expiry reminders).
    "coupons-expiry-reminders": {
        "task": "coupons.tasks.coupons_expiry_reminders_all_shops",
        "schedule": crontab(hour=2, minute=5),
    },
    # Every minute: events not yet handed to their consumers (a lost nudge or task, a killed worker) are (SPEC 9).
    "events-sweep": {
        "task": "events.tasks.events_sweep",
        "schedule": crontab(),
    },
    # 03:30 in China: events older than EVENTS_RETENTION_DAYS are deleted.
    "events-prune": {
        "task": "events.tasks.events_prune",
        "schedule": crontab(hour=19, minute=30),
    },
    # Hourly: each shop's daily automation triggers (birthdays, expiries, win-back, replenishment) once its local
    # day has begun; every minute: automation steps whose wait has ended.
    "automations-daily": {
        "task": "automations.tasks.automations_daily_all_shops",
        "schedule": crontab(minute=35),
    },
    "automations-tick": {
        "task": "automations.tasks.automations_tick",
        "schedule": crontab(),
    },
    # Every minute: scheduled campaigns that are due start; stale sends are settled; senders are brought to
    # campaigns with messages due (campaigns.tasks).
    "campaigns-tick": {
        "task": "campaigns.tasks.campaigns_tick",
        "schedule": crontab(),
    },
    # Hourly: each shop's analytics rollups of yesterday (within the hour after its local midnight) and of the days a
    # late fact changed (analytics.rollups).
    "analytics-rollup": {
        "task": "analytics.tasks.analytics_rollup_all_shops",
        "schedule": crontab(minute=35),
    },
    # Hourly: each shop's member intelligence (analytics.clv), fitted and scored once per shop-local day, at the
    # first run after its local midnight (SPEC 15).
    "analytics-clv": {
        "task": "analytics.tasks.analytics_clv_all_shops",
        "schedule": crontab(minute=50),
    },
    # Every 5 minutes: import jobs whose process died are failed with a reason (members.imports.stale).
    "imports-fail-stale": {
        "task": "members.tasks.imports_fail_stale_all_shops",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 seconds: a sender for each webhook endpoint with deliveries due (retries, lapsed claims); daily at
    # 03:50 in China, the delivery log past WEBHOOK_LOG_DAYS is deleted (webhooks.tasks).
    "webhooks-tick": {"task": "webhooks.tasks.webhooks_tick", "schedule": timedelta(seconds=5)},
    "webhooks-prune": {"task": "webhooks.tasks.webhooks_prune", "schedule": crontab(hour=19, minute=50)},
    # Every 10 minutes: chunked jobs over members (segment grants...) whose task was lost carry on (members.jobs).
    "member-jobs-resume": {
        "task": "members.tasks.member_jobs_resume_all_shops",
        "schedule": crontab(minute="3-59/10"),
    },
}

# Domain events are kept this long (SPEC 9: at least 30 days; the events API and webhook replays read them).
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=30)

# Coupons expiring within this many days get a daily coupon.expiring event (coupons.redemption).
COUPON_EXPIRY_REMINDER_DAYS = 3

AUTH_USER_MODEL = "shops.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# axes' backend first: it refuses a locked account or address before any password is checked. It has no
# get_user, so sessions (and the test client's force_login) use ModelBackend.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:entry"
LOGOUT_REDIRECT_URL = "login"

# --- Staff log-in limits (django-axes, shops.logins): failed log-ins per account and per network address within the
# cool-off window; at either limit, log-ins for that account or from that address answer 429 until it has passed.
AXES_HANDLER = "shops.logins.LoginAttempts"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=20)  # an office shares one address
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each counted on its own (LoginAttempts.get_failures)
AXES_USERNAME_FORM_FIELD = "username"  # the login forms' field and authenticate()'s argument (not USERNAME_FIELD)
AXES_USERNAME_CALLABLE = "shops.logins.login_username"
AXES_CLIENT_IP_CALLABLE = "shops.rest.views.client_ip"  # REMOTE_ADDR, as the API: no spoofable forwarded header
AXES_RESET_ON_SUCCESS = True
# Attempts refused during a lockout do not extend it: the pause ends on time however often someone retries.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "shops.logins.lockout_response"
# No row per successful log-in: nothing would ever delete them (failed attempts expire with the cool-off).
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every manage.py start

# --- Languages: zh-Hans by default, English available.
LANGUAGE_CODE = "zh-hans"
# Each language is named in itself, so a person finds theirs whatever the current language is.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The largest request body read into memory: an API JSON body (the API answers 413 request_too_large above it) or
# a form's fields (uploads do not count: FILE_UPLOAD_* and each import's own limits govern them). Sized for the
# bulk order endpoint's maximum of 1,000 orders: with 10 items each, under 60-character Chinese titles, a batch
# takes 3.1 MB as UTF-8 and 5.8 MB \u-escaped and indented (json.dumps(..., indent=2)); 15 items escaped, 7.5 MB.
# A 10 MB body is refused. tests/shops/test_api_input.py holds the bulk maximum under this limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

# EMAIL_URL: consolemail:// (default: printed), smtp+tls://user:password@host:587, ...
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Huiyuan <noreply@huiyuan.local>")
# Where links in emails point (password reset, staff invitations).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# --- SMS: console | locmem | file | http (SPEC section 10).
SMS_BACKEND = env("SMS_BACKEND", default="console")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(BASE_DIR / "var" / "sms"))
SMS_HTTP_URL = env("SMS_HTTP_URL", default="")
SMS_HTTP_SECRET = env("SMS_HTTP_SECRET", default="")
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=5.0)
# A provider's batch endpoint (shops.messaging): empty sends a batch one message per request.
SMS_HTTP_BATCH_URL = env("SMS_HTTP_BATCH_URL", default="")
SMS_HTTP_BATCH_SIZE = env.int("SMS_HTTP_BATCH_SIZE", default=100)
# A provider's status query endpoint (shops.messaging): empty answers "unknown" for every message asked about.
SMS_HTTP_STATUS_URL = env("SMS_HTTP_STATUS_URL", default="")
# Messages a second handed to the SMS provider, across all workers (shops.ratelimit); 0 or less: unlimited.
SMS_RATE_LIMIT = env.float("SMS_RATE_LIMIT", default=200.0)

# --- App push: console | locmem | file | http, as SMS (shops.push).
PUSH_BACKEND = env("PUSH_BACKEND", default="console")
PUSH_FILE_PATH = env("PUSH_FILE_PATH", default=str(BASE_DIR / "var" / "push"))
PUSH_HTTP_URL = env("PUSH_HTTP_URL", default="")
PUSH_HTTP_BATCH_URL = env("PUSH_HTTP_BATCH_URL", default="")
PUSH_HTTP_BATCH_SIZE = env.int("PUSH_HTTP_BATCH_SIZE", default=100)
PUSH_HTTP_STATUS_URL = env("PUSH_HTTP_STATUS_URL", default="")
# Notifications a second handed to the push provider, across all workers (shops.ratelimit); 0 or less: unlimited.
PUSH_RATE_LIMIT = env.float("PUSH_RATE_LIMIT", default=500.0)
PUSH_HTTP_SECRET = env("PUSH_HTTP_SECRET", default="")
PUSH_HTTP_TIMEOUT = env.float("PUSH_HTTP_TIMEOUT", default=5.0)

# --- Campaigns (SPEC 12): a message handed to a sender that has not answered after this long is settled from the
# provider (its receipt or a status query) before it is sent again.
CAMPAIGN_CLAIM_LEASE_SECONDS = env.int("CAMPAIGN_CLAIM_LEASE_SECONDS", default=120)

# --- Recruitment: the font of posters (any CJK-capable TrueType/OpenType file; Debian's fonts-noto-cjk).
CJK_FONT_PATH = env("CJK_FONT_PATH", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# Where public links (/j/<code>/, /r/<code>/) point: the host shoppers reach, printed in QR codes and posters.
PUBLIC_URL = env("PUBLIC_URL", default=SITE_URL)

# --- Webhooks (SPEC 17). http:// URLs only where allowed (DEBUG: development); loopback addresses only with
# WEBHOOK_ALLOW_LOOPBACK=true (development and tests), never private or link-local ones.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=DEBUG)
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
# Requests in flight per endpoint (its senders' slots): a slow endpoint holds at most this many workers.
WEBHOOK_ENDPOINT_CONCURRENCY = env.int("WEBHOOK_ENDPOINT_CONCURRENCY", default=2)
WEBHOOK_LOG_DAYS = env.int("WEBHOOK_LOG_DAYS", default=30)

# --- REST API
API_THROTTLE_RATE = env.float("API_THROTTLE_RATE", default=20.0)  # sustained requests per second per key
API_THROTTLE_BURST = env.int("API_THROTTLE_BURST", default=100)  # requests a key may send at once
# Requests with a missing or invalid key, per network address (shops.rest.throttling.bad_key_refusal): this many at
# once, then one more every 1 / API_BAD_KEY_RATE seconds; beyond that 429 instead of 401. Good requests never count.
API_BAD_KEY_BURST = env.int("API_BAD_KEY_BURST", default=20)
API_BAD_KEY_RATE = env.float("API_BAD_KEY_RATE", default=0.2)
# How long a worker remembers a resolved API key on the hot writes (POST orders/, members/{id}/coupons/): a revoked
# key or a frozen shop stops those two within this many seconds; every other endpoint refuses it at once.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shops.rest.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["shops.rest.permissions.HasShopApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["shops.rest.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "shops.rest.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "shops.rest.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "shops.rest.schema.ContractAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["shops.rest.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Huiyuan API",
    "DESCRIPTION": "Integration API v1: members, orders, points, tiers, coupons and recruitment channels. "
    "Authenticate with `Authorization: Bearer <api key>`. Errors are `{code, message, details}`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # No "Patched..." components with every field optional: the API's PATCH views validate their body whole (no
    # partial=True), so a field the view requires is required in the schema too.
    "COMPONENT_SPLIT_PATCH": False,
    # Docs assets come from drf-spectacular-sidecar: no request leaves our host.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "persistAuthorization": True},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
