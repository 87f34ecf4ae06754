"""Operations views of orders: read-only, since orders are facts from the merchants' systems."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import Order, OrderItem, Refund


class ItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    can_delete = False
    fields = ["sku", "name", "category", "quantity", "unit_price"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["external_id", "amount", "refunded_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "shop", "member", "amount", "refunded_amount", "status", "paid_at"]
    list_filter = ["status"]
    search_fields = ["=external_id", "shop__slug"]
    list_select_related = ["shop", "member"]
    show_full_result_count = False
    inlines = [ItemInline, RefundInline]
    exclude = ["body_hash"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "shop", "order", "amount", "refunded_at"]
    search_fields = ["=external_id", "=order__external_id", "shop__slug"]
    list_select_related = ["shop", "order"]
    exclude = ["body_hash"]
