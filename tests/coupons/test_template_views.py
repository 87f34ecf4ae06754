"""The coupon templates area of the dashboard: the list with figures, the editor, a template's page (status actions,
codes to generate, import and download) and the tier gifts; who may do what, bad input, and other shops' objects."""

import csv
import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponTemplate, Occasion, Source, TierGift
from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from coupons.services import TEMPLATE_FIELDS, codes_generate, template_set_status
from coupons.tier_gift_services import InvalidTierGift, tier_gift_add
from coupons.views.words import coupon_card, value_in_words
from members.tags import tag_create
from shops.models import AuditLogEntry
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from tests.pages import messages_of, staff_client, text, url
from tiers.selectors import tiers_of_shop

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def templates_state(shop) -> list[dict]:
    return list(CouponTemplate.objects.filter(shop=shop).order_by("pk").values())


# The editor's form for a 满100减20 coupon valid 30 days after it is received, as the browser posts it.
FORM = {
    "name": "满100减20",
    "kind": "amount_off",
    "value": "20",
    "min_spend": "100",
    "max_discount": "",
    "item_sku": "",
    "item_name": "",
    "description": "",
    "scope": "order",
    "scope_values": "",
    "use_channel": "both",
    "on_refund": "restore",
    "audience": "everyone",
    "new_member_days": "30",
    "claim_starts_at": "",
    "claim_ends_at": "",
    "window": "days",
    "valid_days": "30",
    "valid_from": "",
    "valid_until": "",
    "stock": "",
    "per_member_limit": "1",
    "points_price": "",
}


# --- who may see what -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_each_role_sees_the_coupon_pages_it_may_and_is_refused_the_others(client, shop, role):
    template = make_template(shop)
    staff_client(client, shop, role)
    pages = {
        url("coupon_templates", shop): Perm.COUPONS_REDEEM,
        url("coupon_template", shop, template.pk): Perm.COUPONS_REDEEM,
        url("coupon_template_create", shop): Perm.RULES_CHANGE,
        url("coupon_template_edit", shop, template.pk): Perm.RULES_CHANGE,
        url("coupon_tier_gifts", shop): Perm.RULES_CHANGE,
        url("coupon_codes_download", shop, template.pk): Perm.COUPONS_GRANT,
    }
    for page, permission in pages.items():
        allowed = permission in ROLE_PERMISSIONS[role]
        assert client.get(page).status_code == (200 if allowed else 403), (role, page)


def test_a_clerk_reads_the_list_and_a_template_without_buttons_to_change_them(client, shop):
    template = make_template(shop)
    staff_client(client, shop, Role.CLERK)

    listing = client.get(url("coupon_templates", shop))
    detail = client.get(url("coupon_template", shop, template.pk))

    assert "满100减20" in text(listing)
    assert url("coupon_template_create", shop) not in listing.content.decode()
    assert url("coupon_template_edit", shop, template.pk) not in listing.content.decode()
    page = detail.content.decode()
    assert url("coupon_template_status", shop, template.pk) not in page
    assert url("coupon_codes_generate", shop, template.pk) not in page


def test_the_navigation_leads_to_the_coupon_list(client, shop):
    staff_client(client, shop, Role.CLERK)
    response = client.get(url("home", shop))
    assert f'href="{url("coupon_templates", shop)}"' in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, shop):
    template = make_template(shop)
    for page in (url("coupon_templates", shop), url("coupon_template", shop, template.pk)):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", [Role.ANALYST, Role.CLERK])
def test_roles_without_the_right_cannot_change_coupons_and_nothing_changes(client, shop, role):
    template = make_template(shop)
    tier = tiers_of_shop(shop=shop).get(rank=1)
    gift = tier_gift_add(shop=shop, actor=SYSTEM, tier=tier, occasion="monthly", template=template, quantity=1)
    staff_client(client, shop, role)
    before = templates_state(shop)
    upload = SimpleUploadedFile("codes.txt", b"ABCD1234\n")
    posts = [
        (url("coupon_template_create", shop), FORM),
        (url("coupon_template_edit", shop, template.pk), {**FORM, "name": "改"}),
        (url("coupon_template_status", shop, template.pk), {"status": "ended"}),
        (url("coupon_codes_generate", shop, template.pk), {"count": "5"}),
        (url("coupon_codes_import", shop, template.pk), {"file": upload}),
        (
            url("coupon_tier_gifts", shop),
            {"tier": tier.pk, "occasion": "birthday", "template": template.pk, "quantity": "1"},
        ),
        (url("coupon_tier_gift_remove", shop, gift.pk), {}),
    ]
    for page, data in posts:
        assert client.post(page, data).status_code == 403, page
    assert templates_state(shop) == before
    assert not Coupon.objects.exists()
    assert list(TierGift.objects.values_list("pk", flat=True)) == [gift.pk]


