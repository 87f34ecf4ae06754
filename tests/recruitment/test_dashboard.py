"""The recruitment area of the dashboard: the channel list with figures, the editor, a channel's page with its last
30 days, pause and resume, the QR code and poster downloads; the referral rules and leaderboard; who may do what,
bad input, and other shops' objects."""

import datetime
import zoneinfo
from io import BytesIO

import pytest
import zxingcpp
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from coupons.services import template_set_status
from members.tags import tag_create
from recruitment import render, stats
from recruitment.channels import channel_set_active, purchase_channel
from recruitment.links import channel_url
from recruitment.models import Channel, ChannelKind, ChannelTag, Referral, ReferralProgram, WelcomeCoupon
from shops.models import AuditLogEntry
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from shops.time import local_today
from tests.coupons.helpers import make_template
from tests.pages import messages_of, staff_client, text, url

from .helpers import invite_code, join, make_channel, program

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

# The editor's form for a counter display with no gift, as the browser posts it.
FORM = {
    "name": "静安店收银台",
    "kind": "counter",
    "headline": "",
    "benefits": "",
    "valid_from": "",
    "valid_until": "",
    "welcome_points": "0",
}


def channels_state(shop) -> tuple:
    return (
        list(Channel.objects.filter(shop=shop).order_by("pk").values()),
        list(WelcomeCoupon.objects.filter(shop=shop).order_by("pk").values("channel_id", "template_id")),
        list(ChannelTag.objects.filter(shop=shop).order_by("pk").values("channel_id", "tag_id")),
    )


@pytest.fixture
def marketer(client, shop):
    return staff_client(client, shop, Role.MARKETER)


# --- who may see what -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_each_role_sees_the_recruitment_pages_it_may_and_is_refused_the_others(client, shop, role):
    channel = make_channel(shop)
    staff_client(client, shop, role)
    pages = [
        url("channels", shop),
        url("channel_create", shop),
        url("channel", shop, channel.pk),
        url("channel_edit", shop, channel.pk),
        url("channel_qr_svg", shop, channel.pk),
        url("channel_qr_png", shop, channel.pk),
        url("referral_leaderboard", shop),
        url("referral_settings", shop),
    ]
    allowed = Perm.RECRUITMENT_MANAGE in ROLE_PERMISSIONS[role]
    for page in pages:
        assert client.get(page).status_code == (200 if allowed else 403), (role, page)


