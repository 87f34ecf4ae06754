"""The analytics pages and the overview against hand-computed examples (SPEC 14): the orders of
tests/analytics/test_rollups.py (a cancelled order, a full refund, a partial refund, a non-member's order, orders
on either side of the shop's midnight; the late refund is there too), points earned, redeemed and expired with a
points-as-cash rate, coupons issued and redeemed. Every figure is read off the page as the merchant sees it."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import PointsExpiryMonth
from analytics.rollups import points_expiry_snapshot, rollup_days, rollup_pass
from coupons.issuance import coupon_issue
from coupons.redemption import coupon_redeem
from coupons.rules import Cart
from orders.services import RefundInput, refund_record
from points.expiry import points_expire
from points.models import PointsProgram
from points.services import points_earn, points_redeem
from shops.roles import Role
from tests.analytics.test_rollups import D1, D2, D3, at, facts, order  # noqa: F401 - the shared fixture
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.pages import staff_client, text, url

pytestmark = pytest.mark.django_db

PAGES = ("analytics", "analytics_sales", "analytics_members", "analytics_points", "analytics_coupons")
PERIOD = {"from": D1.isoformat(), "to": D2.isoformat()}


def page(client, shop, name, language="zh-hans", **params):
    client.cookies["django_language"] = language
    return client.get(url(name, shop), {**PERIOD, **params})


@pytest.fixture
def rolled(shop, facts):  # noqa: F811
    rollup_days(shop=shop, first=D1 - datetime.timedelta(days=2), last=D3)
    return facts


@pytest.mark.parametrize("role", [Role.OWNER, Role.ANALYST, Role.MARKETER])
def test_every_page_renders_for_those_who_read_analytics(client, shop, role, rolled):
    staff_client(client, shop, role)
    phones = [member.phone for member in rolled["members"]]
    for name in PAGES:
        for language in ("zh-hans", "en"):
            response = page(client, shop, name, language)
            assert response.status_code == 200, (name, language)
            html = response.content.decode()
            assert "<svg" in html
            # No phone number on any page, in either form it is written.
            assert not [p for p in phones if p in html or p.removeprefix("+86") in html], (name, language)


def test_a_clerk_is_refused_the_pages_and_sees_no_figure_on_the_overview(client, shop, rolled):
    staff_client(client, shop, Role.CLERK)
    for name in PAGES:
        assert page(client, shop, name).status_code == 403, name
    home = client.get(url("home", shop))
    assert home.status_code == 200
    html = home.content.decode()
    assert 'data-testid="overview-figures"' not in html and "¥" not in html
    assert f'href="{url("members", shop)}"' in html and url("analytics", shop) not in html


def test_sales_figures_are_the_hand_computed_ones(client, shop, rolled):
    staff_client(client, shop, Role.ANALYST)
    body = text(page(client, shop, "analytics_sales"))
    # D1: A1 100 + A2 50 + N1 30 + C2 (100 - 40) = 240 over 4 orders; D2: B1 80. Members 290 over 4, N1 30 over 1.
    assert "销售额 ¥320.00" in body
    assert "订单 5 " in body
    assert "会员销售占比 90.6%" in body  # 290 / 320
    assert "会员客单价 ¥72.50" in body and "非会员客单价 ¥30.00" in body
    assert "会员 4 ¥290.00 ¥72.50" in body and "非会员 1 ¥30.00 ¥30.00" in body and "全部 5 ¥320.00 ¥64.00" in body
    english = text(page(client, shop, "analytics_sales", "en"))
    assert "Sales ¥320.00" in english and "Member share of sales 90.6%" in english
    assert "unless cancelled" not in english and "cancelled and fully refunded orders do not count" in english


def test_member_figures_and_the_repeat_rate(client, shop, rolled):
    staff_client(client, shop, Role.ANALYST)
    body = text(page(client, shop, "analytics_members", "en"))
    assert "New members 3 " in body and "Active members 3 " in body and "Members 3 " in body
    assert "Repeat purchase rate 33.3%" in body  # A bought twice (D1); B and C once each
    assert "Members with at least 2 counted orders in the period over members with at least 1." in body
    assert "No channel 3" in body  # the three joined through no channel


def test_the_trends_page_puts_the_previous_period_beside(client, shop, rolled):
    staff_client(client, shop, Role.ANALYST)
    response = page(client, shop, "analytics", "en", format="csv", table="trend")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("2026-11-10,2026-11-10,240.00,4,0.8750,3,2,")  # D1: members 210 of 240; A and C bought
    assert lines[2].startswith("2026-11-11,2026-11-11,80.00,1,1.0000,0,1,")
    assert lines[1].endswith(",0.00,0,,0,0")  # the day two days before: nothing


def test_a_late_refund_shows_once_its_day_is_rolled_again(client, shop, rolled):
    refund_record(shop=shop, order=rolled["orders"]["a"], data=RefundInput(external_id="R-late", amount=Decimal("20")))
    rollup_days(shop=shop, first=D1, last=D1)
    staff_client(client, shop, Role.ANALYST)
    assert "销售额 ¥300.00" in text(page(client, shop, "analytics_sales"))


def test_the_csv_exports_open_in_excel(client, shop, rolled):
    staff_client(client, shop, Role.ANALYST)
    response = page(client, shop, "analytics_sales", format="csv", table="sales")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="{shop.slug}-sales-2026-11-10-2026-11-11.csv"' in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = response.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "购买者,订单,销售额,客单价,上期订单数,上期销售额"
    assert rows[1:] == ["会员,4,290.00,72.50,0,0.00", "非会员,1,30.00,30.00,0,0.00", "全部,5,320.00,64.00,0,0.00"]
    for name in PAGES:
        html = page(client, shop, name).content.decode()
        assert "format=csv" in html, name
    assert page(client, shop, "analytics_sales", format="csv", table="nope").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-13-01", "to": "2026-11-11"},
        {"from": "2026-11-11", "to": "2026-11-10"},
        {"from": "1999-01-01", "to": "1999-01-02"},
        {"from": "2020-01-01", "to": "2026-11-11"},
        {"from": "x", "to": ""},
        {"range": "nonsense", "grain": "hour"},
    ],
)
def test_bad_dates_give_a_message_and_the_default_period(client, shop, params):
    staff_client(client, shop, Role.ANALYST)
    client.cookies["django_language"] = "en"
    response = client.get(url("analytics_sales", shop), params)
    assert response.status_code == 200
    if "from" in params:
        assert [str(m) for m in response.context["messages"]]
    assert response.context["period"].preset == "30"


@pytest.fixture
def points_facts(shop):
    """Member A earns 10,000 on D1 (expiring next June), B earns 2,000 on D1 expiring on D2 at noon and redeems 500
    that evening; the rest of B's (1,500) expires on D2; A redeems 4,500 on D2. 100 points pay 1 yuan."""
    PointsProgram.objects.filter(shop=shop).update(points_per_cash_unit=100)
    a, b = MemberFactory(shop=shop), MemberFactory(shop=shop)
    with time_machine.travel(at(shop, D1, 10), tick=False):
        points_earn(shop=shop, member=a, points=10_000, idempotency_key="e-a", now=at(shop, D1, 10),
                    expires_at=at(shop, datetime.date(2027, 6, 30), 23))  # fmt: skip
        points_earn(shop=shop, member=b, points=2_000, idempotency_key="e-b", now=at(shop, D1, 10),
                    expires_at=at(shop, D2, 12))  # fmt: skip
    with time_machine.travel(at(shop, D1, 20), tick=False):
        points_redeem(shop=shop, member=b, points=500, idempotency_key="r-b")
    with time_machine.travel(at(shop, D2, 13), tick=False):
        assert points_expire(shop=shop, now=at(shop, D2, 13)) == 1
        points_redeem(shop=shop, member=a, points=4_500, idempotency_key="r-a")
    rollup_days(shop=shop, first=D1, last=D3)
    points_expiry_snapshot(shop=shop, taken_on=D3)


