"""The raw-claim baseline of bench/coupons_claim_api.py: the project's URLs plus one bare Django view that claims a
coupon in hand-written SQL, with the same locking as coupons.issuance.coupon_issue (the template row locked, the
replay, stock and per-member checks read under the lock, the coupon inserted and the counter raised), without
DRF, the ORM, the throttle or the audience and window checks. Served by bench/coupons_claim_wsgi.py."""

import hashlib
import json
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from config.urls import handler404, handler500, urlpatterns  # noqa: F401 - the project's URLs and handlers


@csrf_exempt  # an API call, authenticated by its key like the API's views
def raw_claim(request, member_id: int):
    body = json.loads(request.body)
    template_id, key = int(body["template_id"]), "rawclaim:" + body["idempotency_key"]
    digest = hashlib.sha256(request.headers["Authorization"].removeprefix("Bearer ").encode()).hexdigest()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT shop_id FROM shops_apikey WHERE key_hash = %s AND revoked_at IS NULL", [digest])
        (shop_id,) = cursor.fetchone()
        cursor.execute("SELECT status FROM members_member WHERE shop_id = %s AND id = %s", [shop_id, member_id])
        if cursor.fetchone() != ("active",):
            return JsonResponse({"code": "member_not_active"}, status=409)
        cursor.execute(
            "SELECT stock, issued, per_member_limit, valid_days FROM coupons_coupontemplate "
            "WHERE shop_id = %s AND id = %s FOR UPDATE",
            [shop_id, template_id],
        )
        stock, issued, limit, valid_days = cursor.fetchone()
        cursor.execute(
            "SELECT id, code FROM coupons_coupon WHERE shop_id = %s AND idempotency_key = %s", [shop_id, key]
        )
        if row := cursor.fetchone():
            return JsonResponse({"id": row[0], "code": row[1]}, status=200)
        if stock is not None and issued >= stock:
            return JsonResponse({"code": "out_of_stock"}, status=409)
        cursor.execute(
            "SELECT count(*) FROM coupons_coupon WHERE shop_id = %s AND member_id = %s AND template_id = %s",
            [shop_id, member_id, template_id],
        )
        if cursor.fetchone()[0] >= limit:
            return JsonResponse({"code": "limit_reached"}, status=409)
        cursor.execute(
            "INSERT INTO coupons_coupon (shop_id, template_id, member_id, code, status, source, issued_at, "
            "valid_from, valid_until, idempotency_key) VALUES (%s, %s, %s, %s, 'available', 'claim', %s, %s, %s, %s) "
            "RETURNING id, code",
            [
                shop_id,
                template_id,
                member_id,
                secrets.token_hex(8).upper(),
                now,
                now,
                now + timedelta(days=valid_days),
                key,
            ],
        )
        coupon_id, code = cursor.fetchone()
        cursor.execute("UPDATE coupons_coupontemplate SET issued = issued + 1 WHERE id = %s", [template_id])
    return JsonResponse({"id": coupon_id, "code": code}, status=201)


urlpatterns = [*urlpatterns, path("bench/raw-claim/<int:member_id>/", raw_claim)]
