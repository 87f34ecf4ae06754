"""Daily rollups per shop (SPEC 14): small tables that the analytics pages and the summary API read instead of
millions of orders. Each is recomputed for whole shop-local days from the facts (analytics.rollups), so running a
day twice changes nothing, and a late fact (a refund of an older order) corrects its own day.

Definitions (written on the pages too): an order counts on its payment day in the shop's time zone unless it is
cancelled or fully refunded; its sales are its amount less its refunds."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.distribution import ShopForeignKey
from shops.models import ShopOwned

MONEY = {"max_digits": 16, "decimal_places": 2, "default": 0}


class SalesDay(ShopOwned):
    """The day's counted orders, members' and others', and those paid with a coupon; `buyers` the members who placed
    them (each once: the day's rows of MemberDay), so the trend's active members by day is a read, not a count."""

    day = models.DateField(_("day"))
    orders = models.IntegerField(default=0)
    sales = models.DecimalField(**MONEY)
    member_orders = models.IntegerField(default=0)
    member_sales = models.DecimalField(**MONEY)
    buyers = models.IntegerField(default=0)
    coupon_orders = models.IntegerField(default=0)
    coupon_sales = models.DecimalField(**MONEY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="sales_day_unique")]


class MemberDay(ShopOwned):
    """A member's counted orders on a day: active members, repeat purchase and cohorts over any period."""

    day = models.DateField(_("day"))
    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    orders = models.IntegerField(default=0)
    sales = models.DecimalField(**MONEY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day", "member"], name="member_day_unique")]
        indexes = [models.Index(fields=["shop", "member", "day"], name="member_day_member")]


class JoinDay(ShopOwned):
    """Members who joined on a day, by the channel they came through ("" for none)."""

    day = models.DateField(_("day"))
    channel = models.CharField(max_length=32, blank=True)
    joins = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day", "channel"], name="join_day_unique")]


class PointsDay(ShopOwned):
    """Points ledger entries of a day by kind: what went in (positive entries) and out (negative, as a negative
    sum). The balance outstanding at a day's end is the sum of both over every day up to it."""

    day = models.DateField(_("day"))
    kind = models.CharField(max_length=16)
    points_in = models.BigIntegerField(default=0)
    points_out = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day", "kind"], name="points_day_unique")]


class CouponDay(ShopOwned):
    """Coupons given to members on a day, and redemptions standing (not reversed) with their discount."""

    day = models.DateField(_("day"))
    issued = models.IntegerField(default=0)
    redeemed = models.IntegerField(default=0)
    discount = models.DecimalField(**MONEY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="coupon_day_unique")]


class TierDay(ShopOwned):
    """Tier changes of a day per tier (rank 0, the tier members join in, as `tier` NULL): how many entered and
    left it, and of the entries how many were upgrades. A tier's members at a day's end are its entries less its
    leavings up to that day (and, for rank 0, the joins)."""

    day = models.DateField(_("day"))
    tier = ShopForeignKey("tiers.Tier", null=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    entered = models.IntegerField(default=0)
    left = models.IntegerField(default=0)
    upgrades = models.IntegerField(default=0)
    downgrades = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["shop", "day"], name="tier_day_shop_day")]


class ReferralDay(ShopOwned):
    """Members who joined through a referral on a day, and referrals rewarded that day."""

    day = models.DateField(_("day"))
    joins = models.IntegerField(default=0)
    rewarded = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="referral_day_unique")]


class DirtyDay(ShopOwned):
    """A day whose facts changed since it was rolled up (marked by the events consumer): the next pass redoes it."""

    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="dirty_day_unique")]


class RollupState(ShopOwned):
    """The last day the daily pass rolled up for the shop."""

    rolled_through = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="rollup_state_unique")]


class PeriodBuyers(ShopOwned):
    """The two buyer figures of a standard period that no sum of day rows gives: members with a counted order in
    first..last (`active`) and those with at least two (`repeat`). Counted by the rollup pass
    (analytics.rollups.period_buyers_refresh) from MemberDay for the periods the overview and the summary show by
    default, the last 30 days and the 30 before, so that those pages need not group a busy shop's million
    member-days per request; deleted whenever the rollups of a day inside the period are rewritten, so a row is
    always what the live count over MemberDay gives (analytics.selectors.period_figures)."""

    first = models.DateField()
    last = models.DateField()
    active = models.IntegerField()
    repeat = models.IntegerField()
    counted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "first", "last"], name="period_buyers_unique")]


class PointsExpiryMonth(ShopOwned):
    """Outstanding points by the month they expire (`month` the first of that month in the shop's time zone, NULL:
    never), a snapshot of the open lots written by the daily pass (analytics.rollups.points_expiry_snapshot) as of
    `taken_on`, so the points page never groups the lots itself."""

    month = models.DateField(null=True, blank=True)
    points = models.BigIntegerField(default=0)
    taken_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "month"], name="points_expiry_month_unique", nulls_distinct=False)
        ]


# --- Deeper views (SPEC 14): cohorts, RFM, items bought together, written nightly by analytics.cohorts, .rfm and
# .pairs, each in one transaction that replaces the shop's rows (running it twice changes nothing).


class CohortCell(ShopOwned):
    """A monthly join cohort (its first day, shop time) `months_since` months after joining: the cohort's size and
    how many of its members had a counted order in that calendar month."""

    cohort_month = models.DateField()
    months_since = models.SmallIntegerField()
    members = models.IntegerField(default=0)
    ordered = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "cohort_month", "months_since"], name="cohort_cell_unique")
        ]


