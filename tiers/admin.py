"""Operations views of tiers. The ladder's fields can be corrected here (not its ranks: the merchant's editor and
tiers.services keep them contiguous); a save re-evaluates the shop's members, since the daily incremental run
only looks at members whose figures changed. History, evaluations, schedules and growth entries are read-only."""

from django.contrib import admin
from django.db import transaction

from shops.admin import ReadOnlyAdmin

from .models import EvaluationMode, GrowthEntry, Tier, TierChange, TierEvaluation, TierSchedule
from .tasks import tiers_evaluate_shop


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = [
        "shop",
        "rank",
        "name",
        "min_spend",
        "min_orders",
        "min_growth",
        "combine",
        "window",
        "retention_months",
        "discount_rate",
        "points_multiplier",
    ]
    list_display_links = ["name"]
    list_select_related = ["shop"]
    ordering = ["shop", "rank"]
    search_fields = ["shop__slug", "name"]
    readonly_fields = ["shop", "rank"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(lambda: tiers_evaluate_shop.delay(obj.shop_id, EvaluationMode.FULL))


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "shop", "member", "from_tier", "to_tier", "reason", "actor", "note"]
    list_filter = ["reason"]
    search_fields = ["shop__slug", "=member__id"]
    list_select_related = ["shop", "member", "from_tier", "to_tier"]
    show_full_result_count = False


@admin.register(TierEvaluation)
class TierEvaluationAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "shop", "mode", "members_checked", "upgraded", "downgraded", "finished_at"]
    list_filter = ["mode"]
    search_fields = ["shop__slug"]
    list_select_related = ["shop"]


@admin.register(TierSchedule)
class TierScheduleAdmin(ReadOnlyAdmin):
    list_display = ["effective_on", "shop", "created_by", "created_at", "applied_at"]
    search_fields = ["shop__slug"]
    list_select_related = ["shop"]


@admin.register(GrowthEntry)
class GrowthEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "shop", "member", "kind", "value", "reason", "order_external_id"]
    list_filter = ["kind"]
    search_fields = ["=idempotency_key", "=order_external_id", "shop__slug"]
    list_select_related = ["shop", "member"]
    show_full_result_count = False
