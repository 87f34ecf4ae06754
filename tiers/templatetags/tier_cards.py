"""The member's tier card on the profile: members renders `{% member_tier_card member %}` from its template, so
the profile shows the tier, the progress and the assignment form without members importing tiers."""

from django import template

from ..views import member_tier_card as card_context

register = template.Library()


@register.inclusion_tag("tiers/_member_card.html", takes_context=True)
def member_tier_card(context, member):
    shop, perms = context["shop"], context["perms"]
    return {
        "shop": shop,
        "perms": perms,
        "member": member,
        "csrf_token": context.get("csrf_token"),
        "history_link": True,
        **card_context(shop=shop, member=member, perms=perms),
    }
