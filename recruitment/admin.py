"""Operations views of recruitment across shops (AdminScopesDisabledMiddleware lifts the shop scope for /admin/).

Channels are read here and can be paused or resumed (audited, through recruitment.channels); merchants edit them in
the dashboard, where their coupons and tags are chosen among the shop's own. A shop's referral rules can be
corrected here, saved and audited through recruitment.referrals; their coupons stay read-only, since the choices
would be every shop's templates. Daily figures, referrals and referral codes are history and read-only."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from shops.admin import ReadOnlyAdmin
from shops.services import Actor

from .channels import channel_set_active
from .models import Channel, ChannelDay, Referral, ReferralCode, ReferralCodeRoute, ReferralProgram
from .referrals import referral_program_save


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ["name", "shop", "kind", "code", "is_active", "valid_from", "valid_until", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "=code", "shop__slug"]
    list_select_related = ["shop"]
    show_full_result_count = False
    actions = ["pause", "resume"]

    @admin.action(description=_("Pause the selected channels"))
    def pause(self, request, queryset):
        count = self._set_active(request, queryset, active=False)
        self.message_user(
            request,
            ngettext("%(count)d channel paused.", "%(count)d channels paused.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Resume the selected channels"))
    def resume(self, request, queryset):
        count = self._set_active(request, queryset, active=True)
        self.message_user(
            request,
            ngettext("%(count)d channel resumed.", "%(count)d channels resumed.", count) % {"count": count},
            messages.SUCCESS,
        )

    def _set_active(self, request, queryset, *, active: bool) -> int:
        channels = list(queryset.select_related("shop"))
        for channel in channels:  # a handful picked by hand: each gets its audit entry in its shop
            channel_set_active(shop=channel.shop, actor=Actor.for_user(request.user), channel=channel, active=active)
        return len(channels)


@admin.register(ChannelDay)
class ChannelDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "shop", "channel", "visits", "visitors", "joins"]
    search_fields = ["=channel__code", "shop__slug"]
    list_select_related = ["shop", "channel"]
    date_hierarchy = "day"
    show_full_result_count = False


@admin.register(ReferralProgram)
class ReferralProgramAdmin(admin.ModelAdmin):
    list_display = [
        "shop",
        "enabled",
        "trigger",
        "inviter_points",
        "invitee_points",
        "inviter_cap",
        "cap_period",
        "ip_daily_limit",
        "updated_at",
    ]
    list_filter = ["enabled", "trigger"]
    search_fields = ["shop__slug", "shop__name"]
    list_select_related = ["shop"]
    readonly_fields = ["shop", "inviter_coupon", "invitee_coupon", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        referral_program_save(shop=obj.shop, actor=Actor.for_user(request.user), program=obj)


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "shop", "inviter", "invitee", "status", "refusal", "rewarded_at"]
    list_filter = ["status", "refusal"]
    search_fields = ["shop__slug", "=inviter__phone", "=invitee__phone"]
    list_select_related = ["shop", "inviter", "invitee"]
    exclude = ["invitee_phone_hash"]
    show_full_result_count = False


@admin.register(ReferralCode)
class ReferralCodeAdmin(ReadOnlyAdmin):
    list_display = ["code", "shop", "member"]
    search_fields = ["=code", "shop__slug"]
    list_select_related = ["shop", "member"]
    show_full_result_count = False


@admin.register(ReferralCodeRoute)
class ReferralCodeRouteAdmin(ReadOnlyAdmin):
    """Which shop each referral code belongs to (shops.distribution): read-only, written with the code."""

    list_display = ["code", "shop"]
    search_fields = ["=code", "shop__slug"]
    list_select_related = ["shop"]
    show_full_result_count = False
