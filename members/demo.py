"""Demo members and tags for `manage.py seed_demo`: realistic Chinese names, regions, birthdays and consents."""

import random
from datetime import timedelta

from django.utils import timezone

from shops.models import Shop
from shops.services import SYSTEM

from .models import Gender
from .selectors import member_search
from .services import Enrolment, members_bulk_enroll
from .tags import tag_create, tag_list, tag_refresh

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红玲芬燕晨浩宇欣怡涵梓萱诺思远佳琪雨桐"
REGIONS = [
    "上海市 浦东新区",
    "上海市 徐汇区",
    "北京市 朝阳区",
    "北京市 海淀区",
    "广东省 深圳市",
    "广东省 广州市",
    "浙江省 杭州市",
    "浙江省 宁波市",
    "江苏省 南京市",
    "江苏省 苏州市",
    "四川省 成都市",
    "湖北省 武汉市",
    "福建省 厦门市",
    "山东省 青岛市",
    "陕西省 西安市",
    "重庆市 渝中区",
    "天津市 和平区",
    "湖南省 长沙市",
]
CHANNELS = ["qr", "share_link", "in_store", "purchase", "api", "popup"]
PREFIXES = ["138", "139", "150", "151", "158", "186", "187", "135", "177", "199"]


def demo_enrolment(rng: random.Random, now) -> Enrolment:
    female = rng.random() < 0.62
    return Enrolment(
        phone=f"+86{rng.choice(PREFIXES)}{rng.randrange(10**8):08d}",
        name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice([1, 2]))),
        gender=Gender.FEMALE if female else rng.choice([Gender.MALE, Gender.UNKNOWN]),
        birthday_month=rng.randint(1, 12),
        birthday_day=rng.randint(1, 28),
        birth_year=rng.choice([None, *range(1965, 2006)]),
        region=rng.choice(REGIONS),
        channel=rng.choice(CHANNELS),
        consents={"sms": rng.random() < 0.55, "push": rng.random() < 0.3, "email": rng.random() < 0.1},
        joined_at=now - timedelta(days=rng.randint(30, 730), minutes=rng.randint(0, 1440)),
    )


def seed_members(*, shop: Shop, rng: random.Random, members: int) -> str:
    if member_search(shop=shop).exists():
        return "members: kept"
    now = timezone.now()
    created = members_bulk_enroll(
        shop=shop, enrolments=[demo_enrolment(rng, now) for _ in range(members)], source="demo"
    )
    return f"members: {created}"


def seed_tags(*, shop: Shop, rng: random.Random, members: int) -> str:
    """Rule tags, seeded after the orders (their rules read the order figures), and one manual tag."""
    existing = {t.name for t in tag_list(shop=shop)}
    for name, rule in (("高消费", {"spend_12m_min": "2000"}), ("沉睡会员", {"last_order_before_days": 120})):
        if name not in existing:
            tag_refresh(shop=shop, tag=tag_create(shop=shop, actor=SYSTEM, name=name, rule=rule))
    if "店员推荐" not in existing:
        tag_create(shop=shop, actor=SYSTEM, name="店员推荐")
    return f"tags: {tag_list(shop=shop).count()}"
