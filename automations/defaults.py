"""The usual automations (SPEC 13), given to every shop switched off, in the shop's language: a new shop through
SHOP_DEFAULTS, existing shops by a data migration (which passes its historical models). The merchant edits the
texts and switches on what they want. Each default is made once per shop (its key)."""

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

# (key, name, trigger, days, order stage, re-entry, channel, text, [extra steps before the message])
DEFAULTS = [
    ("welcome", gettext_noop("Welcome"), "joined", 0, "", "once", "sms",
     gettext_noop("{name}, welcome to {shop}! Your member benefits are ready in the member centre: {link}"), []),
    ("tier_up", gettext_noop("Tier upgrade"), "tier_up", 0, "", "every", "sms",
     gettext_noop("Congratulations {name}, you are now {tier}! Your upgrade gift {gift} is in your coupons."), []),
    ("birthday", gettext_noop("Birthday gift"), "birthday", 3, "", "every", "sms",
     gettext_noop("Happy birthday for {date}, {name}! Your birthday gift {gift} is in your coupons."),
     ["birthday_gift"]),
    ("points_expiring", gettext_noop("Points expiring"), "points_expiring", 7, "", "every", "sms",
     gettext_noop("{name}, {points_expiring} of your points expire on {date}. Use them before they go: {link}"), []),
    ("coupons_expiring", gettext_noop("Coupon expiring"), "coupons_expiring", 3, "", "every", "sms",
     gettext_noop("{name}, your coupon {coupon} expires on {date}. Don't miss it!"), []),
    ("win_back", gettext_noop("We miss you"), "win_back", 60, "", "period", "sms",
     gettext_noop("{name}, we miss you at {shop}! Come back and see what's new: {link}"), []),
    ("churn_risk", gettext_noop("At risk of leaving"), "churn_risk", 0, "", "period", "sms",
     gettext_noop("{name}, it's been a while! Here is something to welcome you back to {shop}: {link}"), []),
    ("replenishment", gettext_noop("Time to stock up"), "replenishment", 3, "", "every", "sms",
     gettext_noop("{name}, running low on {item}? It's about time for your next one."), []),
    ("order_recorded", gettext_noop("Order received"), "order_care", 0, "recorded", "every", "sms",
     gettext_noop("We have received your order {order}. Thank you!"), []),
    ("order_shipped", gettext_noop("Order shipped"), "order_care", 0, "shipped", "every", "sms",
     gettext_noop("Your order {order} is on its way."), []),
    ("order_delivered", gettext_noop("Order delivered"), "order_care", 0, "delivered", "every", "sms",
     gettext_noop("Your order {order} has been delivered. Enjoy!"), []),
    ("order_completed", gettext_noop("Order completed"), "order_care", 0, "completed", "every", "sms",
     gettext_noop("Your order {order} is complete. Thank you for shopping with {shop}."), []),
    ("order_refunded", gettext_noop("Order refunded"), "order_care", 0, "refunded", "every", "sms",
     gettext_noop("A refund for your order {order} has been made."), []),
    ("survey", gettext_noop("Satisfaction survey"), "survey", 0, "", "every", "in_app",
     gettext_noop("How was your order {order}? Tell us in one tap: {link}"), ["wait_day"]),
]  # fmt: skip
SURVEY_LINK = "/m/{slug}/survey/{{token}}/"


def defaults_install(*, shop, Automation, Step, Campaign) -> int:  # noqa: N803 - model classes, real or historical
    """Create the shop's missing default automations, switched off. Returns how many were made."""
    have = set(Automation.objects.filter(shop=shop).exclude(key="").values_list("key", flat=True))
    made = 0
    now = timezone.now()
    with translation.override(shop.locale):
        for key, name, trigger, days, stage, reentry, channel, text, extra in DEFAULTS:
            if key in have:
                continue
            automation = Automation.objects.create(
                shop=shop, key=key, name=_(name), trigger=trigger, days=days, order_stage=stage, reentry=reentry,
                reentry_days=90 if reentry == "period" else 30,
            )  # fmt: skip
            position = 0
            for step in extra:
                if step == "birthday_gift":
                    Step.objects.create(
                        shop=shop, automation=automation, position=position, kind="reward", tier_birthday_gift=True
                    )
                elif step == "wait_day":  # the day after completion, in the afternoon
                    Step.objects.create(
                        shop=shop, automation=automation, position=position, kind="wait", wait_days=1, wait_hour=15
                    )
                position += 1
            link = SURVEY_LINK.format(slug=shop.slug) if trigger == "survey" else f"/m/{shop.slug}/me/"
            campaign = Campaign.objects.create(
                shop=shop, name=f"{_(name)} · {position + 1}", channel=channel, text=_(text),
                link_url=link if "{link}" in text else "", holdout_percent=0, status="sending", standing=True,
                transactional=trigger == "order_care", snapshot_done=True, started_at=now,
            )  # fmt: skip
            Step.objects.create(shop=shop, automation=automation, position=position, kind="message", campaign=campaign)
            made += 1
    return made


def create_defaults(*, shop) -> None:
    """SHOP_DEFAULTS: a new shop's automations."""
    from campaigns.models import Campaign
    from shops.tenancy import shop_scope

    from .models import Automation, Step

    with shop_scope(shop):  # called from shop_create, outside any scope
        defaults_install(shop=shop, Automation=Automation, Step=Step, Campaign=Campaign)
