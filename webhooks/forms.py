from django import forms
from django.utils.translation import gettext_lazy as _

from events.types import EventType
from shops.forms import Form


class EndpointForm(Form):
    url = forms.CharField(label=_("URL"), max_length=500, help_text=_("https://, reachable from the internet."))
    description = forms.CharField(label=_("Description"), max_length=100, required=False)
    events = forms.MultipleChoiceField(
        label=_("Event types"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )


class ReplayForm(Form):
    start = forms.DateTimeField(label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(label=_("To"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
