from rest_framework import exceptions, permissions

from shops.models import ApiKey

from .throttling import bad_key_refusal


class ShopFrozen(exceptions.PermissionDenied):
    default_detail = "This shop has been frozen. Contact support."
    default_code = "shop_frozen"


class HasShopApiKey(permissions.BasePermission):
    """A valid key of an active shop. Without a key DRF answers 401 (the authenticator sends WWW-Authenticate), or
    429 once the address has sent too many requests without a valid key (bad_key_refusal)."""

    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiKey):
            raise bad_key_refusal(request) or exceptions.NotAuthenticated(
                "Send your API key as `Authorization: Bearer <api key>`."
            )
        shop_active_check(request.auth)
        return True


def shop_active_check(api_key: ApiKey) -> None:
    """Raises ShopFrozen when the key's shop is frozen: its key still authenticates, but every call is 403."""
    if not api_key.shop.is_active:
        raise ShopFrozen()