def test_points_figures_liability_breakage_and_the_ifrs_view(client, shop, points_facts):
    staff_client(client, shop, Role.ANALYST)
    body = text(page(client, shop, "analytics_points", "en"))
    assert "Points issued 12,000 " in body
    assert "Points redeemed 5,000 " in body
    assert "Points expired 1,500 " in body
    assert "Points outstanding 5,500 " in body  # 12,000 - 5,000 - 1,500
    assert "Points liability ¥55.00 " in body  # 5,500 / 100
    assert "Breakage rate 23.1% " in body  # 1,500 / (1,500 + 5,000)
    # IFRS 15: allocated 120.00; expected 12,000 x (1 - 0.2308) = 9,230; recognised 120 x 5,000 / 9,230 = 65.01
    assert "(allocated) ¥120.00" in body and "9,230 (76.9%)" in body
    assert "Recognised as points were redeemed ¥65.01" in body and "Still deferred ¥54.99" in body
    assert "2027-06 5,500 ¥55.00" in body  # by expiry month; B's lot is spent and expired
    zh = text(page(client, shop, "analytics_points"))
    assert "积分发放 1.2万" in zh  # 万 in zh-Hans


def test_the_daily_pass_writes_the_points_expiry_snapshot(shop, points_facts):
    PointsExpiryMonth.objects.filter(shop=shop).delete()
    rollup_pass(shop=shop, now=at(shop, D3, 1))
    assert list(PointsExpiryMonth.objects.filter(shop=shop).values_list("month", "points", "taken_on")) == [
        (datetime.date(2027, 6, 1), 5_500, D3)
    ]


