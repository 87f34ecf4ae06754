"""Demo recruitment for `manage.py seed_demo`: channels of several kinds with a welcome gift, a month of daily
figures, a referral program, and shoppers who joined through the channels and through referral links (through
the services, so gifts, counts and rewards are what production would hold)."""

import datetime
import random

from django.utils import timezone

from coupons.selectors import template_list
from members.demo import demo_enrolment
from members.selectors import member_search
from members.services import member_enroll
from members.tags import tag_list
from shops.models import Shop
from shops.services import SYSTEM
from shops.time import local_today

from .channels import ChannelInput, channel_create
from .models import ChannelDay, ChannelKind, ReferralProgram
from .referrals import referral_code_for, referral_program_save
from .selectors import channel_list

CHANNELS = [
    ChannelInput(
        name="门店收银台二维码",
        kind="counter",
        headline="扫码入会 立享好礼",
        benefits="入会即送 200 积分\n新人无门槛 10 元券",
        welcome_points=200,
    ),
    ChannelInput(name="小红书分享链接", kind="link", headline="会员专享 新人有礼", welcome_points=100),
    ChannelInput(
        name="秋季新品海报",
        kind="poster",
        headline="秋季新品 会员先享",
        benefits="会员购新品 9 折\n积分翻倍一周",
        welcome_points=300,
    ),
]


def seed_recruitment(*, shop: Shop, rng: random.Random, members: int) -> str:
    if channel_list(shop=shop).exclude(kind=ChannelKind.PURCHASE).exists():
        return "recruitment: kept"
    gift = [t.pk for t in template_list(shop=shop) if t.audience == "new_members"][:1]
    tags = [t.pk for t in tag_list(shop=shop) if t.name == "店员推荐"]
    channels = []
    for i, data in enumerate(CHANNELS):
        data.welcome_coupon_ids = gift if i == 0 else []
        data.tag_ids = tags if i == 0 else []
        channels.append(channel_create(shop=shop, actor=SYSTEM, data=data))
    today = local_today(shop)
    ChannelDay.objects.bulk_create(
        [
            ChannelDay(
                shop=shop,
                channel=channel,
                day=today - datetime.timedelta(days=d),
                visits=(v := rng.randint(20, 160) // (i + 1)),
                visitors=int(v * 0.8),
                joins=0,
            )
            for i, channel in enumerate(channels)
            for d in range(1, 31)
        ]
    )
    referral_program_save(
        shop=shop,
        actor=SYSTEM,
        program=ReferralProgram(shop=shop, enabled=True, inviter_points=300, invitee_points=100, inviter_cap=10),
    )
    inviters = list(member_search(shop=shop).order_by("-lifetime_spend")[:5])
    now = timezone.now()
    joined = 0
    for n in range(max(members // 50, 10)):
        enrolment = demo_enrolment(rng, now)
        enrolment.joined_at = None
        enrolment.channel = rng.choice(channels).code
        if inviters and rng.random() < 0.4:
            enrolment.referrer_code = referral_code_for(shop=shop, member=rng.choice(inviters))
            enrolment.ip = f"198.51.100.{n % 250}"
        joined += member_enroll(shop=shop, data=enrolment, source="demo")[1]
    return f"recruitment: {len(channels)} channels, {joined} joins"
