"""Operations views of members (read-mostly): support looks a member up across shops; changes to personal data go
through the dashboard's audited services."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import ConsentChange, Device, ImportJob, Member, Segment, Tag


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "name", "status", "join_channel", "order_count", "lifetime_spend", "joined_at"]
    list_filter = ["status", "gender", "join_channel"]
    search_fields = ["=phone", "=external_id", "name", "shop__slug"]
    show_full_result_count = False  # COUNT(*) over millions of members on every page is not worth it
    list_select_related = ["shop"]


@admin.register(ConsentChange)
class ConsentChangeAdmin(ReadOnlyAdmin):
    list_display = ["member", "shop", "channel", "granted", "source", "changed_at"]
    list_filter = ["channel", "granted", "source"]
    search_fields = ["=member__phone", "shop__slug"]
    show_full_result_count = False


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ["member", "shop", "platform", "created_at", "last_seen_at", "is_active"]
    list_filter = ["platform", "is_active"]
    search_fields = ["=member__phone", "shop__slug"]  # never the token: a push address is not looked up by hand
    show_full_result_count = False
    list_select_related = ["shop", "member"]


@admin.register(Tag)
class TagAdmin(ReadOnlyAdmin):
    list_display = ["name", "shop", "kind", "member_count", "refreshed_at"]
    list_filter = ["kind"]
    search_fields = ["name", "shop__slug"]


@admin.register(Segment)
class SegmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "shop", "last_count", "counted_at", "updated_at"]
    search_fields = ["name", "shop__slug"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "shop", "kind", "status", "processed_rows", "error_rows", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["original_name", "shop__slug"]
