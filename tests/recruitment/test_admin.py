"""The operations admin of recruitment: channels, their days, referral rules, referrals and referral codes across
shops; channels paused and resumed (audited), referral rules corrected through the service, history read-only."""

import pytest

from recruitment import stats
from recruitment.models import Channel, ChannelDay, Referral, ReferralCode, ReferralProgram
from shops.models import AuditLogEntry
from tests.factories import UserFactory

from .helpers import invite_code, join, make_channel, program

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_client(client):
    client.force_login(UserFactory(email="ops@huiyuan.example", is_staff=True, is_superuser=True))
    return client


def _history(shop) -> Channel:
    """A channel with a stored day and a join, a referral program, and a rewarded referral."""
    channel = make_channel(shop, "收银台")
    stats.visit_record(shop=shop, channel=channel, visitor="a")
    stats.channel_stats_flush(shop=shop)
    program(shop)
    inviter, _ = join(shop, 1, name="张三", channel=channel.code)
    join(shop, 2, referrer_code=invite_code(shop, inviter))
    return channel


@pytest.mark.parametrize("path", ["channel", "channelday", "referralprogram", "referral", "referralcode"])
def test_every_recruitment_changelist_shows_all_shops_and_searches(ops_client, shop, other_shop, path):
    channels = [_history(s) for s in (shop, other_shop)]
    for query in ({}, {"q": "shop"}, {"q": channels[0].code}, {"q": "收银台"}):
        assert ops_client.get(f"/admin/recruitment/{path}/", query).status_code == 200
    if path == "channel":
        page = ops_client.get("/admin/recruitment/channel/", {"q": channels[1].code}).content.decode()
        assert channels[1].code in page and channels[0].code not in page


@pytest.mark.parametrize(
    ("path", "model"),
    [("channelday", ChannelDay), ("referral", Referral), ("referralcode", ReferralCode), ("channel", Channel)],
)
def test_history_and_channels_cannot_be_added_changed_or_deleted_here(ops_client, shop, path, model):
    _history(shop)
    row = model.objects.filter(shop=shop).first()
    before = list(model.objects.order_by("pk").values())

    assert ops_client.get(f"/admin/recruitment/{path}/{row.pk}/change/").status_code == 200  # read
    assert ops_client.post(f"/admin/recruitment/{path}/{row.pk}/change/", {}).status_code == 403
    assert ops_client.post(f"/admin/recruitment/{path}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ops_client.get(f"/admin/recruitment/{path}/add/").status_code == 403
    assert list(model.objects.order_by("pk").values()) == before


def test_pausing_and_resuming_channels_from_the_admin_is_audited_in_each_shop(ops_client, shop, other_shop):
    mine, theirs = make_channel(shop), make_channel(other_shop)

    paused = ops_client.post(
        "/admin/recruitment/channel/", {"action": "pause", "_selected_action": [mine.pk, theirs.pk]}
    )
    assert paused.status_code == 302
    assert list(Channel.objects.order_by("pk").values_list("is_active", flat=True)) == [False, False]
    for s in (shop, other_shop):
        assert AuditLogEntry.objects.get(shop=s, action="channel.pause").actor_label == "ops@huiyuan.example"

    ops_client.post("/admin/recruitment/channel/", {"action": "resume", "_selected_action": [mine.pk]})
    assert list(Channel.objects.order_by("pk").values_list("is_active", flat=True)) == [True, False]


def test_correcting_referral_rules_in_the_admin_goes_through_the_service(ops_client, shop):
    saved = program(shop, inviter_points=100)
    form = {
        "enabled": "on",
        "trigger": "first_purchase",
        "inviter_points": "250",
        "invitee_points": "50",
        "inviter_cap": "5",
        "cap_period": "day",
        "ip_daily_limit": "1",
    }

    response = ops_client.post(f"/admin/recruitment/referralprogram/{saved.pk}/change/", form)

    assert response.status_code == 302
    saved.refresh_from_db()
    assert (saved.trigger, saved.inviter_points, saved.inviter_cap, saved.cap_period) == (
        "first_purchase",
        250,
        5,
        "day",
    )
    entry = AuditLogEntry.objects.filter(shop=shop, action="referral_program.update").latest("pk")
    assert entry.actor_label == "ops@huiyuan.example"
    assert ops_client.get("/admin/recruitment/referralprogram/add/").status_code == 403
    assert ReferralProgram.objects.count() == 1