# --- the list -----------------------------------------------------------------------------------------------------


def test_the_list_shows_each_template_with_its_offer_stock_and_figures(owner_client, shop):
    # given: a 满100减20 with 2 claimed and 1 redeemed on an order of 150, and an 8折 nobody claimed
    amount_off = make_template(shop, stock=100, per_member_limit=1)
    percent = make_template(
        shop, name="全场8折", kind="percent_off", value=Decimal(20), min_spend=None, max_discount=Decimal(50)
    )
    first, second = make_member(shop, 1), make_member(shop, 2)
    coupon = coupon_issue(shop=shop, member=first, template=amount_off, idempotency_key="a", source="claim").coupon
    coupon_issue(shop=shop, member=second, template=amount_off, idempotency_key="b", source="claim")
    coupon_redeem(shop=shop, code=coupon.code, member=first, order_external_id="O-1", cart=Cart(Decimal(150)))

    response = owner_client.get(url("coupon_templates", shop))

    rows = re.findall(r'<tr data-testid="template-row">(.*?)</tr>', response.content.decode(), re.S)
    cells = [
        [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td.*?</td>", row, re.S)]
        for row in rows
    ]
    assert cells == [
        [
            "全场8折",
            "Percent off (折扣)",
            "20% off, at most ¥50 off",
            "Active",
            "unlimited",
            "0",
            "0",
            "0",
            "—",
            "0.00",
            "Edit",
        ],
        [
            "满100减20",
            "Amount off above a threshold (满减)",
            "¥20 off orders over ¥100",
            "Active",
            "100",
            "2",
            "2",
            "1",
            "50.0%",
            "150.00",
            "Edit",
        ],
    ]
    assert percent.pk != amount_off.pk


def test_the_list_filters_by_status(owner_client, shop):
    make_template(shop, name="进行中")
    paused = make_template(shop, name="已暂停")
    template_set_status(shop=shop, actor=SYSTEM, template=paused, status="paused")

    response = owner_client.get(url("coupon_templates", shop), {"status": "paused"})

    assert [t.name for t, _words, _rate in response.context["rows"]] == ["已暂停"]
    assert "进行中" not in text(response)
    everything = owner_client.get(url("coupon_templates", shop), {"status": "nonsense"})
    assert [t.name for t, _words, _rate in everything.context["rows"]] == ["已暂停", "进行中"]


@pytest.mark.parametrize(
    ("fields", "english", "chinese_has"),
    [
        ({}, "¥20 off orders over ¥100", ["100", "20"]),
        ({"kind": "no_threshold", "value": Decimal(10), "min_spend": None}, "¥10 off, no minimum spend", ["10"]),
        (
            {"kind": "percent_off", "value": Decimal("15"), "min_spend": None, "max_discount": Decimal("50.50")},
            "15% off, at most ¥50.50 off",
            ["50.50"],
        ),
        (
            {"kind": "free_shipping", "value": Decimal(0), "min_spend": Decimal(99)},
            "Free shipping, on orders over ¥99",
            ["99"],
        ),
        (
            {"kind": "gift", "value": Decimal(0), "min_spend": None, "item_sku": "MUG-1", "item_name": "马克杯"},
            "Gift: 马克杯",
            ["马克杯"],
        ),
        (
            {"kind": "exchange", "value": Decimal(0), "min_spend": None, "item_sku": "LATTE"},
            "Exchange voucher: LATTE",
            ["LATTE"],
        ),
    ],
)
def test_a_template_reads_in_words(shop, fields, english, chinese_has):
    template = make_template(shop, **fields)
    assert value_in_words(shop=shop, template=template) == english
    with translation.override("zh-hans"):
        chinese = value_in_words(shop=shop, template=template)
    assert all(part in chinese for part in chinese_has)


def test_the_card_shows_the_value_condition_name_validity_and_scope(shop):
    days = make_template(shop, scope="categories", scope_values=["咖啡", "茶"], use_channel="offline")
    dates = make_template(
        shop,
        name="国庆8折",
        kind="percent_off",
        value=Decimal(20),
        min_spend=Decimal("99.50"),
        max_discount=Decimal(30),
        valid_days=None,
        valid_from=datetime.datetime(2026, 10, 1, tzinfo=SHANGHAI),
        valid_until=datetime.datetime(2026, 10, 8, tzinfo=SHANGHAI),
    )

    assert {k: v for k, v in coupon_card(shop=shop, template=days).items() if k not in ("kind", "inactive")} == {
        "big": "¥20",
        "condition": "Orders over ¥100",
        "name": "满100减20",
        "validity": "Valid for 30 days after it is received",
        "scope": "Categories: 咖啡, 茶 · In store only",
    }
    card = coupon_card(shop=shop, template=dates)
    assert (card["big"], card["condition"], card["validity"], card["scope"]) == (
        "20% off",
        "Orders over ¥99.50 · At most ¥30 off",
        "Valid 2026-10-01 – 2026-10-08",
        "Whole order",
    )


# --- the editor -----------------------------------------------------------------------------------------------------


def test_the_editor_shows_every_section_the_preview_card_and_its_phrases(owner_client, shop):
    response = owner_client.get(url("coupon_template_create", shop))

    page = text(response)
    for section in ("What it gives", "Where it applies", "Who may have it", "When", "How many"):
        assert section in page
    html = response.content.decode()
    assert "data-coupon-preview" in html and 'id="coupon-card-texts"' in html
    assert "coupons/preview.js" in html
    form = response.context["form"]
    assert set(form.fields) - {"window"} == set(TEMPLATE_FIELDS)
    # the tiers offered are the shop's own ladder
    assert [label for _pk, label in form.fields["audience_tiers"].choices] == [
        "普通会员",
        "高级会员",
        "VIP会员",
        "至尊VIP",
    ]


def test_creating_a_template_saves_every_field_in_the_shops_time_zone(owner_client, shop):
    tier = tiers_of_shop(shop=shop).get(rank=2)
    data = {
        **FORM,
        "name": "VIP 8折",
        "kind": "percent_off",
        "value": "20",
        "min_spend": "",
        "max_discount": "50",
        "scope": "categories",
        "scope_values": "咖啡，茶、 甜点",
        "audience": "tiers",
        "audience_tiers": [str(tier.pk)],
        "claim_starts_at": "2026-06-01T00:00",
        "claim_ends_at": "2026-06-30T23:59",
        "window": "dates",
        "valid_days": "30",
        "valid_from": "2026-06-01T00:00",
        "valid_until": "2026-07-01T00:00",
        "stock": "500",
        "per_member_limit": "2",
        "stackable": "on",
        "points_price": "800",
        "use_channel": "online",
        "on_refund": "void",
        "description": "不与其他优惠同享",
        "shopper_claimable": "on",
    }

    response = owner_client.post(url("coupon_template_create", shop), data)

    template = CouponTemplate.objects.get(shop=shop)
    assert response.status_code == 302
    assert response["Location"] == url("coupon_template", shop, template.pk)
    saved = CouponTemplate.objects.filter(pk=template.pk).values(*TEMPLATE_FIELDS).get()
    assert saved == {
        "name": "VIP 8折",
        "description": "不与其他优惠同享",
        "kind": "percent_off",
        "value": Decimal("20.00"),
        "min_spend": None,
        "max_discount": Decimal("50.00"),
        "item_sku": "",
        "item_name": "",
        "scope": "categories",
        "scope_values": ["咖啡", "茶", "甜点"],
        "audience": "tiers",
        "audience_tiers": [tier.pk],
        "audience_tags": [],
        "audience_segment": None,
        "new_member_days": 30,
        "claim_starts_at": datetime.datetime(2026, 6, 1, tzinfo=SHANGHAI),
        "claim_ends_at": datetime.datetime(2026, 6, 30, 23, 59, tzinfo=SHANGHAI),
        "valid_days": None,  # the fixed dates were chosen: the days typed before are dropped
        "valid_from": datetime.datetime(2026, 6, 1, tzinfo=SHANGHAI),
        "valid_until": datetime.datetime(2026, 7, 1, tzinfo=SHANGHAI),
        "stock": 500,
        "per_member_limit": 2,
        "stackable": True,
        "points_price": 800,
        "use_channel": "online",
        "on_refund": "void",
        "shopper_claimable": True,
    }
    assert AuditLogEntry.objects.filter(shop=shop, action="coupon_template.create").count() == 1
    follow = owner_client.get(response["Location"])
    assert "Coupon VIP 8折 saved." in messages_of(follow)


def test_the_editor_shows_a_saved_template_in_the_shops_time_zone(owner_client, shop):
    template = make_template(
        shop,
        valid_days=None,
        valid_until=datetime.datetime(2026, 7, 1, 9, 30, tzinfo=SHANGHAI),
        scope="skus",
        scope_values=["SKU-1", "SKU-2"],
    )

    response = owner_client.get(url("coupon_template_edit", shop, template.pk))

    form = response.context["form"]
    assert form["valid_until"].value() == datetime.datetime(2026, 7, 1, 9, 30)  # Shanghai's wall clock
    html = response.content.decode()
    assert 'name="valid_until" value="2026-07-01T09:30"' in html
    assert 'value="SKU-1, SKU-2"' in html
    assert form["window"].value() == "dates"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"min_spend": ""}, "min_spend", "An amount-off coupon needs a minimum spend"),
        ({"value": "200"}, "value", "The amount off cannot be more than the minimum spend."),
        ({"kind": "percent_off", "value": "120", "min_spend": ""}, "value", "Give the percentage taken off"),
        ({"scope": "skus", "scope_values": " , "}, "scope_values", "List the categories or SKUs"),
        ({"kind": "gift", "value": "0", "min_spend": ""}, "item_sku", "Give the SKU of the item"),
        ({"audience": "tags"}, "audience_tags", "Choose tags of this shop."),
        ({"window": "days", "valid_days": ""}, "valid_days", "Give the number of days the coupon is valid."),
        ({"window": "dates", "valid_until": ""}, "valid_until", "Give the end of the use window."),
        (
            {"window": "dates", "valid_from": "2026-07-02T00:00", "valid_until": "2026-07-01T00:00"},
            "valid_until",
            "The end of the use window must come after its start.",
        ),
        (
            {"claim_starts_at": "2026-07-02T00:00", "claim_ends_at": "2026-07-01T00:00"},
            "claim_ends_at",
            "Claims must close after they open.",
        ),
        ({"value": "-5"}, "value", "greater than or equal to 0"),
        ({"valid_days": "abc"}, "valid_days", "Enter a whole number."),
        ({"claim_starts_at": "tomorrow"}, "claim_starts_at", "Enter a valid date/time."),
        ({"name": ""}, "name", "This field is required."),
        ({"name": "满100减20\u202e"}, "name", "Remove the invisible character U+202E"),
        ({"item_name": "\x07湿巾"}, "item_name", "Remove the invisible character U+0007"),
        ({"description": "第一行\n\u2067第二行"}, "description", "Remove the invisible character U+2067"),
    ],
)
def test_a_bad_template_shows_each_error_at_its_field_and_saves_nothing(owner_client, shop, changes, field, message):
    response = owner_client.post(url("coupon_template_create", shop), {**FORM, **changes})

    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors.get(field, [])), form.errors
    assert not CouponTemplate.objects.exists()
    assert not AuditLogEntry.objects.filter(action__startswith="coupon_template").exists()


