"""Dashboard forms of the points mall: a gift of the catalogue, the queue's status filter and the fulfilment actions.
They parse what staff type; coupons.mall checks the rules and says what is wrong."""

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import MAX_POINTS
from shops.forms import Form

from ..mall import GIFT_FIELDS
from ..models import Fulfilment

QUEUE_STATUSES = [(s, label) for s, label in Fulfilment.choices if s != Fulfilment.DONE]


class GiftForm(Form):
    name = forms.CharField(label=_("Name"), max_length=60, help_text=_("Shown to members in the points mall."))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    points_price = forms.IntegerField(label=_("Points price"), min_value=1, max_value=MAX_POINTS)
    stock = forms.IntegerField(
        label=_("Stock"),
        min_value=0,
        max_value=10**9,
        required=False,
        help_text=_("How many can be exchanged in all, those already exchanged included. Empty: unlimited."),
    )
    active = forms.BooleanField(label=_("Offered in the points mall"), required=False, initial=True)

    @classmethod
    def initial_for(cls, gift) -> dict:
        return {name: getattr(gift, name) for name in GIFT_FIELDS}


class QueueFilterForm(Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *QUEUE_STATUSES], initial=Fulfilment.PENDING
    )


class ShipForm(Form):
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=64)


class CancelForm(Form):
    reason = forms.CharField(label=_("Reason"), max_length=150, required=False)
