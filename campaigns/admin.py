"""Operations views of campaigns across shops (AdminScopesDisabledMiddleware lifts the shop scope for /admin/).

Read-only: a campaign's lifecycle and its message rows change only through the services (the send path keeps
"exactly once"); the shop's messaging settings can be corrected here."""

from django.contrib import admin

from shops.admin import ReadOnlyAdmin

from .models import Campaign, ContactCount, Message, MessagingSettings


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["name", "shop", "channel", "status", "created_at", "started_at", "finished_at"]
    list_filter = ["channel", "status"]
    search_fields = ["name", "shop__slug"]
    list_select_related = ["shop"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "campaign", "member_id", "channel", "status", "reason", "due_at", "sent_at"]
    list_filter = ["channel", "status", "reason"]
    search_fields = ["campaign__name"]
    list_select_related = ["shop", "campaign"]
    show_full_result_count = False  # millions of rows: no COUNT(*) per page


@admin.register(MessagingSettings)
class MessagingSettingsAdmin(admin.ModelAdmin):
    list_display = ["shop", "signature", "quiet_start", "quiet_end", "daily_cap", "weekly_cap", "fallback_hour"]
    search_fields = ["shop__slug"]
    list_select_related = ["shop"]


@admin.register(ContactCount)
class ContactCountAdmin(ReadOnlyAdmin):
    list_display = ["shop", "member_id", "day", "count"]
    list_filter = ["day"]
    show_full_result_count = False
