"""Reads of the tenancy platform. Each takes `shop=` except the resolvers, which find the shop."""

from django.db.models import QuerySet

from .bulk import models_select
from .extensions import audit_action_label
from .models import ApiKey, AuditLogEntry, Invitation, Shop, StaffMembership, User
from .tenancy import all_shops


def memberships_of_user(*, user: User) -> list[StaffMembership]:
    """The shops a person works for, with their role in each."""
    # Cross-shop by nature: this is how the dashboard learns which shops the user may enter.
    with all_shops():
        return list(StaffMembership.objects.filter(user=user).select_related("shop").order_by("shop__name"))


def membership_for_slug(*, user: User, shop_slug: str) -> StaffMembership:
    """The user's membership of the shop `shop_slug`. Raises StaffMembership.DoesNotExist for a shop that does
    not exist and for one the user does not work for alike."""
    # Cross-shop by nature: resolving the shop of a dashboard request.
    with all_shops():
        return StaffMembership.objects.select_related("shop").get(user=user, shop__slug=shop_slug)


def shop_by_slug(*, slug: str) -> Shop:
    """Raises Shop.DoesNotExist. Shops are the tenants themselves, so this needs no scope. Written out
    (shops.bulk.models_select): every dashboard and shopper page reads its shop by slug first."""
    found = models_select(Shop, "slug = %s", [slug])  # tenant-ok: the shop itself, found by its slug
    if not found:
        raise Shop.DoesNotExist
    return found[0]


def shop_by_id(*, pk: int) -> Shop:
    """Raises Shop.DoesNotExist. For an id the shop signed itself (a campaign's tracked link); like shop_by_slug,
    the shop needs no scope."""
    return Shop.objects.get(pk=pk)


def shop_ids_active() -> list[int]:
    """Every active shop: for the nightly fan-out of per-shop tasks (cross-shop by nature)."""
    return list(Shop.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def staff_list(*, shop: Shop) -> QuerySet[StaffMembership]:
    return StaffMembership.objects.filter(shop=shop).select_related("user").order_by("pk")


def staff_get(*, shop: Shop, pk: int) -> StaffMembership:
    return StaffMembership.objects.select_related("user").get(shop=shop, pk=pk)


def invitation_open_list(*, shop: Shop) -> QuerySet[Invitation]:
    return Invitation.objects.filter(shop=shop, accepted_at=None, cancelled_at=None).order_by("-pk")


def invitation_get(*, shop: Shop, pk: int) -> Invitation:
    return Invitation.objects.get(shop=shop, pk=pk)


def apikey_list(*, shop: Shop) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(shop=shop).select_related("created_by").order_by("-pk")


def apikey_get(*, shop: Shop, pk: int) -> ApiKey:
    return ApiKey.objects.get(shop=shop, pk=pk)


def audit_list(*, shop: Shop, action: str = "") -> QuerySet[AuditLogEntry]:
    qs = AuditLogEntry.objects.filter(shop=shop).order_by("-created_at", "-pk")
    if action:
        qs = qs.filter(action__startswith=action)
    return qs


def audit_actions(*, shop: Shop) -> list[tuple[str, str]]:
    """The action codes this shop's log holds, with their labels, for the filter."""
    codes = AuditLogEntry.objects.filter(shop=shop).values_list("action", flat=True).distinct().order_by("action")
    return [(code, audit_action_label(code)) for code in codes]