def test_the_service_errors_show_on_every_field_they_name_with_a_summary_above(owner_client, shop):
    response = owner_client.post(url("coupon_template_create", shop), {**FORM, "value": "0", "min_spend": ""})

    form = response.context["form"]
    assert form.errors["value"] == ["Give the amount taken off."]
    assert form.errors["min_spend"] == ["An amount-off coupon needs a minimum spend (use “no threshold” otherwise)."]
    assert form.non_field_errors() == ["Some fields of the coupon are not valid."]
    assert not CouponTemplate.objects.exists()


def test_another_shops_tier_tag_or_segment_is_not_a_choice(owner_client, shop, other_shop):
    foreign_tier = tiers_of_shop(shop=other_shop).get(rank=1)
    foreign_tag = tag_create(shop=other_shop, actor=SYSTEM, name="乙店标签")
    for changes, field in (
        ({"audience": "tiers", "audience_tiers": [str(foreign_tier.pk)]}, "audience_tiers"),
        ({"audience": "tags", "audience_tags": [str(foreign_tag.pk)]}, "audience_tags"),
    ):
        response = owner_client.post(url("coupon_template_create", shop), {**FORM, **changes})
        assert "Select a valid choice" in " ".join(response.context["form"].errors[field])
    assert not CouponTemplate.objects.exists()


