"""Operations staff see the event stream and how far each consumer has read it (a consumer stuck behind its
shop's head is what to look at first when automations or webhooks go quiet). Read-only: events are facts."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import Cursor, Event, Stream


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "shop", "type", "member_id", "seq"]
    list_filter = ["type"]
    search_fields = ["=shop__slug", "=member_id", "=id"]
    list_select_related = ["shop"]
    show_full_result_count = False  # a count of millions of rows on every page is the slowest part of the page


@admin.register(Stream)
class StreamAdmin(ReadOnlyAdmin):
    list_display = ["shop", "head"]
    search_fields = ["=shop__slug"]


@admin.register(Cursor)
class CursorAdmin(ReadOnlyAdmin):
    list_display = ["shop", "consumer", "position", "updated_at"]
    list_filter = ["consumer"]
    search_fields = ["=shop__slug"]
