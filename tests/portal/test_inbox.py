"""The in-app inbox of the member centre (SPEC 12): the member's delivered in-app messages of this shop, newest
first, marked read when the inbox is opened; the unread count on the member card; nothing of another member's or
another shop's."""

import datetime

import pytest

from campaigns.inbox import inbox_mark_read
from campaigns.models import Message, MessagingSettings
from campaigns.selectors import inbox_messages, inbox_unread_count
from tests.campaigns.helpers import members, rows, send_all, started

from .helpers import PHONE, log_in, make_member, text

pytestmark = pytest.mark.django_db


def messaging(shop) -> None:
    """No quiet hours, and a contact budget that lets several campaigns reach a member on one day."""
    MessagingSettings.objects.update_or_create(
        shop=shop,
        defaults={"quiet_start": datetime.time(0), "quiet_end": datetime.time(0), "daily_cap": 9, "weekly_cap": 9},
    )


def in_app(shop, title: str, text: str, **fields):
    messaging(shop)
    campaign = started(shop, channel="in_app", holdout_percent=0, title=title, text=text, **fields)
    send_all(shop, campaign)
    return campaign


@pytest.fixture
def member(shop, shopper):
    """A member of shop A with consent, logged in on `shopper`."""
    member = make_member(shop, name="韩梅梅", consents={"sms": True, "push": True})
    assert log_in(shopper, shop).status_code == 302
    return member


def test_the_inbox_lists_this_members_in_app_messages_newest_first_and_marks_them_read(shop, member, shopper):
    # given two in-app campaigns, an SMS campaign and another member of the shop
    (neighbour,) = members(shop, 1, name="李雷")
    older = in_app(shop, "会员日", "{name}，会员日全场9折")
    newer = in_app(shop, "", "{name}，积分换好礼开始了")
    messaging(shop)
    send_all(shop, sms := started(shop, holdout_percent=0, text="{name}，短信不进收件箱"))
    assert rows(shop, sms).get(member=member).status == "sent"

    # the member card shows 2 unread
    card = text(shopper.get("/m/shop-a/me/"))
    assert 'data-testid="inbox-unread">2<' in card

    # when the member opens the inbox
    response = shopper.get("/m/shop-a/me/inbox/")

    # then both in-app messages are there, newest first, as stored, each marked new this once
    page = text(response)
    assert response.status_code == 200
    assert page.count('data-testid="inbox-message"') == 2
    assert page.count('data-testid="inbox-new"') == 2
    assert page.index("韩梅梅，积分换好礼开始了") < page.index("韩梅梅，会员日全场9折")
    assert 'data-testid="inbox-title">会员日<' in page
    assert 'data-testid="inbox-title">甲店<' in page  # no title: the shop's name
    assert "短信不进收件箱" not in page and "李雷" not in page
    # and they are read now; the neighbour's are not
    mine = Message.objects.filter(shop=shop, member=member, campaign__in=[older, newer])
    assert mine.filter(read_at__isnull=True).count() == 0 and mine.count() == 2
    theirs = Message.objects.filter(shop=shop, member=neighbour, campaign__in=[older, newer])
    assert theirs.filter(read_at__isnull=True).count() == 2
    assert rows(shop, sms).get(member=member).read_at is None

    # the badge is gone, and a second visit shows nothing new
    assert 'data-testid="inbox-unread"' not in text(shopper.get("/m/shop-a/me/"))
    again = text(shopper.get("/m/shop-a/me/inbox/"))
    assert again.count('data-testid="inbox-message"') == 2 and 'data-testid="inbox-new"' not in again


def test_reading_keeps_the_first_read_time(shop, member):
    in_app(shop, "会员日", "会员日全场9折")

    assert inbox_mark_read(shop=shop, member_id=member.pk) == 1
    first = Message.objects.get(shop=shop, member=member).read_at
    assert inbox_mark_read(shop=shop, member_id=member.pk) == 0

    assert Message.objects.get(shop=shop, member=member).read_at == first


def test_undelivered_and_held_out_messages_are_not_in_the_inbox(shop, member):
    # given an in-app campaign snapshotted but not sent yet
    messaging(shop)
    started(shop, channel="in_app", holdout_percent=0, title="稍后", text="还没送达")

    assert list(inbox_messages(shop=shop, member_id=member.pk)) == []
    assert inbox_unread_count(shop=shop, member_id=member.pk) == 0


def test_an_empty_inbox_says_so(shop, member, shopper):
    page = text(shopper.get("/m/shop-a/me/inbox/"))

    assert 'data-testid="inbox-empty"' in page
    assert 'data-testid="inbox-unread"' not in text(shopper.get("/m/shop-a/me/"))


def test_another_shop_sees_nothing_of_this_shops_inbox(shop, other_shop, member, shopper):
    # given an in-app message to the member in shop A, and the same phone a member of shop B, logged in there too
    in_app(shop, "甲店会员日", "甲店的消息")
    theirs = make_member(other_shop, PHONE, name="韩梅梅")
    in_app(other_shop, "乙店会员日", "乙店的消息")
    assert log_in(shopper, other_shop).status_code == 302

    # when the shopper opens shop B's inbox
    page = text(shopper.get("/m/shop-b/me/inbox/"))

    # then only shop B's message is there, and shop A's stays unread
    assert "乙店的消息" in page and "乙店会员日" in page
    assert "甲店" not in page
    assert inbox_unread_count(shop=shop, member_id=member.pk) == 1
    # selectors take the shop: another shop's member id finds nothing
    assert inbox_unread_count(shop=other_shop, member_id=member.pk) == 0
    assert list(inbox_messages(shop=shop, member_id=theirs.pk)) == []
    assert inbox_mark_read(shop=other_shop, member_id=member.pk) == 0


def test_the_inbox_needs_a_login(shop, shopper):
    response = shopper.get("/m/shop-a/me/inbox/")

    assert response.status_code == 302
    assert response["Location"] == "/m/shop-a/login/?next=/m/shop-a/me/inbox/"
