"""Operations staff see endpoints (never their secrets), deliveries and attempts, read-only."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import Attempt, Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    list_display = ["shop", "url", "enabled", "disabled_reason", "failing_since", "created_at", "deleted_at"]
    list_filter = ["enabled", "disabled_reason"]
    search_fields = ["=shop__slug", "url"]
    exclude = ["secret", "previous_secret"]
    list_select_related = ["shop"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["shop", "endpoint_id", "event_type", "event_id", "status", "attempts", "next_attempt_at"]
    list_filter = ["status"]
    search_fields = ["=shop__slug", "=event_id"]
    list_select_related = ["shop"]
    show_full_result_count = False


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ["shop", "endpoint_id", "delivery_id", "attempted_at", "status_code", "duration_ms", "error"]
    search_fields = ["=shop__slug"]
    list_select_related = ["shop"]
    show_full_result_count = False