def test_values_of_an_audience_not_chosen_are_not_stored(owner_client, shop):
    tier = tiers_of_shop(shop=shop).get(rank=1)
    owner_client.post(
        url("coupon_template_create", shop), {**FORM, "audience_tiers": [str(tier.pk)], "scope_values": "咖啡"}
    )
    template = CouponTemplate.objects.get(shop=shop)
    assert (template.audience, template.audience_tiers, template.scope_values) == ("everyone", [], [])


def test_the_fields_the_editor_hides_are_not_posted_and_keep_their_values(owner_client, shop):
    # The editor's script disables (so the browser leaves out) the fields the chosen options do not use.
    template = make_template(shop, audience="new_members", new_member_days=7)
    hidden = (
        "max_discount",
        "item_sku",
        "item_name",
        "scope_values",
        "audience_tiers",
        "audience_tags",
        "audience_segment",
        "new_member_days",
        "valid_from",
        "valid_until",
    )
    posted = {name: value for name, value in FORM.items() if name not in hidden}

    created = owner_client.post(url("coupon_template_create", shop), posted)
    edited = owner_client.post(url("coupon_template_edit", shop, template.pk), {**posted, "name": "改名"})

    assert created.status_code == edited.status_code == 302
    new = CouponTemplate.objects.exclude(pk=template.pk).get()
    assert (new.name, new.new_member_days, new.valid_days, new.valid_until) == ("满100减20", 30, 30, None)
    template.refresh_from_db()
    assert (template.name, template.audience, template.new_member_days) == ("改名", "everyone", 7)