@pytest.mark.parametrize("role", [Role.CLERK, Role.ANALYST])
def test_a_role_without_recruitment_cannot_pause_create_or_change_the_rules(client, shop, role):
    channel = make_channel(shop)
    before = channels_state(shop)
    staff_client(client, shop, role)

    responses = [
        client.post(url("channel_active", shop, channel.pk), {"active": "0"}),
        client.post(url("channel_create", shop), FORM | {"name": "新渠道"}),
        client.post(url("channel_edit", shop, channel.pk), FORM | {"name": "改名"}),
        client.post(
            url("referral_settings", shop),
            {
                "enabled": "on",
                "trigger": "join",
                "inviter_points": "5",
                "invitee_points": "5",
                "inviter_cap": "1",
                "cap_period": "day",
                "ip_daily_limit": "1",
            },
        ),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert channels_state(shop) == before
    assert not ReferralProgram.objects.filter(shop=shop).exists()


def test_the_side_menu_leads_to_recruitment_for_marketers_only(client, shop):
    staff_client(client, shop, Role.MARKETER)
    assert url("channels", shop) in client.get(url("home", shop)).content.decode()
    staff_client(client, shop, Role.CLERK)
    assert url("channels", shop) not in client.get(url("home", shop)).content.decode()


# --- the list ---------------------------------------------------------------------------------------------------


def test_the_list_shows_each_channel_newest_first_with_its_link_status_and_figures(marketer, shop):
    # given: an open channel with visits and joins, a paused one, one not started and one ended
    now = timezone.now()
    counter = make_channel(shop, "收银台", kind="counter")
    make_channel(shop, "已暂停", kind="flyer")
    channel_set_active(shop=shop, actor=SYSTEM, channel=Channel.objects.get(name="已暂停"), active=False)
    make_channel(shop, "未开始", valid_from=now + datetime.timedelta(days=2))
    make_channel(
        shop, "已结束", valid_from=now - datetime.timedelta(days=9), valid_until=now - datetime.timedelta(days=2)
    )
    for visitor in ("a", "b", "c", "d", "a"):
        stats.visit_record(shop=shop, channel=counter, visitor=visitor)
    join(shop, 1, channel=counter.code)

    # when
    response = marketer.get(url("channels", shop))

    # then
    rows = [(row["channel"].name, row["status"], row["url"]) for row in response.context["rows"]]
    assert rows == [
        ("已结束", "ended", channel_url(Channel.objects.get(name="已结束").code)),
        ("未开始", "not_started", channel_url(Channel.objects.get(name="未开始").code)),
        ("已暂停", "paused", channel_url(Channel.objects.get(name="已暂停").code)),
        ("收银台", "open", channel_url(counter.code)),
    ]
    figures = response.context["rows"][3]["figures"]
    assert (figures.visits, figures.visitors, figures.joins) == (5, 4, 1)
    assert response.context["rows"][3]["conversion"] == 25.0
    page = text(response)
    assert "收银台 In-store counter " + counter.code in page
    assert "Open 5 4 1 25.0%" in page
    assert "Paused" in page and "Not started" in page and "Ended" in page


def test_the_list_pages_by_fifty(marketer, shop):
    for n in range(51):
        make_channel(shop, f"渠道{n:02d}")

    first = marketer.get(url("channels", shop))
    second = marketer.get(url("channels", shop) + "?page=2")

    assert len(first.context["rows"]) == 50
    assert [row["channel"].name for row in second.context["rows"]] == ["渠道00"]
    assert first.context["next_url"] == url("channels", shop) + "?page=2"


def test_the_join_on_purchase_channel_is_listed_without_a_public_link(marketer, shop):
    channel = purchase_channel(shop=shop)

    response = marketer.get(url("channels", shop))

    assert [(row["channel"].pk, row["url"]) for row in response.context["rows"]] == [(channel.pk, "")]
    assert "no page: buyers join with their first order" in text(response)


# --- the editor -------------------------------------------------------------------------------------------------


def test_creating_a_channel_stores_every_field_and_goes_to_its_page(marketer, shop):
    # given: a coupon template and a manual tag of the shop
    template = make_template(shop)
    tag = tag_create(shop=shop, actor=SYSTEM, name="静安店")
    form = FORM | {
        "headline": "扫码入会 立享好礼",
        "benefits": " 新人礼：满100减20 \n\n入会送 200 积分\n",
        "valid_from": "2026-12-01T09:00",
        "valid_until": "2027-03-01T00:00",
        "welcome_points": "200",
        "welcome_coupon_ids": [str(template.pk)],
        "tag_ids": [str(tag.pk)],
    }

    # when
    response = marketer.post(url("channel_create", shop), form)

    # then
    channel = Channel.objects.get(shop=shop)
    assert response.status_code == 302
    assert response["Location"] == url("channel", shop, channel.pk)
    assert (channel.name, channel.kind, channel.headline, channel.benefits, channel.welcome_points) == (
        "静安店收银台",
        "counter",
        "扫码入会 立享好礼",
        "新人礼：满100减20\n入会送 200 积分",
        200,
    )
    assert channel.valid_from == datetime.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
    assert channel.valid_until == datetime.datetime(2027, 3, 1, 0, 0, tzinfo=SHANGHAI)
    assert channel.is_active
    assert list(WelcomeCoupon.objects.filter(channel=channel).values_list("template_id", flat=True)) == [template.pk]
    assert list(ChannelTag.objects.filter(channel=channel).values_list("tag_id", flat=True)) == [tag.pk]
    assert AuditLogEntry.objects.filter(shop=shop, action="channel.create").count() == 1
    page = marketer.get(response["Location"])
    assert messages_of(page) == ["Channel 静安店收银台 saved."]


def test_the_editor_offers_the_shops_live_coupons_and_manual_tags_only(marketer, shop, other_shop):
    live = make_template(shop, name="满100减20")
    ended = make_template(shop, name="已结束券")
    template_set_status(shop=shop, actor=SYSTEM, template=ended, status="ended")
    make_template(other_shop, name="乙店券")
    manual = tag_create(shop=shop, actor=SYSTEM, name="手动")
    tag_create(shop=shop, actor=SYSTEM, name="规则", rule={"spend_min": "100"})
    tag_create(shop=other_shop, actor=SYSTEM, name="乙店标签")

    form = marketer.get(url("channel_create", shop)).context["form"]

    assert form.fields["welcome_coupon_ids"].choices == [(live.pk, "满100减20")]
    assert form.fields["tag_ids"].choices == [(manual.pk, "手动")]
    assert [value for value, _label in form.fields["kind"].choices] == [
        "qr",
        "link",
        "poster",
        "shop_home",
        "product_page",
        "popup",
        "flyer",
        "counter",
    ]


def test_editing_a_channel_changes_it_and_keeps_its_code(marketer, shop):
    template = make_template(shop)
    channel = make_channel(shop, "旧名", welcome_coupon_ids=[template.pk], welcome_points=10)

    page = marketer.get(url("channel_edit", shop, channel.pk))
    assert page.context["form"].initial["welcome_coupon_ids"] == [template.pk]
    response = marketer.post(url("channel_edit", shop, channel.pk), FORM | {"name": "新名", "kind": "poster"})

    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.kind, channel.welcome_points) == ("新名", "poster", 0)
    assert Channel.objects.filter(shop=shop).values_list("code", flat=True).get() == channel.code
    assert not WelcomeCoupon.objects.filter(channel=channel).exists()


