"""A member's one timeline and their privacy data export, assembled from providers.

Members sits low in the dependency order and never imports the apps above it. Instead, each app that holds data
about members (orders, tiers, points, coupons, recruitment) registers a provider for the extension point
MEMBER_DATA (shops.extensions.MemberData), with two functions:

    timeline(*, shop, member, limit) -> list[TimelineEvent]   the member's latest events, newest first
    export(*, shop, member) -> dict                            everything it holds on the member, JSON-able

Every provider is read; nothing is filtered by role here (the views check permissions before calling).
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from shops.extensions import MEMBER_DATA, implementations
from shops.models import Shop

from .models import ConsentChannel, Member
from .selectors import member_consent_history, member_tag_list


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # "joined", "consent", "order", "refund", ... (a CSS hook and a filter key)
    title: str
    detail: str = ""
    url: str = ""


def _own_events(*, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]:
    channels = dict(ConsentChannel.choices)
    events = [TimelineEvent(at=member.joined_at, kind="joined", title=_("Joined"), detail=member.join_channel)]
    for change in member_consent_history(shop=shop, member=member)[:limit]:
        label = _("%(channel)s marketing allowed") if change.granted else _("%(channel)s marketing withdrawn")
        events.append(
            TimelineEvent(
                at=change.changed_at,
                kind="consent",
                title=label % {"channel": channels.get(change.channel, change.channel)},
                detail=change.source,
            )
        )
    return events


def member_timeline(*, shop: Shop, member: Member, limit: int = 50) -> list[TimelineEvent]:
    """The member's latest `limit` events from every provider and from members itself, newest first."""
    assert member.shop_id == shop.pk
    events = _own_events(shop=shop, member=member, limit=limit)
    for provider in implementations(MEMBER_DATA):
        events += provider.timeline(shop=shop, member=member, limit=limit)
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def member_data_export(*, shop: Shop, member: Member) -> dict:
    """Everything the shop holds on a member (PIPL/GDPR access request): the profile, consents and their history,
    tags, and each provider's export under its own keys."""
    assert member.shop_id == shop.pk
    data = {
        "member": {
            "id": member.pk,
            "phone": member.phone,
            "name": member.name,
            "gender": member.gender,
            "birthday_month": member.birthday_month,
            "birthday_day": member.birthday_day,
            "birth_year": member.birth_year,
            "region": member.region,
            "email": member.email,
            "external_id": member.external_id,
            "wechat_openid": member.wechat_openid,
            "status": member.status,
            "join_channel": member.join_channel,
            "referrer_id": member.referrer_id,
            "joined_at": member.joined_at,
            "consents": {"sms": member.consent_sms, "push": member.consent_push, "email": member.consent_email},
            "lifetime_spend": member.lifetime_spend,
            "order_count": member.order_count,
            "first_order_at": member.first_order_at,
            "last_order_at": member.last_order_at,
            "spend_12m": member.spend_12m,
            "orders_12m": member.orders_12m,
            "points_balance": member.points_balance,
            "points_pending": member.points_pending,
            "growth_value": member.growth_value,
        },
        "consent_changes": [
            {"channel": c.channel, "granted": c.granted, "source": c.source, "changed_at": c.changed_at}
            for c in member_consent_history(shop=shop, member=member)
        ],
        "tags": [tag.name for tag in member_tag_list(shop=shop, member=member)],
    }
    for provider in implementations(MEMBER_DATA):
        data.update(provider.export(shop=shop, member=member))
    return data
