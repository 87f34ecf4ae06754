"""The daily triggers (SPEC 13), one set-based pass per shop and shop-local day: birthday (N days before), points
expiring and coupons expiring (in N days), win-back (N days since the last order) and replenishment (N days before
the expected re-purchase). Each automation's members are selected and entered in one INSERT ... SELECT
(automations.entry), never a loop over members.

Each trigger selects the members of one day (the birthday in N days, the last order N days ago...), and the day is
the occurrence: a pass run twice enters nobody twice, and a day the pass missed (the beat was down) is caught up,
up to CATCH_UP days back, by running it for each missed day in turn."""

import calendar
import datetime

from django.db import connection, transaction
from django.db.models import Case, CharField, Exists, F, JSONField, OuterRef, Q, Value, When
from django.db.models.functions import Cast, Concat, JSONObject
from django.utils import formats, timezone, translation

from coupons.models import Coupon, CouponStatus, Occasion
from coupons.tier_gifts import tier_gift_names
from members.models import Member
from points.models import PointsLot
from shops.models import Shop
from shops.time import day_bounds, local_today

from .entry import journeys_enter_select
from .models import DAILY_TRIGGERS, Automation, DailyRun, Journey, Replenishment, Trigger
from .replenishment import replenishment_refresh

CATCH_UP = 3  # days
ANALYZE_AFTER = 50_000  # journeys entered in a pass


def _date_text(shop: Shop, day: datetime.date) -> str:
    """A day as the shop's members read it: "12月31日", "December 31"."""
    with translation.override(shop.locale):
        return formats.date_format(day, "MONTH_DAY_FORMAT")