def test_the_join_on_purchase_channel_keeps_its_kind_and_takes_a_gift_and_tags(marketer, shop):
    channel = purchase_channel(shop=shop)
    template = make_template(shop)
    tag = tag_create(shop=shop, actor=SYSTEM, name="下单入会")

    form = marketer.get(url("channel_edit", shop, channel.pk)).context["form"]
    response = marketer.post(
        url("channel_edit", shop, channel.pk),
        {
            "name": "下单入会",
            "valid_from": "",
            "valid_until": "",
            "welcome_points": "50",
            "welcome_coupon_ids": [str(template.pk)],
            "tag_ids": [str(tag.pk)],
            "kind": "qr",
        },
    )

    assert {"kind", "headline", "benefits"}.isdisjoint(form.fields)
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.kind, channel.name, channel.welcome_points) == (ChannelKind.PURCHASE, "下单入会", 50)
    assert list(WelcomeCoupon.objects.filter(channel=channel).values_list("template_id", flat=True)) == [template.pk]
    assert list(ChannelTag.objects.filter(channel=channel).values_list("tag_id", flat=True)) == [tag.pk]


# --- bad input --------------------------------------------------------------------------------------------------


def test_a_name_already_used_is_refused_on_the_name_field_and_nothing_is_stored(marketer, shop):
    make_channel(shop, "静安店收银台")
    before = channels_state(shop)

    response = marketer.post(url("channel_create", shop), FORM)

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "name": ["Another channel already has this name."],
        "__all__": ["The channel is not valid."],
    }
    assert channels_state(shop) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "收银台\x1b[2J"), ("headline", "\u202e会入码扫"), ("benefits", "满100减20\n\u2066新客礼")],
)
def test_a_control_or_text_direction_character_is_refused_on_its_field_and_nothing_is_stored(
    marketer, shop, field, value
):
    response = marketer.post(url("channel_create", shop), FORM | {field: value})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert channels_state(shop) == ([], [], [])


