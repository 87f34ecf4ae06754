"""The buyer figures of the standard periods (active members, repeat purchase rate), counted by the rollup pass into
PeriodBuyers, against the hand-computed example of tests/analytics/test_rollups.py and against the live count:
A bought on D1 at 10:00 and 23:30 shop time; B's only counted order is at 00:10 on D2 shop time (16:10 UTC on D1),
the other one cancelled; C's 60.00 order is fully refunded, its 100.00 order partly (40.00); N1 has no member."""

import datetime
import threading
import time
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from analytics.models import DirtyDay, PeriodBuyers, SalesDay
from analytics.rollups import period_buyers_refresh, rollup_days, rollup_pass, standard_periods
from analytics.selectors import period_buyers_count, period_figures, summary
from analytics.trends import _active, trend
from orders.services import RefundInput, refund_record
from shops.roles import Role
from shops.tenancy import shop_scope
from shops.time import local_today
from tests.analytics.test_rollups import D1, D2, D3, at, facts  # noqa: F401 - the shared fixture
from tests.concurrency import race
from tests.pages import staff_client, text, url

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
# The last 30 days through YESTERDAY are D2..D1+30, the 30 before D1-29..D1: the shop's midnight between D1 and D2
# is the boundary of the two periods.
YESTERDAY = D1 + 30 * DAY
CURRENT, PREVIOUS = (D2, YESTERDAY), (D1 - 29 * DAY, D1)


def stored(shop) -> dict:
    return {(r.first, r.last): (r.active, r.repeat) for r in PeriodBuyers.objects.filter(shop=shop)}


def buyer_counts(queries) -> list[str]:
    """The live count's queries: members' days summed by member (period_buyers_count)."""
    return [q["sql"] for q in queries.captured_queries if 'SUM("analytics_memberday"."orders")' in q["sql"]]


def live_figures(shop, first, last) -> dict:
    """period_figures as it is without a stored row."""
    saved = list(PeriodBuyers.objects.filter(shop=shop).values("first", "last", "active", "repeat"))
    PeriodBuyers.objects.filter(shop=shop).delete()
    figures = period_figures(shop=shop, first=first, last=last)
    PeriodBuyers.objects.bulk_create(PeriodBuyers(shop=shop, **row) for row in saved)
    return figures


@pytest.fixture
def rolled(shop, facts):  # noqa: F811
    rollup_days(shop=shop, first=PREVIOUS[0], last=CURRENT[1])
    return facts


def test_the_standard_periods_end_yesterday_and_are_30_days_each():
    assert standard_periods(yesterday=YESTERDAY) == [CURRENT, PREVIOUS]
    assert (CURRENT[1] - CURRENT[0]).days + 1 == 30 and (PREVIOUS[1] - PREVIOUS[0]).days + 1 == 30


def test_the_pass_counts_the_hand_computed_buyers_and_the_figures_read_them(shop, rolled):
    assert period_buyers_refresh(shop=shop, yesterday=YESTERDAY) == 2
    # CURRENT: B once (B1 at 00:10 on D2). PREVIOUS: A twice (A1, A2 at 23:30 on D1) and C once (C2; C1 fully
    # refunded); B's D1 order was cancelled. On UTC days B1 would fall on D1, in PREVIOUS.
    assert stored(shop) == {CURRENT: (1, 0), PREVIOUS: (2, 1)}
    for period, counted in stored(shop).items():
        assert period_buyers_count(shop=shop, first=period[0], last=period[1]) == dict(
            zip(("active", "repeat"), counted, strict=True)
        )
    with CaptureQueriesContext(connection) as queries:
        figures = period_figures(shop=shop, first=CURRENT[0], last=CURRENT[1])
        before = period_figures(shop=shop, first=PREVIOUS[0], last=PREVIOUS[1])
    assert buyer_counts(queries) == []  # read from the stored rows, not counted
    assert (figures["members_active"], figures["repeat_purchase_rate"]) == (1, 0.0)
    assert (before["members_active"], before["repeat_purchase_rate"]) == (2, 0.5)
    assert figures == live_figures(shop, *CURRENT) and before == live_figures(shop, *PREVIOUS)
    assert before["orders"] == 4 and before["sales"] == Decimal("240.00")  # the day sums are unchanged


def test_another_period_is_counted_live(shop, rolled):
    period_buyers_refresh(shop=shop, yesterday=YESTERDAY)
    with CaptureQueriesContext(connection) as queries:
        figures = period_figures(shop=shop, first=D1, last=D2)
    assert len(buyer_counts(queries)) == 1
    assert (figures["members_active"], figures["repeat_purchase_rate"]) == (3, round(1 / 3, 4))


def test_rolling_up_a_day_of_a_period_drops_its_count_and_the_pass_counts_it_again(shop, rolled):
    period_buyers_refresh(shop=shop, yesterday=YESTERDAY)
    rollup_days(shop=shop, first=D2 + 3 * DAY, last=D2 + 3 * DAY)  # inside CURRENT only
    assert stored(shop) == {PREVIOUS: (2, 1)}
    # A late full refund of A2 (paid on D1): A has one order left in PREVIOUS, so no repeat buyer there.
    refund_record(shop=shop, order=rolled["orders"]["b"], data=RefundInput(external_id="R-A2", amount=Decimal("50")))
    DirtyDay.objects.create(shop=shop, day=D1)
    assert summary(shop=shop, first=CURRENT[0], last=CURRENT[1])["previous"]["repeat_purchase_rate"] == 0.5
    rollup_pass(shop=shop, now=at(shop, YESTERDAY + DAY, 1))
    assert stored(shop) == {CURRENT: (1, 0), PREVIOUS: (2, 0)}
    result = summary(shop=shop, first=CURRENT[0], last=CURRENT[1])
    assert result["previous"]["repeat_purchase_rate"] == 0.0 and result["previous"]["members_active"] == 2
    assert result["previous"] == live_figures(shop, *PREVIOUS)


