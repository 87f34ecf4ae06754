"""Operations views of the analytics rollups across shops (AdminScopesDisabledMiddleware lifts the shop scope for
/admin/): read-only, since the rollups are recomputed from the facts (`analytics_backfill`), never edited. Where a
shop's daily pass stands and which days wait to be redone are what an operator looks at first."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import DirtyDay, RollupState, SalesDay


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyAdmin):
    list_display = ["shop", "rolled_through", "updated_at"]
    search_fields = ["shop__slug"]
    list_select_related = ["shop"]


@admin.register(DirtyDay)
class DirtyDayAdmin(ReadOnlyAdmin):
    list_display = ["shop", "day"]
    search_fields = ["shop__slug"]
    list_select_related = ["shop"]


@admin.register(SalesDay)
class SalesDayAdmin(ReadOnlyAdmin):
    list_display = ["shop", "day", "orders", "sales", "member_orders", "member_sales", "coupon_orders"]
    list_filter = ["day"]
    search_fields = ["shop__slug"]
    list_select_related = ["shop"]
    show_full_result_count = False