def test_coupon_figures(client, shop, facts):  # noqa: F811
    a, b, c = facts["members"]
    template = CouponTemplateFactory(shop=shop, valid_days=60)
    coupons = [
        coupon_issue(shop=shop, member=m, template=template, idempotency_key=f"k{m.pk}", source="grant",
                     check_audience=False, now=at(shop, D1, 9, 30)).coupon
        for m in (a, b, c)
    ]  # fmt: skip
    coupon_redeem(shop=shop, code=coupons[0].code, member=a, order_external_id="A1", cart=Cart(Decimal("100")),
                  now=at(shop, D1, 10))  # fmt: skip
    rollup_days(shop=shop, first=D1, last=D3)
    staff_client(client, shop, Role.ANALYST)
    body = text(page(client, shop, "analytics_coupons", "en"))
    assert "Coupons issued 3 " in body and "Coupons redeemed 1 " in body
    assert "Redemption rate 33.3% " in body and "Discount given ¥20.00 " in body
    assert "Orders with a coupon 1 " in body and "Sales with a coupon ¥100.00 " in body


def test_the_overview_shows_the_last_30_days_against_the_30_before(client, shop, rolled):
    staff_client(client, shop, Role.ANALYST)
    with time_machine.travel(at(shop, D3, 10), tick=False):  # the last 30 days end on D2
        body = text(client.get(url("home", shop), headers={"accept-language": "en"}))
    assert "Sales ¥320.00 " in body and "Orders 5 " in body and "New members 3 " in body
    assert "Repeat purchase rate 33.3%" in body
    assert "Points liability" in body


def _queries(client, shop, name) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert page(client, shop, name).status_code == 200
    return len(queries)


def test_a_page_costs_the_same_queries_whatever_the_number_of_orders(
    client, shop, rolled, django_assert_max_num_queries
):
    staff_client(client, shop, Role.OWNER)
    before = {name: _queries(client, shop, name) for name in (*PAGES, "home")}
    for name in (*PAGES, "home"):
        with django_assert_max_num_queries(40):
            page(client, shop, name)
    buyer = MemberFactory(shop=shop)
    for i in range(30):
        order(shop, f"MORE-{i}", "10.00", at(shop, D1, 8) + datetime.timedelta(minutes=i), buyer if i % 2 else None)
    rollup_days(shop=shop, first=D1, last=D3)
    assert {name: _queries(client, shop, name) for name in (*PAGES, "home")} == before


def test_another_shops_figures_never_show(client, shop, other_shop, rolled):
    staff_client(client, shop, Role.ANALYST)
    rollup_days(shop=other_shop, first=D1, last=D3)
    body = text(page(client, shop, "analytics_sales", "en"))
    assert "Sales ¥320.00 " in body and "999" not in body  # the other shop's order of 999.00 on D1
