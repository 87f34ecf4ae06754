"""The tier lookups that members' own pages, API and filters need, answered by the tiers app.

Member.tier points to tiers.Tier, but tiers sits above members (its models import Member), so members does not
import it, nor reach Tier through the model's metadata: tiers implements TierLookup in tiers.selectors and registers
it in TiersConfig.ready(), and members asks tier_lookup(). SPEC 9's catalogue of extension points is where this
contract belongs once that catalogue exists.
"""

from collections.abc import Iterable
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from shops.models import Shop


class TierLookup(Protocol):
    def tier_find(self, *, shop: Shop, name_or_id: str) -> Any:
        """A tier of the shop by id or exact name. Raises ObjectDoesNotExist (the tier model's DoesNotExist)."""
        ...

    def tier_base_of(self, *, shop: Shop) -> Any:
        """The tier members hold on joining (rank 0), which a NULL Member.tier means; None without a ladder."""
        ...

    def tiers_of_shop(self, *, shop: Shop) -> Iterable[Any]:
        """The shop's ladder by rank, tiers retired from it left out."""
        ...


_registered: TierLookup | None = None


def tier_lookup_register(lookup: TierLookup) -> None:
    """Called once, by the tiers app when it is ready."""
    global _registered
    _registered = lookup


def tier_lookup() -> TierLookup:
    if _registered is None:
        raise ImproperlyConfigured("No tier lookup is registered: the tiers app registers one in its ready().")
    return _registered
