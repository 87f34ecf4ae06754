"""WSGI entry of bench/coupons_claim_api.py: config.wsgi's application (production settings from the environment)
with bench/coupons_claim_urls.py as the URL configuration, i.e. every project URL plus the raw-claim baseline."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

settings.ROOT_URLCONF = "bench.coupons_claim_urls"
application = get_wsgi_application()
