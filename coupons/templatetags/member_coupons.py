"""The member's coupons section on the profile: members renders `{% member_coupons_card member %}` from its
template (as it does the tier card), so the profile shows the member's coupons and the grant button without members
importing coupons."""

from django import template

from ..views.grants import member_coupons_section

register = template.Library()


@register.inclusion_tag("coupons/_member_coupons.html", takes_context=True)
def member_coupons_card(context, member):
    shop, perms = context["shop"], context["perms"]
    return {
        "shop": shop,
        "perms": perms,
        "member": member,
        **member_coupons_section(shop=shop, member=member, perms=perms),
    }
