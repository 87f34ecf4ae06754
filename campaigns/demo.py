"""Demo campaigns for `manage.py seed_demo`: one in-app campaign sent ten days ago to every member (so its report
shows a finished funnel and the holdout comparison over real demo orders), and a draft SMS campaign to the sleeping
members for the editor. Through the services; an in-app campaign needs no provider, so nothing is printed."""

import datetime
import random

from django.utils import timezone

from members.models import Tag
from shops.models import Shop
from shops.services import SYSTEM

from .models import Campaign
from .sending import send_batch
from .services import CampaignInput, campaign_create, campaign_finish_if_done, campaign_send
from .snapshot import snapshot_run

SENT = "会员日站内信"
DRAFT = "沉睡会员唤醒短信"


def seed_campaigns(*, shop: Shop, rng: random.Random, members: int) -> str:
    if Campaign.objects.filter(shop=shop, name=SENT).exists():
        return "campaigns: kept"
    campaign, _ = campaign_create(
        shop=shop,
        actor=SYSTEM,
        data=CampaignInput(
            name=SENT,
            channel="in_app",
            audience={"filter": {}},
            title="会员日快乐",
            text="{name}，本周会员日全场积分双倍，您有 {points_balance} 积分可用。",
            holdout_percent=10,
        ),
    )
    started = timezone.now() - datetime.timedelta(days=10)
    campaign = campaign_send(shop=shop, actor=SYSTEM, campaign=campaign, now=started)
    snapshot_run(shop=shop, campaign_id=campaign.pk)
    while send_batch(shop=shop, campaign=campaign, now=timezone.now()):
        pass
    campaign_finish_if_done(shop=shop, campaign_id=campaign.pk)
    sleeping = Tag.objects.filter(shop=shop, name="沉睡会员").first()
    if sleeping is not None:
        campaign_create(
            shop=shop,
            actor=SYSTEM,
            data=CampaignInput(
                name=DRAFT,
                channel="sms",
                audience={"tag": sleeping.pk},
                text="{name}，好久不见！回店出示会员码，咖啡第二杯半价。",
                holdout_percent=10,
            ),
        )
    return "campaigns: 1 sent (in-app), 1 draft (SMS)"
