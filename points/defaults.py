"""The default points rules of a new shop (SPEC 3): one point per whole yuan paid, available at once, valid until
the end of the following calendar year; that is the model's field defaults. Registered for the extension point
SHOP_DEFAULTS (points.apps)."""

from shops.models import Shop


def create_defaults(*, shop: Shop, program_model=None) -> None:
    from .models import PointsProgram

    (program_model or PointsProgram).objects.create(shop_id=shop.pk)
