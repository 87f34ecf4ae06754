"""What the campaign editor shows beside the form: the placeholders to insert, the text rendered for a sample member
as the SMS will be sent (signature first, opt-out line last) with its length and billed parts, and the settings
static/campaigns/editor.js needs to redo the same as the merchant types (keep the two in step: the script mirrors
campaigns.rules.sms_compose and sms_parts)."""

from django.urls import reverse
from django.utils.translation import gettext as _

from shops.models import Shop

from ..errors import MissingSignature
from ..models import Campaign
from ..rules import GSM_BASIC, GSM_EXTENSION, OPT_OUT_LINES, PART_SIZES, PLACEHOLDERS, render, sms_compose, sms_parts
from ..selectors import messaging_settings_get
from ..services import sample_values

PLACEHOLDER_ORDER = ("name", "shop", "tier", "points_balance", "points_expiring", "coupon", "link")
assert set(PLACEHOLDER_ORDER) == PLACEHOLDERS


def placeholder_labels() -> dict[str, str]:
    return {
        "name": _("Member's name"),
        "shop": _("Shop name"),
        "tier": _("Member's tier"),
        "points_balance": _("Points balance"),
        "points_expiring": _("Points expiring soon"),
        "coupon": _("Code of the attached coupon"),
        "link": _("Tracked link"),
    }


def counter_text(length) -> str:
    return _("%(chars)s characters · %(parts)s billed part(s) · %(encoding)s") % {
        "chars": length.chars,
        "parts": length.parts,
        "encoding": length.encoding,
    }


def sms_preview(*, shop: Shop, text: str) -> dict:
    """The text as a sample member gets it by SMS, and its length as billed."""
    signature = messaging_settings_get(shop=shop).signature or shop.name
    body = render(text, sample_values(shop=shop))
    try:
        composed = sms_compose(body, signature=signature, locale=shop.locale)
    except MissingSignature:
        composed = body
    length = sms_parts(composed)
    return {"text": composed, "length": length, "counter": counter_text(length), "signature": signature}


def editor_context(*, shop: Shop, text: str, campaign: Campaign | None) -> dict:
    preview = sms_preview(shop=shop, text=text)
    labels = placeholder_labels()
    config = {
        "previewUrl": reverse("dashboard:campaign_preview", args=[shop.slug]),
        "campaign": campaign.pk if campaign else None,
        "sample": sample_values(shop=shop),
        "signature": preview["signature"].replace("【", "").replace("】", "").strip(),
        "optOut": OPT_OUT_LINES["zh" if shop.locale.lower().startswith("zh") else "en"],
        "optOutLines": list(OPT_OUT_LINES.values()),
        "gsmBasic": "".join(sorted(GSM_BASIC)),
        "gsmExtension": "".join(sorted(GSM_EXTENSION)),
        "partSizes": PART_SIZES,
        "counter": _("%(chars)s characters · %(parts)s billed part(s) · %(encoding)s"),
        "counting": _("Counting…"),
        "queuedText": _("%(queued)s of %(audience)s members would get it."),
        "suppressedHeading": _("Not sent, and why"),
        "noneSuppressed": _("Nobody would be left out."),
    }
    return {
        "placeholders": [(name, labels[name]) for name in PLACEHOLDER_ORDER],
        "sms": preview,
        "editor_config": config,
    }
