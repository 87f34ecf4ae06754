"""System checks of the shops app; importing this module registers them."""

from django.core import checks

from .extensions import POINTS
from .registry import extension_errors


@checks.register("extensions")
def extensions_check(app_configs, **kwargs):
    """shops.E100-E105: every extension point of the catalogue (shops.extensions) has the implementations it needs,
    each matching its contract (shops.registry)."""
    return extension_errors(POINTS)
