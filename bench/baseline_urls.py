"""The baseline of bench/api_overhead.py: the one indispensable query (the key's shop by key hash), raw SQL, in a
bare Django view behind the same middleware."""

import hashlib

from django.db import connection
from django.http import JsonResponse
from django.urls import path

FIELDS = ("id", "name", "slug", "currency", "time_zone", "locale", "colour")


def shop_by_key(request):
    digest = hashlib.sha256(request.headers["Authorization"].removeprefix("Bearer ").encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.name, s.slug, s.currency, s.time_zone, s.locale, s.colour FROM shops_apikey k "
            "JOIN shops_shop s ON s.id = k.shop_id WHERE k.key_hash = %s AND k.revoked_at IS NULL",
            [digest],
        )
        return JsonResponse(dict(zip(FIELDS, cursor.fetchone(), strict=True)))


urlpatterns = [path("baseline/", shop_by_key)]
