"""The orders dashboard: the list (newest first, keyset pages, status and date filters, lookup by number, masked
phones) and one order with its items, refunds and member."""

import datetime
import zoneinfo
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from members.services import Enrolment, member_enroll
from orders import views as order_views
from orders.models import Order, OrderStatus
from orders.services import ItemInput, OrderInput, RefundInput, order_change_status, order_record, refund_record
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from tests.factories import add_staff
from tests.pages import url

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def record(shop, external_id, amount="10.00", paid_at=None, member=None, items=(), status=OrderStatus.PAID) -> Order:
    return order_record(
        shop=shop,
        data=OrderInput(
            external_id=external_id,
            amount=Decimal(amount),
            paid_at=paid_at or timezone.now(),
            member_id=member.pk if member else None,
            items=tuple(items),
            status=status,
        ),
    ).order


def numbers(response) -> list[str]:
    return [o.external_id for o in response.context["orders"]]


@pytest.fixture
def member(shop):
    member, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="张三"))
    return member


@pytest.mark.parametrize("role", Role.values)
def test_order_pages_render_for_roles_that_may_and_answer_403_otherwise(client, shop, member, role):
    order = record(shop, "O-1", member=member)
    user = shop.staffmembership_set.get().user if role == Role.OWNER else add_staff(shop, role)
    client.force_login(user)
    allowed = Perm.ORDERS_VIEW in ROLE_PERMISSIONS[role]
    for page in (url("orders", shop), url("order", shop, order.pk)):
        assert client.get(page).status_code == (200 if allowed else 403), (role, page)


def test_the_list_is_newest_first_with_member_links_and_masked_phones(owner_client, shop, member, other_shop):
    now = timezone.now()
    record(shop, "OLD", paid_at=now - datetime.timedelta(days=2), member=member)
    record(shop, "NEW", paid_at=now - datetime.timedelta(hours=1))
    record(shop, "MID", paid_at=now - datetime.timedelta(days=1), member=member)
    record(other_shop, "ELSEWHERE")
    response = owner_client.get(url("orders", shop))
    assert numbers(response) == ["NEW", "MID", "OLD"]
    html = response.content.decode()
    assert "138****8000" in html and "13800138000" not in html
    assert url("member", shop, member.pk) in html
    assert "Non-member" in html


def test_status_and_date_filters_give_exact_orders(owner_client, shop, member):
    # days are the shop's (Shanghai): 23:30 on 1 March there is still 1 March
    day = lambda d, h, m=0: datetime.datetime(2026, 3, d, h, m, tzinfo=SHANGHAI)  # noqa: E731
    record(shop, "MAR1-LATE", paid_at=day(1, 23, 30))
    record(shop, "MAR2-EARLY", paid_at=day(2, 0, 10), status=OrderStatus.COMPLETED)
    record(shop, "MAR3", paid_at=day(3, 12))
    cancelled = record(shop, "MAR2-NOON", paid_at=day(2, 12))
    order_change_status(shop=shop, order=cancelled, status=OrderStatus.CANCELLED)
    get = lambda q: numbers(owner_client.get(url("orders", shop) + "?" + q))  # noqa: E731
    assert get("paid_from=2026-03-02&paid_to=2026-03-02") == ["MAR2-NOON", "MAR2-EARLY"]
    assert get("paid_to=2026-03-01") == ["MAR1-LATE"]
    assert get("paid_from=2026-03-03") == ["MAR3"]
    assert get("status=cancelled") == ["MAR2-NOON"]
    assert get("status=completed&paid_from=2026-03-01") == ["MAR2-EARLY"]


def test_bad_filters_show_their_errors_and_no_500(owner_client, shop):
    response = owner_client.get(url("orders", shop) + "?status=lost&paid_from=yesterday&after=x")
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"status", "paid_from"}
    backwards = owner_client.get(url("orders", shop) + "?paid_from=2026-03-05&paid_to=2026-03-01")
    assert set(backwards.context["form"].errors) == {"paid_to"}


def test_keyset_pages_walk_every_order_exactly_once_forwards_and_back(owner_client, shop, monkeypatch):
    monkeypatch.setattr(order_views, "PAGE_SIZE", 4)
    at = timezone.now() - datetime.timedelta(days=1)
    for i in range(11):  # ties on paid time: the id decides
        record(shop, f"K{i:02d}", paid_at=at - datetime.timedelta(hours=i // 3))
    everyone = list(Order.objects.filter(shop=shop).order_by("-paid_at", "-pk").values_list("external_id", flat=True))
    pages, target = [], url("orders", shop) + "?status=paid"
    while target:
        response = owner_client.get(target)
        pages.append(numbers(response))
        target = response.context["next_url"]
    assert [n for page in pages for n in page] == everyone
    assert [len(p) for p in pages] == [4, 4, 3]
    assert parse_qs(urlsplit(response.context["prev_url"]).query)["status"] == ["paid"]
    back = owner_client.get(response.context["prev_url"])
    assert numbers(back) == pages[1]
    assert numbers(owner_client.get(back.context["prev_url"])) == pages[0]


def test_an_order_number_opens_that_order_and_an_unknown_one_says_so(owner_client, shop, other_shop):
    order = record(shop, "PLAT-778")
    record(other_shop, "THEIRS")
    assert owner_client.get(url("orders", shop) + "?number=PLAT-778")["Location"] == url("order", shop, order.pk)
    missing = owner_client.get(url("orders", shop) + "?number=THEIRS")
    assert missing.status_code == 200
    assert [str(m) for m in missing.context["messages"]] == ["No order with the number THEIRS."]


def test_the_order_page_shows_items_refunds_and_the_member(owner_client, shop, member):
    order = record(
        shop,
        "D-1",
        amount="120.00",
        member=member,
        items=[
            ItemInput(sku="TEA-1", quantity=2, unit_price=Decimal("40.00"), name="龙井", category="茶"),
            ItemInput(sku="CUP-1", quantity=1, unit_price=Decimal("40.00"), name="杯"),
        ],
    )
    refund_record(shop=shop, order=order, data=RefundInput(external_id="RF-1", amount=Decimal("40.00")))
    response = owner_client.get(url("order", shop, order.pk))
    assert [(i.sku, i.subtotal) for i in response.context["items"]] == [
        ("TEA-1", Decimal("80.00")),
        ("CUP-1", Decimal("40.00")),
    ]
    assert [r.external_id for r in response.context["refunds"]] == ["RF-1"]
    assert response.context["net"] == Decimal("80.00")
    html = response.content.decode()
    assert "Partially refunded" in html and "龙井" in html and "138****8000" in html and "13800138000" not in html
    assert url("member", shop, member.pk) in html
