"""Operations views of the points ledger and rules, all read-only: entries are append-only and balances follow
them (corrections are adjustments made through the services, which audit them); the rules are changed by the
merchant in the dashboard, whose services validate and audit each change."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import BonusRule, PendingAward, PointsEntry, PointsLot, PointsProgram


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


@admin.register(PendingAward)
class PendingAwardAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "shop", "member", "order_external_id", "points", "state", "available_at"]
    list_filter = ["state"]
    search_fields = ["=order_external_id", "shop__slug"]
    list_select_related = ["shop", "member"]
    show_full_result_count = False


@admin.register(PointsProgram)
class PointsProgramAdmin(ReadOnlyAdmin):
    list_display = [
        "shop",
        "points_per_unit",
        "rounding",
        "per_order_cap",
        "pending_days",
        "expiry_mode",
        "cash_enabled",
        "profile_completion_points",
    ]
    list_select_related = ["shop"]
    search_fields = ["shop__slug"]


@admin.register(BonusRule)
class BonusRuleAdmin(ReadOnlyAdmin):
    list_display = ["shop", "name", "kind", "match", "starts_on", "ends_on", "multiplier", "extra_points", "active"]
    list_filter = ["kind", "active"]
    list_select_related = ["shop"]
    search_fields = ["shop__slug", "name"]