def test_editing_a_template_changes_it_and_a_bad_edit_changes_nothing(owner_client, shop):
    template = make_template(shop)
    edit = url("coupon_template_edit", shop, template.pk)

    bad = owner_client.post(edit, {**FORM, "value": "150"})
    assert bad.status_code == 200 and "value" in bad.context["form"].errors
    assert CouponTemplate.objects.get(pk=template.pk).value == Decimal(20)

    good = owner_client.post(edit, {**FORM, "name": "满200减30", "value": "30", "min_spend": "200", "stock": "50"})
    assert good.status_code == 302 and good["Location"] == url("coupon_template", shop, template.pk)
    template.refresh_from_db()
    assert (template.name, template.value, template.min_spend, template.stock) == (
        "满200减30",
        Decimal(30),
        Decimal(200),
        50,
    )
    entry = AuditLogEntry.objects.get(shop=shop, action="coupon_template.update")
    assert entry.changes["name"] == ["满100减20", "满200减30"]


def test_the_stock_cannot_go_below_what_was_issued(owner_client, shop):
    template = make_template(shop)
    codes_generate(shop=shop, actor=SYSTEM, template=template, count=5)

    response = owner_client.post(url("coupon_template_edit", shop, template.pk), {**FORM, "stock": "3"})

    assert response.context["form"].errors["stock"] == ["The stock cannot be less than the 5 coupons already issued."]
    assert CouponTemplate.objects.get(pk=template.pk).stock is None


# --- status -------------------------------------------------------------------------------------------------------