def _birthdays(day: datetime.date) -> Q:
    """Members whose birthday falls on `day`: 29 February counts on 28 February in other years."""
    q = Q(birthday_month=day.month, birthday_day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        q |= Q(birthday_month=2, birthday_day=29)
    return q


def _json(value: dict):
    return Value(value, output_field=JSONField())


def _enter_birthday(shop: Shop, automation: Automation, today: datetime.date, now) -> int:
    day = today + datetime.timedelta(days=automation.days)
    date = _date_text(shop, day)
    gifts = tier_gift_names(shop=shop, occasion=Occasion.BIRTHDAY)
    base = _json({"date": date, "gift": gifts.get(None, "")})
    detail = Case(
        *(When(tier_id=tier, then=_json({"date": date, "gift": names})) for tier, names in gifts.items() if tier),
        default=base,
        output_field=JSONField(),
    )
    members = Member.objects.filter(shop=shop).filter(_birthdays(day))
    return journeys_enter_select(
        shop=shop, automation=automation, rows=members, occurrence=Value(str(day.year)), detail=detail, now=now
    )


def _enter_points_expiring(shop: Shop, automation: Automation, today: datetime.date, now) -> int:
    day = today + datetime.timedelta(days=automation.days)
    start, end = day_bounds(shop, day)
    lots = PointsLot.objects.filter(
        shop=shop, member=OuterRef("pk"), remaining__gt=0, expires_at__gte=start, expires_at__lt=end
    )
    members = Member.objects.filter(shop=shop).filter(Exists(lots))
    detail = _json({"date": _date_text(shop, day)})
    return journeys_enter_select(
        shop=shop, automation=automation, rows=members, occurrence=Value(day.isoformat()), detail=detail, now=now
    )


def _enter_coupons_expiring(shop: Shop, automation: Automation, today: datetime.date, now) -> int:
    """One journey per member and expiry day, about the member's first coupon (by id) expiring that day."""
    day = today + datetime.timedelta(days=automation.days)
    start, end = day_bounds(shop, day)
    expiring = Coupon.objects.filter(
        shop=shop, status=CouponStatus.AVAILABLE, member__isnull=False, valid_until__gte=start, valid_until__lt=end
    )
    entered = journeys_enter_select(
        shop=shop,
        automation=automation,
        rows=expiring.order_by("member_id", "pk"),
        member="member_id",
        occurrence=Value(day.isoformat()),
        detail=_json({"date": _date_text(shop, day)}),
        now=now,
    )
    first = expiring.filter(member=OuterRef("member")).order_by("pk").values("pk")[:1]
    Journey.objects.filter(shop=shop, automation=automation, occurrence=day.isoformat(), coupon__isnull=True).update(
        coupon=first
    )
    return entered


def _enter_win_back(shop: Shop, automation: Automation, today: datetime.date, now) -> int:
    day = today - datetime.timedelta(days=automation.days)
    start, end = day_bounds(shop, day)
    members = Member.objects.filter(shop=shop, last_order_at__gte=start, last_order_at__lt=end)
    return journeys_enter_select(
        shop=shop,
        automation=automation,
        rows=members,
        occurrence=Value(day.isoformat()),
        detail=_json({"date": _date_text(shop, day)}),
        now=now,
    )


def _enter_replenishment(shop: Shop, automation: Automation, today: datetime.date, now) -> int:
    due = Replenishment.objects.filter(shop=shop, expected_on=today + datetime.timedelta(days=automation.days))
    return journeys_enter_select(
        shop=shop,
        automation=automation,
        rows=due,
        member="member_id",
        occurrence=Concat(F("category"), Value("#"), Cast(F("last_on"), CharField())),
        subject=F("category"),
        detail=JSONObject(item=F("category")),
        now=now,
    )


ENTER = {
    Trigger.BIRTHDAY: _enter_birthday,
    Trigger.POINTS_EXPIRING: _enter_points_expiring,
    Trigger.COUPONS_EXPIRING: _enter_coupons_expiring,
    Trigger.WIN_BACK: _enter_win_back,
    Trigger.REPLENISHMENT: _enter_replenishment,
}


def daily_day_run(*, shop: Shop, day: datetime.date, now: datetime.datetime | None = None) -> dict[int, int]:
    """Enter the members of `day`'s daily triggers into the shop's switched-on automations. Returns journeys
    entered per automation id. Safe to run twice (the occurrences)."""
    now = now or timezone.now()
    automations = list(Automation.objects.filter(shop=shop, enabled=True, trigger__in=DAILY_TRIGGERS).order_by("pk"))
    if any(a.trigger == Trigger.REPLENISHMENT for a in automations):
        replenishment_refresh(shop=shop, today=day)
    entered = {}
    for automation in automations:
        with transaction.atomic():
            entered[automation.pk] = ENTER[automation.trigger](shop, automation, day, now)
    if sum(entered.values()) >= ANALYZE_AFTER and connection.vendor == "postgresql":
        # The steps run at once over what was just entered: planned from statistics that predate a big night (a
        # year-end expiry), their joins on the journeys scanned the table once per member.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE automations_journey")  # tenant-ok: statistics, no rows read or written
    return entered


def daily_pass(*, shop: Shop, now: datetime.datetime | None = None) -> dict[str, dict[int, int]]:
    """Run the days not done yet, up to today (shop time) and at most CATCH_UP days back, each recorded as done.
    Returns journeys entered per day and automation."""
    now = now or timezone.now()
    today = local_today(shop, now)
    last = DailyRun.objects.filter(shop=shop).order_by("-day").values_list("day", flat=True).first()
    first = today  # a shop's first pass starts today: nothing was promised for the days before
    if last is not None:
        first = max(today - datetime.timedelta(days=CATCH_UP - 1), last + datetime.timedelta(days=1))
    done = {}
    day = first
    while day <= today:
        entered = daily_day_run(shop=shop, day=day, now=now)
        DailyRun.objects.get_or_create(shop=shop, day=day, defaults={"entered": entered, "finished_at": now})
        done[day.isoformat()] = entered
        day += datetime.timedelta(days=1)
    return done
