import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django_scopes import scopes_disabled

from coupons.models import CouponTemplate
from members.models import Member, Tag
from shops.models import Shop

from .models import (
    Channel,
    ChannelKind,
    ChannelTag,
    Referral,
    ReferralCode,
    ReferralCodeRoute,
    ReferralProgram,
    ReferralStatus,
    WelcomeCoupon,
)


def channel_list(*, shop: Shop) -> QuerySet[Channel]:
    return Channel.objects.filter(shop=shop)


def channel_get(*, shop: Shop, pk: int) -> Channel:
    return Channel.objects.get(shop=shop, pk=pk)


def channel_by_code(*, code: str) -> Channel:
    """The channel of a public address /j/<code>/, whatever its shop (codes are unique across shops), with its
    shop loaded. Raises Channel.DoesNotExist; the join-on-purchase channel has no public page."""
    with scopes_disabled():  # cross-shop by nature: the address alone names the shop
        return (
            Channel.objects.select_related("shop")
            .exclude(kind=ChannelKind.PURCHASE)
            .get(code=str(code).strip().upper(), shop__is_active=True)
        )


def channel_open(channel: Channel, now: datetime.datetime | None = None) -> bool:
    """Whether shoppers can join through the channel now: active and inside its window."""
    now = now or timezone.now()
    return (
        channel.is_active
        and (channel.valid_from is None or channel.valid_from <= now)
        and (channel.valid_until is None or now < channel.valid_until)
    )


def channel_welcome_templates(*, shop: Shop, channel: Channel) -> list[CouponTemplate]:
    ids = WelcomeCoupon.objects.filter(shop=shop, channel=channel).values("template_id")
    return list(CouponTemplate.objects.filter(shop=shop, pk__in=ids).order_by("pk"))


def channel_tags(*, shop: Shop, channel: Channel) -> list[Tag]:
    ids = ChannelTag.objects.filter(shop=shop, channel=channel).values("tag_id")
    return list(Tag.objects.filter(shop=shop, pk__in=ids).order_by("name"))


def channel_links(*, shop: Shop, channel_ids: list[int]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Each channel's welcome coupon template ids and tag ids, in two queries."""
    coupons, tags = {c: [] for c in channel_ids}, {c: [] for c in channel_ids}
    for channel_id, template_id in WelcomeCoupon.objects.filter(shop=shop, channel_id__in=channel_ids).values_list(
        "channel_id", "template_id"
    ):
        coupons[channel_id].append(template_id)
    for channel_id, tag_id in ChannelTag.objects.filter(shop=shop, channel_id__in=channel_ids).values_list(
        "channel_id", "tag_id"
    ):
        tags[channel_id].append(tag_id)
    return coupons, tags


def channel_of_join(*, shop: Shop, join_channel: str) -> Channel | None:
    """The channel a member's join_channel names (its code), if it is one of the shop's channels."""
    if not join_channel:
        return None
    if join_channel == ChannelKind.PURCHASE:  # set by members.services.members_for_orders
        return Channel.objects.filter(shop=shop, kind=ChannelKind.PURCHASE).first()
    return Channel.objects.filter(shop=shop, code=join_channel.strip().upper()).first()


def referral_program_of(*, shop: Shop) -> ReferralProgram:
    """The shop's referral rules (an unsaved disabled program when the shop has set none)."""
    return ReferralProgram.objects.filter(shop=shop).first() or ReferralProgram(shop=shop)


def referrer_by_code(*, shop: Shop, code: str) -> Member | None:
    """The live member whose referral code this is, in this shop."""
    found = ReferralCode.objects.filter(shop=shop, code=str(code).strip().upper()).values("member_id").first()
    if not found:
        return None
    return Member.objects.filter(shop=shop, pk=found["member_id"]).exclude(status="erased").first()


def referral_code_owner(*, code: str) -> ReferralCode:
    """The referral code of a public address /r/<code>/, whatever its shop. Raises ReferralCode.DoesNotExist."""
    code = str(code).strip().upper()
    with scopes_disabled():  # cross-shop by nature: the address alone names the shop, through the code's route
        route = ReferralCodeRoute.objects.select_related("shop").get(code=code, shop__is_active=True)
        found = ReferralCode.objects.get(shop=route.shop, code=code)
    found.shop = route.shop
    return found


def referral_leaderboard(*, shop: Shop, since: datetime.datetime | None = None, limit: int = 50) -> list[dict]:
    """Inviters by rewarded referrals (then by all referrals), with their names: [{member, rewarded, invited}]."""
    referrals = Referral.objects.filter(shop=shop)
    if since:
        referrals = referrals.filter(created_at__gte=since)
    rows = list(
        referrals.values("inviter_id")
        .annotate(invited=Count("pk"), rewarded=Count("pk", filter=Q(status=ReferralStatus.REWARDED)))
        .order_by("-rewarded", "-invited", "inviter_id")[:limit]
    )
    members = Member.objects.filter(shop=shop).in_bulk([r["inviter_id"] for r in rows])
    return [{"member": members[r["inviter_id"]], "rewarded": r["rewarded"], "invited": r["invited"]} for r in rows]


def referrals_of_inviter(*, shop: Shop, member: Member) -> dict:
    """What a member's invitations came to: {invited, rewarded, pending}."""
    counts = dict(
        Referral.objects.filter(shop=shop, inviter=member).values_list("status").annotate(n=Count("pk")).order_by()
    )
    return {
        "invited": sum(counts.values()),
        "rewarded": counts.get(ReferralStatus.REWARDED, 0),
        "pending": counts.get(ReferralStatus.PENDING, 0),
    }