def test_pause_resume_and_end_a_template(owner_client, shop):
    template = make_template(shop)
    status_url = url("coupon_template_status", shop, template.pk)
    detail = url("coupon_template", shop, template.pk)

    page = owner_client.get(detail).content.decode()
    assert 'data-confirm="End this coupon for good?' in page

    steps = [
        ("paused", "Coupon paused: no new coupons are issued; those issued stay usable."),
        ("active", "Coupon resumed."),
        ("ended", "Coupon ended: no new coupons are issued; those issued stay usable."),
    ]
    for status, message in steps:
        response = owner_client.post(status_url, {"status": status})
        assert response.status_code == 302 and response["Location"] == detail
        assert CouponTemplate.objects.get(pk=template.pk).status == status
        assert messages_of(owner_client.get(detail)) == [message]

    refused = owner_client.post(status_url, {"status": "active"}, follow=True)
    assert messages_of(refused) == ["An ended coupon cannot be changed."]
    nonsense = owner_client.post(status_url, {"status": "deleted"}, follow=True)
    assert messages_of(nonsense) == ["Choose pause, resume or end."]
    assert CouponTemplate.objects.get(pk=template.pk).status == "ended"
    assert AuditLogEntry.objects.filter(shop=shop, action="coupon_template.status").count() == 3


# --- codes --------------------------------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_generating_codes_then_downloading_that_batch(owner_client, shop):
    template = make_template(shop, stock=10)
    earlier = codes_generate(shop=shop, actor=SYSTEM, template=template, count=2)

    response = owner_client.post(url("coupon_codes_generate", shop, template.pk), {"count": "3"})

    assert response.status_code == 302
    batch = re.search(r"\?batch=([0-9a-f]{12})$", response["Location"]).group(1)
    assert batch != earlier
    page = owner_client.get(response["Location"])
    assert "3 codes generated." in messages_of(page)
    assert f"codes.csv?batch={batch}" in page.content.decode()
    download = owner_client.get(url("coupon_codes_download", shop, template.pk), {"batch": batch})
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-cache" in download["Cache-Control"]
    rows = csv_rows(download)
    assert rows[0] == ["Code", "Status"]
    codes = {c.code for c in Coupon.objects.filter(template=template, idempotency_key__contains=batch)}
    assert len(codes) == 3
    assert {row[0].replace("-", "") for row in rows[1:]} == codes
    assert all(re.fullmatch(r"[0-9A-F]{4}(-[0-9A-F]{4}){3}", row[0]) for row in rows[1:])
    assert {row[1] for row in rows[1:]} == {"Available"}
    # without a batch: every code no member holds yet
    assert len(csv_rows(owner_client.get(url("coupon_codes_download", shop, template.pk)))) == 1 + 5
    assert CouponTemplate.objects.get(pk=template.pk).issued == 5
    assert owner_client.get(url("coupon_codes_download", shop, template.pk), {"batch": "%"}).status_code == 404


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("11", "This coupon has run out."),
        ("x", "Enter a whole number."),
    ],
)
def test_generating_too_many_or_bad_counts_is_refused_and_issues_nothing(owner_client, shop, count, message):
    template = make_template(shop, stock=10)

    response = owner_client.post(url("coupon_codes_generate", shop, template.pk), {"count": count})

    assert response.status_code == 200
    assert message in text(response)
    assert not Coupon.objects.exists() and CouponTemplate.objects.get(pk=template.pk).issued == 0


def test_a_paused_template_makes_no_codes(owner_client, shop):
    template = make_template(shop)
    template_set_status(shop=shop, actor=SYSTEM, template=template, status="paused")
    response = owner_client.post(url("coupon_codes_generate", shop, template.pk), {"count": "2"})
    assert "This coupon is paused or has ended." in text(response)
    assert not Coupon.objects.exists()


def upload(name: str, content: str | bytes, encoding: str = "utf-8") -> SimpleUploadedFile:
    data = content.encode(encoding) if isinstance(content, str) else content
    return SimpleUploadedFile(name, data)


def test_importing_a_utf8_csv_takes_its_first_column_and_skips_the_heading_and_blank_lines(owner_client, shop):
    template = make_template(shop)
    content = "\ufeff券码,备注\nabcd-1234,第一张\n\nEFGH 5678,第二张\n"

    response = owner_client.post(url("coupon_codes_import", shop, template.pk), {"file": upload("codes.csv", content)})

    assert response.status_code == 302 and "?batch=" in response["Location"]
    coupons = Coupon.objects.filter(template=template).order_by("code")
    assert [(c.code, c.source, c.member_id) for c in coupons] == [
        ("ABCD1234", Source.IMPORTED, None),
        ("EFGH5678", Source.IMPORTED, None),
    ]
    assert "2 codes imported." in messages_of(owner_client.get(response["Location"]))


