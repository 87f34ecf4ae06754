"""The overview's notice of endpoints turned off (SPEC 17: the owners are told on the dashboard, besides the email),
for those who manage webhooks."""

from shops.models import Shop
from shops.roles import Perm

from .selectors import endpoints_disabled


def section(*, shop: Shop, perms: frozenset[str]) -> dict | None:
    if Perm.WEBHOOKS_MANAGE not in perms:
        return None
    disabled = endpoints_disabled(shop=shop)
    if not disabled:
        return None
    return {"template": "webhooks/home_notice.html", "context": {"endpoints": disabled}, "stylesheet": ""}