def test_a_day_later_the_pass_counts_the_new_periods_and_drops_the_old(shop, rolled):
    period_buyers_refresh(shop=shop, yesterday=YESTERDAY - DAY)
    assert set(stored(shop)) == set(standard_periods(yesterday=YESTERDAY - DAY))
    rollup_pass(shop=shop, now=at(shop, YESTERDAY + DAY, 1))
    assert stored(shop) == {CURRENT: (1, 0), PREVIOUS: (2, 1)}
    assert period_buyers_refresh(shop=shop, yesterday=YESTERDAY) == 0  # already counted: nothing to do


def test_the_backfill_counts_the_standard_periods_of_today(shop, facts):  # noqa: F811
    yesterday = local_today(shop) - DAY
    call_command("analytics_backfill", shop=shop.slug, first=D1.isoformat(), last=D3.isoformat())
    periods = standard_periods(yesterday=yesterday)
    assert set(stored(shop)) == set(periods)
    for (first, last), (active, repeat) in stored(shop).items():
        assert period_buyers_count(shop=shop, first=first, last=last) == {"active": active, "repeat": repeat}


def test_the_other_shop_keeps_its_own_counts(shop, other_shop, rolled):
    rollup_days(shop=other_shop, first=PREVIOUS[0], last=CURRENT[1])
    period_buyers_refresh(shop=other_shop, yesterday=YESTERDAY)
    period_buyers_refresh(shop=shop, yesterday=YESTERDAY)
    assert stored(other_shop) == {CURRENT: (0, 0), PREVIOUS: (1, 0)}  # its one member's order of 999.00 on D1
    rollup_days(shop=other_shop, first=D1, last=D1)
    assert stored(shop) == {CURRENT: (1, 0), PREVIOUS: (2, 1)}


def test_the_api_and_the_overview_give_the_same_figures_from_the_stored_counts(client, api_client, shop, rolled):
    live = live_figures(shop, *CURRENT), live_figures(shop, *PREVIOUS)
    period_buyers_refresh(shop=shop, yesterday=YESTERDAY)
    body = api_client.get("/api/v1/analytics/summary/", {"from": CURRENT[0], "to": CURRENT[1]}).json()
    assert (body["repeat_purchase_rate"], body["previous"]["repeat_purchase_rate"]) == (0.0, 0.5)
    assert (body["members_new"], body["previous"]["members_new"]) == (live[0]["members_new"], 3)
    assert (body["orders"], body["previous"]["orders"]) == (1, 4)
    staff_client(client, shop, Role.ANALYST)
    with time_machine.travel(at(shop, YESTERDAY + DAY, 10), tick=False), CaptureQueriesContext(connection) as q:
        page = text(client.get(url("home", shop), headers={"accept-language": "en"}))
    assert "Active members 1 " in page and "Repeat purchase rate 0.0%" in page
    assert buyer_counts(q) == []  # the trend's day rows are read, the buyers are not counted


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_count_waits_for_a_rewrite_of_its_days_and_counts_what_it_wrote(shop, facts):  # noqa: F811
    """Without the lock the count would read the member-days as they were before the rewrite committed and store
    them after the rewrite had dropped the counts: a stale row. With it, the count waits and reads the new days."""
    rollup_days(shop=shop, first=PREVIOUS[0], last=CURRENT[1])
    refund_record(shop=shop, order=facts["orders"]["b"], data=RefundInput(external_id="R-A2", amount=Decimal("50")))
    rewriting = threading.Event()

    def rewrite():
        with transaction.atomic():
            rollup_days(shop=shop, first=D1, last=D1)
            rewriting.set()
            time.sleep(0.5)  # the count starts meanwhile, and must wait
        return "rewritten"

    def count():
        rewriting.wait(5)
        return period_buyers_refresh(shop=shop, yesterday=YESTERDAY)

    def scoped(work):
        def run():
            with shop_scope(shop):
                return work()

        return run

    assert race([scoped(rewrite), scoped(count)]) == ["rewritten", 2]
    assert stored(shop) == {CURRENT: (1, 0), PREVIOUS: (2, 0)}  # A2's refund is counted: A bought once


def test_the_day_rows_hold_each_days_buyers_as_the_members_days_count_them(shop, rolled):
    """The trend's active members by day are read from SalesDay.buyers: the same as the distinct members over the
    members' days (A and C on D1, B on D2 at 00:10 shop time)."""
    assert dict(SalesDay.objects.filter(shop=shop).values_list("day", "buyers")) == {D1: 2, D2: 1}
    series = trend(shop=shop, first=D1, last=D3, grain="day")["series"]["active_members"]
    assert (series["current"], series["previous"]) == _active(shop, D1, D3, "day") == ([2, 1, 0], [0, 0, 0])