def test_importing_a_gbk_text_file_from_excel(owner_client, shop):
    template = make_template(shop)
    content = "券码\r\nVIP0001\r\nVIP0002\r\n"

    response = owner_client.post(
        url("coupon_codes_import", shop, template.pk), {"file": upload("优惠码.txt", content, "gbk")}
    )

    assert response.status_code == 302
    assert sorted(Coupon.objects.filter(template=template).values_list("code", flat=True)) == ["VIP0001", "VIP0002"]


def test_a_file_with_bad_lines_is_refused_whole_with_each_line_named(owner_client, shop):
    template = make_template(shop)
    codes_generate(shop=shop, actor=SYSTEM, template=template, count=1)
    taken = Coupon.objects.get(template=template).code
    content = f"code\nGOOD0001\n\nBAD!\nGOOD0002\ngood-0001\n{taken}\n"

    response = owner_client.post(url("coupon_codes_import", shop, template.pk), {"file": upload("c.txt", content)})

    assert response.status_code == 200
    assert response.context["import_errors"] == [
        {"line": 4, "code": "BAD!", "message": "Use 4 to 32 letters and digits."},
        {"line": 6, "code": "GOOD0001", "message": "Repeats line 2."},
        {"line": 7, "code": taken, "message": "This code already exists in the shop."},
    ]
    assert "Nothing was imported" in text(response)
    assert Coupon.objects.filter(template=template).count() == 1
    assert CouponTemplate.objects.get(pk=template.pk).issued == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("codes.csv", b"\xff\xfe\x00A\x00B\x00", "The file is not UTF-8 or GBK text"),
        ("codes.xlsx", b"ABCD1234\n", "Upload a .csv or .txt file."),
        ("codes.csv", b"PK\x03\x04rest-of-a-zip", "This is a spreadsheet"),
        ("codes.csv", b"\n\n", "The file holds no codes."),
        ("codes.csv", b'"ABCD1234\nEFGH', "The file is not valid CSV"),
        ("codes.txt", b"A" * (2 * 1024 * 1024 + 1), "The file is larger than 2 MB."),
        ("codes.txt", "".join(f"C{n:07d}\n" for n in range(20_001)).encode(), "Import at most 20,000 codes"),
    ],
)
def test_a_broken_file_is_refused_with_a_clear_error_and_imports_nothing(owner_client, shop, name, content, message):
    template = make_template(shop)

    response = owner_client.post(url("coupon_codes_import", shop, template.pk), {"file": upload(name, content)})

    assert response.status_code == 200
    assert message in " ".join(response.context["import_form"].errors["file"])
    assert not Coupon.objects.exists()


# --- tier gifts ---------------------------------------------------------------------------------------------------


def test_adding_and_removing_tier_gifts(owner_client, shop):
    template = make_template(shop, name="生日券")
    vip = tiers_of_shop(shop=shop).get(rank=2)
    page = url("coupon_tier_gifts", shop)

    response = owner_client.post(
        page, {"tier": vip.pk, "occasion": "birthday", "template": template.pk, "quantity": "2"}
    )

    assert response.status_code == 302 and response["Location"] == page
    gift = TierGift.objects.get(shop=shop)
    assert (gift.tier_id, gift.occasion, gift.template_id, gift.quantity) == (vip.pk, "birthday", template.pk, 2)
    listing = owner_client.get(page)
    assert "Tier gift added." in messages_of(listing)
    section = re.search(r'data-testid="tier-gifts-2">(.*?)</section>', listing.content.decode(), re.S).group(1)
    assert "生日券" in section and "× 2" in section and "Birthday" in section

    removed = owner_client.post(url("coupon_tier_gift_remove", shop, gift.pk), follow=True)
    assert not TierGift.objects.exists()
    assert messages_of(removed) == ["Tier gift removed. Coupons already given stay with their members."]
    assert list(
        AuditLogEntry.objects.filter(shop=shop, action__startswith="tier_gift")
        .values_list("action", flat=True)
        .order_by("pk")
    ) == ["tier_gift.add", "tier_gift.remove"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"quantity": "21"}, "quantity", "Ensure this value is less than or equal to 20."),
        ({"quantity": "0"}, "quantity", "Ensure this value is greater than or equal to 1."),
        ({"occasion": "weekly"}, "occasion", "Select a valid choice."),
        ({"occasion": "upgrade", "tier": "base"}, "occasion", "nobody reaches it"),
        ({}, "template", "This tier already gets this coupon on this occasion"),
    ],
)
def test_a_bad_tier_gift_is_refused_at_its_field_and_nothing_is_added(owner_client, shop, changes, field, message):
    template = make_template(shop)
    tiers = list(tiers_of_shop(shop=shop))
    tier_gift_add(shop=shop, actor=SYSTEM, tier=tiers[1], occasion="monthly", template=template, quantity=1)
    data = {"tier": tiers[1].pk, "occasion": "monthly", "template": template.pk, "quantity": "1", **changes}
    if data["tier"] == "base":
        data["tier"] = tiers[0].pk

    response = owner_client.post(url("coupon_tier_gifts", shop), data)

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field]), response.context["form"].errors
    assert TierGift.objects.count() == 1


