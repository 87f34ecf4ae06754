"""Operations staff look across shops here; AdminScopesDisabledMiddleware lifts the shop scope for /admin/."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import ApiKey, AuditLogEntry, Invitation, Shop, StaffMembership, User
from .services import Actor, apikey_revoke, shop_set_active


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StaffInline(admin.TabularInline):
    """Read-only: staff changes go through the dashboard's services, which keep every shop an owner and audit."""

    model = StaffMembership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "time_zone", "is_active", "created_at"]
    list_filter = ["is_active", "currency"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]
    inlines = [StaffInline]
    actions = ["freeze", "unfreeze"]

    @admin.action(description=_("Freeze the selected shops"))
    def freeze(self, request, queryset):
        count = self._set_active(request, queryset, active=False)
        message = ngettext("%(count)d shop frozen.", "%(count)d shops frozen.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Unfreeze the selected shops"))
    def unfreeze(self, request, queryset):
        count = self._set_active(request, queryset, active=True)
        message = ngettext("%(count)d shop unfrozen.", "%(count)d shops unfrozen.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    def _set_active(self, request, queryset, *, active: bool) -> int:
        shops = list(queryset)
        for shop in shops:  # a handful of shops picked by hand: each gets its audit entry
            shop_set_active(shop=shop, actor=Actor.for_user(request.user), active=active)
        return len(shops)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]})]


@admin.register(StaffMembership)
class StaffMembershipAdmin(ReadOnlyAdmin):
    """Read-only for the reason StaffInline gives."""

    list_display = ["user", "shop", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "shop__name", "shop__slug"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "shop", "role", "created_at", "expires_at", "accepted_at", "cancelled_at"]
    search_fields = ["email", "shop__slug"]
    exclude = ["token_hash"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created in the dashboard or with `create_api_key` (the secret is shown once there); operations
    staff may only look and revoke."""

    list_display = ["name", "prefix", "shop", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "shop__slug", "shop__name"]
    exclude = ["key_hash"]
    readonly_fields = ["shop", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at=None).select_related("shop"))
        for api_key in keys:
            apikey_revoke(shop=api_key.shop, actor=Actor.for_user(request.user), api_key=api_key)
        count = len(keys)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "shop", "actor_label", "action", "object_repr"]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "object_repr", "shop__slug"]
    date_hierarchy = "created_at"
