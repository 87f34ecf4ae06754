"""Operations views of the points ledger: read-only, since entries are append-only and balances follow them
(corrections are adjustments made through the services, which audit them)."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import PointsEntry, PointsLot


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "shop", "member", "kind", "points", "reason", "order_external_id"]
    list_filter = ["kind"]
    search_fields = ["=idempotency_key", "=order_external_id", "shop__slug"]
    list_select_related = ["shop", "member"]
    show_full_result_count = False
    exclude = ["body_hash"]


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdmin):
    list_display = ["entry", "shop", "member", "remaining", "earned_at", "expires_at"]
    list_select_related = ["shop", "member", "entry"]
    show_full_result_count = False