def test_another_shops_template_or_tier_cannot_be_given(owner_client, shop, other_shop):
    mine = make_template(shop)
    theirs = make_template(other_shop)
    my_tier, their_tier = tiers_of_shop(shop=shop).get(rank=1), tiers_of_shop(shop=other_shop).get(rank=1)

    wrong_template = owner_client.post(
        url("coupon_tier_gifts", shop),
        {"tier": my_tier.pk, "occasion": "monthly", "template": theirs.pk, "quantity": "1"},
    )
    wrong_tier = owner_client.post(
        url("coupon_tier_gifts", shop),
        {"tier": their_tier.pk, "occasion": "monthly", "template": mine.pk, "quantity": "1"},
    )

    assert "Select a valid choice" in " ".join(wrong_template.context["form"].errors["template"])
    assert "Select a valid choice" in " ".join(wrong_tier.context["lost_errors"])
    assert not TierGift.objects.exists()
    with pytest.raises(InvalidTierGift):
        tier_gift_add(shop=shop, actor=SYSTEM, tier=their_tier, occasion="monthly", template=mine, quantity=1)
    with pytest.raises(InvalidTierGift):
        tier_gift_add(shop=shop, actor=SYSTEM, tier=my_tier, occasion="monthly", template=theirs, quantity=1)
    assert not TierGift.objects.exists()


def test_an_ended_template_is_not_offered_as_a_tier_gift(owner_client, shop):
    ended = make_template(shop, name="已结束")
    template_set_status(shop=shop, actor=SYSTEM, template=ended, status="ended")
    ended.refresh_from_db()
    tier = tiers_of_shop(shop=shop).get(rank=1)

    response = owner_client.get(url("coupon_tier_gifts", shop))

    assert "There is no coupon to give yet." in text(response)
    with pytest.raises(InvalidTierGift, match="This coupon has ended"):
        tier_gift_add(shop=shop, actor=SYSTEM, tier=tier, occasion=Occasion.MONTHLY, template=ended, quantity=1)


# --- other shops --------------------------------------------------------------------------------------------------


def test_another_shops_template_answers_404_everywhere_and_stays_unchanged(owner_client, shop, other_shop):
    theirs = make_template(other_shop)
    before = templates_state(other_shop)
    gets = ["coupon_template", "coupon_template_edit", "coupon_codes_download"]
    posts = {
        "coupon_template_edit": {**FORM, "name": "偷改"},
        "coupon_template_status": {"status": "ended"},
        "coupon_codes_generate": {"count": "5"},
        "coupon_codes_import": {"file": upload("c.txt", "ABCD1234\n")},
    }

    for name in gets:
        assert owner_client.get(url(name, shop, theirs.pk)).status_code == 404, name
    for name, data in posts.items():
        assert owner_client.post(url(name, shop, theirs.pk), data).status_code == 404, name

    assert templates_state(other_shop) == before
    assert not Coupon.objects.exists()
    assert theirs.name not in text(owner_client.get(url("coupon_templates", shop)))
