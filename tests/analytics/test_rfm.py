"""RFM against hand-computed scores (SPEC 14): score = 1 + floor(5 * members with a lower value / members), ties
share a score, members who never ordered (and erased ones) are not scored, each of the eight groups is reached, the
filter keys select a cell or a group through the scores, and a cell or group is one click from a segment and a
campaign."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import MemberRfm, RfmCell
from analytics.rfm import rfm_compute, rfm_grid, rfm_segment
from members.filters import InvalidFilter, member_filter
from members.models import Member, Segment
from members.services import member_erase
from orders.services import OrderInput, order_record
from shops.roles import Role
from shops.services import SYSTEM
from tests.factories import MemberFactory, add_staff

pytestmark = pytest.mark.django_db

BASE = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)


def scored(shop, *, last_days: int, orders: int, spend) -> Member:
    """A member with these cached figures. The RFM reads only members' cached columns; setting them directly keeps
    the example hand-computable (test_scores_from_real_orders goes through the orders service)."""
    member = MemberFactory(shop=shop)
    Member.objects.filter(pk=member.pk).update(
        last_order_at=BASE + datetime.timedelta(days=last_days), order_count=orders, lifetime_spend=Decimal(spend)
    )
    return member


@pytest.fixture
def eight(shop):
    """Member i has M high when bit 2 of i is set, R high with bit 1, F high with bit 0; values are distinct and those
    with the bit set rank in the upper half (lower counts 4-7 of 8: scores 3-5)."""
    members = []
    for i in range(8):
        m_bit, r_bit, f_bit = i >> 2 & 1, i >> 1 & 1, i & 1
        members.append(scored(shop, last_days=r_bit * 10 + i, orders=f_bit * 10 + i + 1, spend=m_bit * 100 + i))
    return members


# Hand-computed: with 8 members, lower counts 0..7 give scores 1,1,2,2,3,4,4,5.
EIGHT = [
    (1, 1, 1, "ordinary_win_back"),
    (1, 3, 1, "ordinary_keep"),
    (3, 1, 2, "ordinary_develop"),
    (4, 4, 2, "ordinary_value"),
    (2, 2, 3, "important_win_back"),
    (2, 4, 4, "important_keep"),
    (4, 2, 4, "important_develop"),
    (5, 5, 5, "important_value"),
]


def scores(shop, members):
    rows = {r.member_id: (r.r, r.f, r.m, r.group) for r in MemberRfm.objects.filter(shop=shop)}
    return [rows.get(m.pk) for m in members]


def test_each_of_the_eight_groups_is_reached(shop, eight):
    assert rfm_compute(shop=shop) == 8
    assert scores(shop, eight) == EIGHT


def test_ties_share_a_score_whatever_the_row_order(shop):
    # order counts 1, 1, 1, 2, 5: lower counts 0, 0, 0, 3, 4 -> F 1, 1, 1, 4, 5 (F 2 and 3 stay empty)
    counts = [1, 5, 1, 2, 1]
    members = [scored(shop, last_days=i, orders=n, spend=10 * (i + 1)) for i, n in enumerate(counts)]
    rfm_compute(shop=shop)
    assert [s[1] for s in scores(shop, members)] == [1, 5, 1, 4, 1]
    assert [s[0] for s in scores(shop, members)] == [1, 2, 3, 4, 5]  # R: distinct times, a fifth each


def test_members_without_orders_and_erased_members_are_not_scored(shop):
    buyer = scored(shop, last_days=1, orders=1, spend=10)
    never = MemberFactory(shop=shop)
    erased = scored(shop, last_days=2, orders=3, spend=30)
    member_erase(shop=shop, member=erased, actor=SYSTEM)
    rfm_compute(shop=shop)
    assert scores(shop, [buyer, never, erased]) == [(1, 1, 1, "ordinary_win_back"), None, None]


def test_scores_from_real_orders(shop):
    a, b = MemberFactory(shop=shop), MemberFactory(shop=shop)
    now = timezone.now()
    for n, (member, amount, days_ago) in enumerate([(a, "300.00", 30), (a, "200.00", 2), (b, "50.00", 10)]):
        data = OrderInput(
            external_id=f"O{n}", amount=Decimal(amount), paid_at=now - datetime.timedelta(days=days_ago),
            member_id=member.pk,
        )  # fmt: skip
        order_record(shop=shop, data=data)
    rfm_compute(shop=shop)
    # a: last order 2 days ago, 2 orders, 500 spent; b: 10 days ago, 1 order, 50 -> a has the higher score each time
    assert scores(shop, [a, b]) == [(3, 3, 3, "important_value"), (1, 1, 1, "ordinary_win_back")]


def test_running_twice_changes_nothing_and_cells_sum_up(shop, eight):
    rfm_compute(shop=shop)
    first = sorted(MemberRfm.objects.filter(shop=shop).values_list("member_id", "r", "f", "m", "group"))
    cells = sorted(RfmCell.objects.filter(shop=shop).values_list("r", "f", "m", "members", "spend"))
    rfm_compute(shop=shop)
    assert sorted(MemberRfm.objects.filter(shop=shop).values_list("member_id", "r", "f", "m", "group")) == first
    assert sorted(RfmCell.objects.filter(shop=shop).values_list("r", "f", "m", "members", "spend")) == cells
    grid = rfm_grid(shop=shop)
    assert grid["total"] == 8
    assert grid["grid"][(5, 5)]["members"] == 1 and grid["grid"][(5, 5)]["spend"] == Decimal("107.00")
    assert {g["group"]: g["members"] for g in grid["groups"]} == {row[3]: 1 for row in EIGHT}


def test_another_shops_members_are_never_scored_here(shop, other_shop, eight):
    outsider = scored(other_shop, last_days=100, orders=100, spend=100000)
    rfm_compute(shop=shop)
    assert scores(shop, eight) == EIGHT  # the outsider's figures would have moved every score
    assert not MemberRfm.objects.filter(member=outsider).exists()
    rfm_compute(shop=other_shop)
    assert scores(other_shop, [outsider]) == [(1, 1, 1, "ordinary_win_back")]
    assert MemberRfm.objects.filter(shop=shop).count() == 8


def test_filter_keys_select_a_cell_or_a_group(shop, other_shop, eight):
    rfm_compute(shop=shop)
    outsider = scored(other_shop, last_days=1, orders=1, spend=1)
    rfm_compute(shop=other_shop)  # R1F1M1 there too: never selected here

    def pks(definition):
        return set(member_filter(shop=shop, definition=definition).values_list("pk", flat=True))

    assert pks({"rfm": ["R5F5"]}) == {eight[7].pk}
    assert pks({"rfm": ["R1F1", "R1F3M1"]}) == {eight[0].pk, eight[1].pk}
    assert pks({"rfm": ["R1F1M2"]}) == set()
    assert pks({"rfm_groups": ["important_keep", "ordinary_develop"]}) == {eight[5].pk, eight[2].pk}
    assert pks({"rfm_groups": ["ordinary_win_back"]}) == {eight[0].pk}
    assert outsider.pk not in pks({"rfm": [f"R{r}F{f}" for r in range(1, 6) for f in range(1, 6)]})
    for bad in ({"rfm": ["R6F1"]}, {"rfm": "X"}, {"rfm": [1]}, {"rfm_groups": ["vip"]}):
        with pytest.raises(InvalidFilter):
            member_filter(shop=shop, definition=bad)


def test_a_group_segment_is_made_once_and_reused(shop, eight):
    rfm_compute(shop=shop)
    first = rfm_segment(shop=shop, actor=SYSTEM, definition={"rfm_groups": ["important_value"]}, name="RFM A")
    again = rfm_segment(shop=shop, actor=SYSTEM, definition={"rfm_groups": ["important_value"]}, name="RFM A")
    assert again.pk == first.pk and first.last_count == 1
    other = rfm_segment(shop=shop, actor=SYSTEM, definition={"rfm": ["R5F5"]}, name="RFM A")  # the name is taken
    assert other.name == "RFM A (2)" and Segment.objects.filter(shop=shop).count() == 2


def test_pages_render_for_owner_and_analyst_not_clerk(shop, owner, eight, client):
    rfm_compute(shop=shop)
    users = {Role.OWNER: owner, Role.ANALYST: add_staff(shop, Role.ANALYST), Role.CLERK: add_staff(shop, Role.CLERK)}
    for name in ("analytics_rfm", "analytics_cohorts", "analytics_pairs"):
        url = reverse(f"dashboard:{name}", args=[shop.slug])
        for role, status in ((Role.OWNER, 200), (Role.ANALYST, 200), (Role.CLERK, 403)):
            client.force_login(users[role])
            assert client.get(url).status_code == status, (name, role)
            assert client.get(url + "?format=csv").status_code == status, (name, role)


def test_the_rfm_page_shows_the_grid_and_groups(shop, eight, owner_client):
    rfm_compute(shop=shop)
    url = reverse("dashboard:analytics_rfm", args=[shop.slug])
    page = owner_client.get(url + "?cell=R5F5").content.decode()
    assert page.count('data-testid="rfm-cell"') == 25
    assert page.count('data-testid="rfm-group"') == 8
    assert 'data-testid="rfm-selected"' in page and "cell-campaign" in page


def test_one_click_from_a_group_to_a_campaign_with_its_segment(shop, eight, owner_client):
    rfm_compute(shop=shop)
    url = reverse("dashboard:analytics_rfm_segment", args=[shop.slug])
    response = owner_client.post(url, {"group": "important_value", "then": "campaign"})
    segment = Segment.objects.get(shop=shop)
    assert segment.definition == {"rfm_groups": ["important_value"]}
    editor = reverse("dashboard:campaign_create", args=[shop.slug]) + f"?segment={segment.pk}"
    assert response.status_code == 302 and response["Location"] == editor
    form = owner_client.get(editor).context["form"]
    assert form.initial["segment"] == segment.pk and form.initial["audience_kind"] == "segment"
    # a cell, to the segments list; the same cell again reuses its segment
    for _ in range(2):
        response = owner_client.post(url, {"cell": "R5F5", "then": "segment"})
        assert response["Location"] == reverse("dashboard:segments", args=[shop.slug])
    assert Segment.objects.filter(shop=shop, definition={"rfm": ["R5F5"]}).count() == 1
    assert owner_client.post(url, {"cell": "R9F1"}).status_code == 404
    assert Segment.objects.filter(shop=shop).count() == 2


def test_the_editor_ignores_another_shops_segment(shop, other_shop, owner_client):
    foreign = Segment.objects.create(shop=other_shop, name="外店", definition={})
    editor = reverse("dashboard:campaign_create", args=[shop.slug]) + f"?segment={foreign.pk}"
    assert owner_client.get(editor).context["form"].initial.get("segment") is None


def test_an_analyst_cannot_make_segments(shop, eight, client):
    rfm_compute(shop=shop)
    client.force_login(add_staff(shop, Role.ANALYST))
    url = reverse("dashboard:analytics_rfm_segment", args=[shop.slug])
    assert client.post(url, {"group": "important_value"}).status_code == 403
    assert not Segment.objects.filter(shop=shop).exists()
    page = client.get(reverse("dashboard:analytics_rfm", args=[shop.slug])).content.decode()
    assert "group-segment" not in page


def test_editing_an_rfm_segment_in_the_segment_form_keeps_its_cell(shop, eight, owner_client):
    rfm_compute(shop=shop)
    segment = rfm_segment(shop=shop, actor=SYSTEM, definition={"rfm": ["R5F5"]}, name="RFM R5 F5")
    edit = reverse("dashboard:segment_edit", args=[shop.slug, segment.pk])
    assert 'data-testid="kept-conditions"' in owner_client.get(edit).content.decode()
    owner_client.post(edit, {"name": "最好的客户", "consent": ["sms"]})
    segment.refresh_from_db()
    assert segment.name == "最好的客户"
    assert segment.definition == {"consent": ["sms"], "rfm": ["R5F5"]}  # not every member with SMS consent


def test_an_rfm_segment_offers_no_member_list_that_would_drop_its_cell(shop, eight, owner_client):
    rfm_compute(shop=shop)
    rfm_segment(shop=shop, actor=SYSTEM, definition={"rfm": ["R5F5"]}, name="RFM R5 F5")
    listing = owner_client.get(reverse("dashboard:segments", args=[shop.slug]))
    [segment] = listing.context["segments"]
    assert segment.members_url is None  # the member list's form cannot hold the cell: no link to a wider list
    assert "Show members" not in listing.content.decode() and "查看会员" not in listing.content.decode()