def test_an_end_before_the_start_is_refused_on_the_end_field_and_nothing_is_stored(marketer, shop):
    response = marketer.post(
        url("channel_create", shop), FORM | {"valid_from": "2026-12-01T09:00", "valid_until": "2026-11-30T09:00"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "valid_until": ["The end must come after the start."],
        "__all__": ["The channel is not valid."],
    }
    assert channels_state(shop) == ([], [], [])


def test_another_shops_coupon_template_is_refused_and_nothing_is_stored(marketer, shop, other_shop):
    foreign = make_template(other_shop)
    channel = make_channel(shop, "已有")
    before = channels_state(shop)

    created = marketer.post(url("channel_create", shop), FORM | {"welcome_coupon_ids": [str(foreign.pk)]})
    edited = marketer.post(url("channel_edit", shop, channel.pk), FORM | {"welcome_coupon_ids": [str(foreign.pk)]})

    for response in (created, edited):
        assert response.status_code == 200
        assert list(response.context["form"].errors) == ["welcome_coupon_ids"]
    assert channels_state(shop) == before


def test_a_coupon_that_ended_after_it_was_chosen_is_named_on_its_field(marketer, shop):
    template = make_template(shop)
    channel = make_channel(shop, "已有", welcome_coupon_ids=[template.pk])
    template_set_status(shop=shop, actor=SYSTEM, template=template, status="ended")
    before = channels_state(shop)

    response = marketer.post(
        url("channel_edit", shop, channel.pk),
        FORM
        | {
            "name": "已有",
            "welcome_coupon_ids": [str(template.pk)],
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "welcome_coupon_ids": ["Choose coupon templates of this shop that have not ended."],
        "__all__": ["The channel is not valid."],
    }
    assert channels_state(shop) == before


def test_too_many_benefit_lines_and_negative_points_are_refused(marketer, shop):
    response = marketer.post(
        url("channel_create", shop),
        FORM | {"benefits": "\n".join(f"第{n}条" for n in range(9)), "welcome_points": "-1"},
    )

    assert set(response.context["form"].errors) == {"benefits", "welcome_points"}
    assert not Channel.objects.filter(shop=shop).exists()


# --- a channel's page ---------------------------------------------------------------------------------------------


def test_a_channels_page_shows_its_link_qr_downloads_gift_and_last_30_days(marketer, shop):
    # given: visits and a join today, and a stored day ten days ago
    template = make_template(shop)
    channel = make_channel(shop, "收银台", welcome_points=200, welcome_coupon_ids=[template.pk])
    for visitor in ("a", "b", "a"):
        stats.visit_record(shop=shop, channel=channel, visitor=visitor)
    join(shop, 1, channel=channel.code)
    ten_days_ago = local_today(shop) - datetime.timedelta(days=10)
    channel.days.create(shop=shop, day=ten_days_ago, visits=40, visitors=30, joins=6)

    # when
    response = marketer.get(url("channel", shop, channel.pk))

    # then
    page = response.content.decode()
    assert channel_url(channel.code) in page
    for name in ("channel_qr_svg", "channel_qr_png", "channel_poster"):
        assert url(name, shop, channel.pk) in page
    assert f'src="{url("channel_qr_svg", shop, channel.pk)}"' in page
    assert url("channel_poster", shop, channel.pk) + "?size=A5" in page
    totals = response.context["totals"]
    assert (totals.visits, totals.visitors, totals.joins) == (43, 32, 7)
    days = response.context["days"]
    assert len(days) == 30
    assert days[0]["day"] == local_today(shop)
    assert (days[0]["figures"].visits, days[0]["figures"].joins) == (3, 1)
    assert (days[10]["figures"].visits, days[10]["visits_bar"], days[10]["joins_bar"]) == (40, 100, 15)
    assert (days[0]["visits_bar"], days[0]["joins_bar"]) == (8, 2)
    assert "满100减20" in text(response)
    assert '<rect class="visits" width="100"' in page


def test_pausing_and_resuming_a_channel(marketer, shop):
    channel = make_channel(shop)

    paused = marketer.post(url("channel_active", shop, channel.pk), {"active": "0"}, follow=True)
    channel.refresh_from_db()
    assert not channel.is_active
    assert paused.redirect_chain[-1][0] == url("channel", shop, channel.pk)
    assert paused.context["status"] == "paused"
    assert messages_of(paused) == ["Channel paused: its page says so and nobody joins through it until you resume it."]

    resumed = marketer.post(url("channel_active", shop, channel.pk), {"active": "1"}, follow=True)
    channel.refresh_from_db()
    assert channel.is_active
    assert messages_of(resumed) == ["Channel resumed: shoppers can join through it again."]
    actions = list(
        AuditLogEntry.objects.filter(shop=shop, action__startswith="channel.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["channel.create", "channel.pause", "channel.resume"]


def test_pausing_is_post_only(marketer, shop):
    channel = make_channel(shop)
    assert marketer.get(url("channel_active", shop, channel.pk)).status_code == 405
    channel.refresh_from_db()
    assert channel.is_active


# --- downloads --------------------------------------------------------------------------------------------------


def _decoded(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(BytesIO(png)))]


def test_the_qr_png_decodes_back_to_the_channels_public_url(marketer, shop):
    channel = make_channel(shop)

    response = marketer.get(url("channel_qr_png", shop, channel.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'attachment; filename="channel-{channel.code}.png"'
    assert _decoded(response.content) == [channel_url(channel.code)]


def test_the_qr_svg_is_an_svg_attachment(marketer, shop):
    channel = make_channel(shop)

    response = marketer.get(url("channel_qr_svg", shop, channel.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"] == f'attachment; filename="channel-{channel.code}.svg"'
    assert response.content.startswith(b"<svg")


@pytest.mark.parametrize(("size", "pixels"), [("A4", (2480, 3508)), ("A5", (1748, 2480))])
def test_the_poster_is_a_print_resolution_png_whose_qr_decodes_to_the_channel(marketer, shop, size, pixels):
    channel = make_channel(shop, headline="扫码入会", benefits="入会送 200 积分")

    response = marketer.get(url("channel_poster", shop, channel.pk) + f"?size={size}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'attachment; filename="channel-{channel.code}-poster-{size}.png"'
    image = Image.open(BytesIO(response.content))
    assert image.size == pixels
    assert _decoded(response.content) == [channel_url(channel.code)]


def test_the_poster_defaults_to_scan_to_join_and_the_gift_in_the_shops_language(marketer, shop, monkeypatch):
    template = make_template(shop, name="满100减20")
    channel = make_channel(shop, welcome_points=200, welcome_coupon_ids=[template.pk])
    drawn = {}

    def fake_poster(**kwargs):
        drawn.update(kwargs)
        return b"PNG"

    monkeypatch.setattr(render, "poster_png", fake_poster)
    shop.locale = "en"
    shop.save()

    response = marketer.get(url("channel_poster", shop, channel.pk))

    assert response.content == b"PNG"
    assert drawn == {
        "size": "A4",
        "shop_name": "甲店",
        "colour": "#C8102E",
        "headline": "Scan to join",
        "benefits": ["200 points for joining", "Welcome coupon: 满100减20"],
        "url": channel_url(channel.code),
        "logo": None,
    }


def test_the_poster_carries_the_shops_logo(marketer, shop, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    buffer = BytesIO()
    Image.new("RGB", (40, 20), (0, 128, 0)).save(buffer, format="PNG")
    shop.logo.save("logo.png", ContentFile(buffer.getvalue()))
    channel = make_channel(shop)
    drawn = {}
    monkeypatch.setattr(render, "poster_png", lambda **kwargs: drawn.update(kwargs) or b"PNG")

    marketer.get(url("channel_poster", shop, channel.pk) + "?size=A5")

    assert drawn["logo"] == buffer.getvalue()
    assert drawn["size"] == "A5"


def test_an_unknown_poster_size_is_not_found(marketer, shop):
    channel = make_channel(shop)
    assert marketer.get(url("channel_poster", shop, channel.pk) + "?size=A3").status_code == 404


def test_without_a_cjk_font_the_poster_leads_back_to_the_channel_saying_what_to_install(
    marketer, shop, settings, monkeypatch
):
    # given: no font at the configured path, nor at any fallback
    settings.CJK_FONT_PATH = "/nonexistent/fonts/NotoSansCJK-Regular.ttc"
    monkeypatch.setattr(render, "FALLBACK_FONT_PATHS", ())
    channel = make_channel(shop)

    # when
    response = marketer.get(url("channel_poster", shop, channel.pk) + "?size=A4", follow=True)

    # then
    assert response.redirect_chain == [(url("channel", shop, channel.pk), 302)]
    assert response.status_code == 200
    assert messages_of(response) == [
        "The poster cannot be drawn: the server has no Chinese font. Ask your administrator to install the Debian "
        "package fonts-noto-cjk (or to set CJK_FONT_PATH to a Chinese font file)."
    ]


def test_the_join_on_purchase_channel_has_no_qr_code_or_poster(marketer, shop):
    channel = purchase_channel(shop=shop)

    page = marketer.get(url("channel", shop, channel.pk))

    assert url("channel_qr_svg", shop, channel.pk) not in page.content.decode()
    for name in ("channel_qr_svg", "channel_qr_png", "channel_poster"):
        assert marketer.get(url(name, shop, channel.pk)).status_code == 404


# --- referral rules ---------------------------------------------------------------------------------------------


RULES = {
    "enabled": "on",
    "trigger": "first_purchase",
    "inviter_points": "300",
    "invitee_points": "100",
    "inviter_coupon": "",
    "invitee_coupon": "",
    "inviter_cap": "10",
    "cap_period": "week",
    "ip_daily_limit": "2",
}


def test_saving_the_referral_rules_stores_and_audits_them(marketer, shop):
    template = make_template(shop)

    response = marketer.post(url("referral_settings", shop), RULES | {"invitee_coupon": str(template.pk)}, follow=True)

    saved = ReferralProgram.objects.get(shop=shop)
    assert (
        saved.enabled,
        saved.trigger,
        saved.inviter_points,
        saved.invitee_points,
        saved.inviter_coupon_id,
        saved.invitee_coupon_id,
        saved.inviter_cap,
        saved.cap_period,
        saved.ip_daily_limit,
    ) == (True, "first_purchase", 300, 100, None, template.pk, 10, "week", 2)
    assert messages_of(response) == ["Referral rules saved."]
    assert AuditLogEntry.objects.filter(shop=shop, action="referral_program.update").count() == 1

    again = marketer.post(url("referral_settings", shop), RULES | {"enabled": "", "inviter_points": "5"})
    assert again.status_code == 302
    assert ReferralProgram.objects.filter(shop=shop).values_list("enabled", "inviter_points").get() == (False, 5)


def test_the_referral_form_shows_the_saved_rules(marketer, shop):
    program(shop, inviter_points=120)

    form = marketer.get(url("referral_settings", shop)).context["form"]

    assert form["inviter_points"].value() == 120
    assert form["enabled"].value() is True


def test_another_shops_coupon_and_absurd_numbers_are_refused_in_the_referral_rules(marketer, shop, other_shop):
    foreign = make_template(other_shop)
    ended = make_template(shop, name="已结束")
    template_set_status(shop=shop, actor=SYSTEM, template=ended, status="ended")

    response = marketer.post(
        url("referral_settings", shop),
        RULES
        | {
            "inviter_coupon": str(foreign.pk),
            "invitee_coupon": str(ended.pk),
            "inviter_points": "-5",
            "invitee_points": "1000000000001",
        },
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {
        "inviter_coupon",
        "invitee_coupon",
        "inviter_points",
        "invitee_points",
    }
    assert not ReferralProgram.objects.filter(shop=shop).exists()


# --- the leaderboard --------------------------------------------------------------------------------------------


def _invite(shop, inviter, first: int, count: int):
    code = invite_code(shop, inviter)
    return [join(shop, first + i, referrer_code=code)[0] for i in range(count)]


def test_the_leaderboard_ranks_inviters_by_rewarded_then_invited_with_masked_phones(marketer, shop):
    # given: 甲 rewarded for 2 of 3 (a cap of 2), 乙 for 2 of 2, 丙 for 1
    program(shop, inviter_cap=2)
    first, _ = join(shop, 1, name="甲")
    second, _ = join(shop, 2, name="乙")
    third, _ = join(shop, 3, name="丙")
    _invite(shop, first, 100, 3)
    _invite(shop, second, 200, 2)
    _invite(shop, third, 300, 1)

    # when
    response = marketer.get(url("referral_leaderboard", shop))

    # then
    rows = [(r["member"].name, r["rewarded"], r["invited"], r["masked_phone"]) for r in response.context["rows"]]
    assert rows == [("甲", 2, 3, "139****0001"), ("乙", 2, 2, "139****0002"), ("丙", 1, 1, "139****0003")]
    page = response.content.decode()
    assert url("member", shop, first.pk) in page
    assert "13900130001" not in page


def test_the_leaderboard_counts_the_chosen_period(marketer, shop):
    program(shop)
    inviter, _ = join(shop, 1, name="甲")
    old, recent = _invite(shop, inviter, 100, 2)
    Referral.objects.filter(invitee=old).update(created_at=timezone.now() - datetime.timedelta(days=20))

    def board(period):
        response = marketer.get(url("referral_leaderboard", shop) + (f"?period={period}" if period else ""))
        return [(r["member"].name, r["invited"]) for r in response.context["rows"]]

    assert board("7d") == [("甲", 1)]
    assert board("30d") == [("甲", 2)]
    assert board("all") == [("甲", 2)]
    assert board("") == [("甲", 2)]  # 30 days by default
    assert board("bogus") == [("甲", 2)]


def test_the_leaderboard_says_when_rewards_are_off(marketer, shop):
    response = marketer.get(url("referral_leaderboard", shop))
    assert "Referral rewards are off" in text(response)
    assert response.context["rows"] == []