class RfmGroup(models.TextChoices):
    """The eight groups merchants in China use; "important" members spend above the shop's middle (M high)."""

    IMPORTANT_VALUE = "important_value", _("Important value")
    IMPORTANT_DEVELOP = "important_develop", _("Important to develop")
    IMPORTANT_KEEP = "important_keep", _("Important to keep")
    IMPORTANT_WIN_BACK = "important_win_back", _("Important to win back")
    ORDINARY_VALUE = "ordinary_value", _("Ordinary value")
    ORDINARY_DEVELOP = "ordinary_develop", _("Ordinary to develop")
    ORDINARY_KEEP = "ordinary_keep", _("Ordinary to keep")
    ORDINARY_WIN_BACK = "ordinary_win_back", _("Ordinary to win back")


class MemberRfm(ShopOwned):
    """A member's recency, frequency and monetary scores (1-5) within the shop, and the group they make. Members who
    never ordered have no row."""

    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    r = models.SmallIntegerField()
    f = models.SmallIntegerField()
    m = models.SmallIntegerField()
    group = models.CharField(max_length=24, choices=RfmGroup.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "member"], name="member_rfm_unique"),
            models.CheckConstraint(
                condition=models.Q(r__gte=1, r__lte=5, f__gte=1, f__lte=5, m__gte=1, m__lte=5), name="member_rfm_range"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "r", "f", "m"], name="member_rfm_cell"),
            models.Index(fields=["shop", "group"], name="member_rfm_group"),
        ]


class RfmCell(ShopOwned):
    """How many members hold each (r, f, m) score, with their lifetime spend: at most 125 rows, what the RFM page
    reads (the grid sums over m, the groups over the cells)."""

    r = models.SmallIntegerField()
    f = models.SmallIntegerField()
    m = models.SmallIntegerField()
    members = models.IntegerField(default=0)
    spend = models.DecimalField(**MONEY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "r", "f", "m"], name="rfm_cell_unique")]


class PairKind(models.TextChoices):
    CATEGORY = "category", _("Category")
    SKU = "sku", _("SKU")


class ItemPair(ShopOwned):
    """Two items (a < b: categories or SKUs) found in the same counted order over the last 12 months: in how many
    baskets together and apart, with support, confidence both ways and lift."""

    kind = models.CharField(max_length=8, choices=PairKind.choices)
    a = models.CharField(max_length=64)
    b = models.CharField(max_length=64)
    baskets = models.IntegerField()
    a_baskets = models.IntegerField()
    b_baskets = models.IntegerField()
    support = models.FloatField()
    confidence_ab = models.FloatField()
    confidence_ba = models.FloatField()
    lift = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "kind", "a", "b"], name="item_pair_unique")]


class DeepState(ShopOwned):
    """When each deeper view was last computed for the shop, and the basket counts the pairs were found in."""

    cohorts_at = models.DateTimeField(null=True, blank=True)
    rfm_at = models.DateTimeField(null=True, blank=True)
    pairs_at = models.DateTimeField(null=True, blank=True)
    category_baskets = models.IntegerField(default=0)
    sku_baskets = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="deep_state_unique")]


# --- Member intelligence (SPEC 15): churn risk and predicted value, written nightly by analytics.clv.scores.


class ChurnRisk(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class MemberClv(ShopOwned):
    """A member's scores from the shop's fitted models: P(alive), the expected orders in the next 90 days, the
    predicted value of the next 12 months (discounted) and the churn-risk band, with the figures they come from
    (purchase days after the first, days from the first to the last, days since the first). `previous_churn_risk`
    is the band before the last pass (the event member.churn_risk_changed is written when they differ)."""

    member = ShopForeignKey("members.Member", on_delete=models.CASCADE, related_name="+", db_index=False)
    frequency = models.IntegerField()
    recency_days = models.IntegerField()
    age_days = models.IntegerField()
    p_alive = models.FloatField()
    expected_orders_90d = models.FloatField()
    predicted_value = models.DecimalField(max_digits=14, decimal_places=2)
    churn_risk = models.CharField(max_length=8, choices=ChurnRisk.choices)
    previous_churn_risk = models.CharField(max_length=8, choices=ChurnRisk.choices, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "member"], name="member_clv_unique")]
        indexes = [
            models.Index(fields=["shop", "churn_risk"], name="member_clv_risk"),
            models.Index(fields=["shop", "-predicted_value"], name="member_clv_value"),
        ]


class ClvStatus(models.TextChoices):
    FITTED = "fitted", _("Fitted")
    INSUFFICIENT = "insufficient", _("Not enough data")
    FAILED = "failed", _("Fit failed")


class ClvState(ShopOwned):
    """The shop's last fit: its status, the data it saw, the parameters, the holdout check (predicted against actual
    repeat purchase days per calibration frequency bucket) and the annual discount rate of the predicted value."""

    status = models.CharField(max_length=16, choices=ClvStatus.choices)
    computed_at = models.DateTimeField()
    members_with_orders = models.IntegerField(default=0)
    history_days = models.IntegerField(default=0)
    time_unit = models.CharField(max_length=8, default="week")
    bgnbd = models.JSONField(default=dict)
    gamma_gamma = models.JSONField(default=dict)
    holdout = models.JSONField(default=dict)
    bands = models.JSONField(default=dict)  # members per churn-risk band, as written
    discount_rate = models.DecimalField(max_digits=5, decimal_places=4, default=0.1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="clv_state_unique")]
