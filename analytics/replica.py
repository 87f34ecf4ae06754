"""Where analytics reads: the read-only streaming replica when one is configured (DATABASE_REPLICA_URL), else the
primary.

Reads of analytics' own models reach the replica through the router (analytics/routers.py). A selector that
aggregates other apps' tables for analytics (orders, members) names the database itself:
`Order.objects.using(READ_DB).filter(shop=shop)...`. Only reads: the replica refuses writes, and what it returns
may lag the primary by the replica's replay delay (fine for figures; never read there to decide a write).
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA_DB = "replica"
READ_DB = REPLICA_DB if REPLICA_DB in settings.DATABASES else DEFAULT_DB_ALIAS
