"""The catalogue of extension points: every place where a lower app lets the apps above it act, without importing
them (SPEC section 9). Each point below has a contract (a Protocol, or a type for data) and says when it is
called, in which transaction, what an implementation may and may not do, and in what order implementations run.

An app registers its implementations in its `AppConfig.ready()`:

    register(PROFILE_SAVED, member_effects.profile_saved, app=self.label)

and the lower app runs them where the point is named:

    for profile_saved in implementations(PROFILE_SAVED):
        profile_saved(shop=shop, member=member)

Unless a point says otherwise, implementations run in the dependency order of their apps (shops, members, orders,
tiers, points, coupons, recruitment, campaigns, analytics, portal: INSTALLED_APPS), then in the order one app
registered them. The system check of shops.checks fails start-up when a required point has no implementation or
an implementation does not match its contract (shops.registry says how).

These are in-transaction effects and page parts only. Reactions that need not commit with the fact (messages,
analytics, webhooks) are consumers of domain events, never implementations of a point here.

| point | contract | called by | implemented by |
|---|---|---|---|
| SHOP_DEFAULTS | ShopDefaults | shops.services.shop_create | tiers, points, automations |
| TIER_LOOKUP | TierLookup | members.apis, members.forms, members.filters | tiers (the one) |
| MEMBER_FILTER_KEY | MemberFilterKey (keyed) | members.filters.member_filter | analytics (RFM, churn risk) |
| MEMBER_SCORES | MemberScores | members.apis, members.exports, members.views | analytics (the one) |
| PROFILE_SAVED | ProfileSaved | members.services.member_enroll, member_update | points |
| MEMBER_JOINED | MemberJoined | members.services.member_enroll | recruitment |
| ORDER_POINTS_AWARD | OrderPointsAward | orders.services.orders_record | points (the one) |
| ORDERS_CREATED | OrdersCreated | orders.services.orders_record | recruitment |
| REFUND_CREATED | RefundCreated | orders.services.refund_record | points, coupons |
| ORDER_STATUS_CHANGED | OrderStatusChanged | orders.services.order_change_status | points, coupons |
| MEMBER_DATA | MemberData | members.timeline | orders, tiers, points, coupons, recruitment, campaigns, automations |
| ORDER_PAGE_SECTION | OrderPageSection | orders.views | points |
| HOME_SECTION | HomeSection | shops.views.HomeView | analytics, webhooks |
| IMPORT_HANDLER | ImportHandler | members.imports.import_handler | orders ("orders") |
| DEMO_SEEDER | DemoSeeder | shops seed_demo command | members, orders, coupons, recruitment, campaigns |
| AUDIT_ACTION | str (a label) | shops.selectors, AuditLogEntry | every app that audits |
| NAVIGATION, SETTINGS_NAVIGATION | NavItem | shops.dashboard | every app with pages |
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.utils.functional import Promise

from .registry import ExtensionPoint, registry

if TYPE_CHECKING:  # the types of the apps above, named in the contracts only
    from django.db.models import Q

    from members.imports.files import Columns, Table
    from members.imports.kind import ChunkResult, Unit
    from members.models import Member
    from members.services import Enrolment
    from members.timeline import TimelineEvent
    from orders.models import Order, Refund
    from orders.services import CreatedOrder
    from shops.models import Shop

register = registry.register
implementations = registry.implementations
implementation = registry.implementation
by_key = registry.by_key


# --- Shops ---------------------------------------------------------------------------------------------------------


class ShopDefaults(Protocol):
    """Give a new shop an app's default program (SPEC 3: the tier ladder, the points rules), which the merchant then
    edits. Called once per shop by shops.services.shop_create, in the shop's transaction, after the shop and its
    owner exist. May create the app's own rows for this shop; must not touch other shops, send anything or dispatch
    tasks. Required: a shop cannot record orders without its ladder and rules."""

    def __call__(self, *, shop: Shop) -> None: ...


SHOP_DEFAULTS: ExtensionPoint[ShopDefaults] = ExtensionPoint("shop_defaults", ShopDefaults, required=True)


# --- Members -------------------------------------------------------------------------------------------------------


class ProfileSaved(Protocol):
    """A member's profile was saved: an enrolment (member_enroll, after the member is written) or a change
    (member_update, with the member's row locked), in that service's transaction. Bulk imports of members do not
    call it (their profiles come from the shop's old system). May write its app's ledgers for the member through
    their services (points: the profile-completion task reward, once per member); must not change the profile."""

    def __call__(self, *, shop: Shop, member: Member) -> None: ...


class MemberJoined(Protocol):
    """A shopper joined: member_enroll created the member (not an import, not an order's buyer enrolled on
    purchase: see ORDERS_CREATED), in the enrolment's transaction, after PROFILE_SAVED, with the enrolment as
    received (`channel`, `referrer_code`, `ip`). May attribute the join to a channel, give welcome gifts through the
    ledgers' services and record a referral (recruitment); member_enroll then re-reads the member's balances, tier
    and referrer. Must not change the profile or refuse the join (an exhausted gift is audited, not raised)."""

    def __call__(self, *, shop: Shop, member: Member, data: Enrolment) -> None: ...


PROFILE_SAVED: ExtensionPoint[ProfileSaved] = ExtensionPoint("profile_saved", ProfileSaved)
MEMBER_JOINED: ExtensionPoint[MemberJoined] = ExtensionPoint("member_joined", MemberJoined)


# --- Orders --------------------------------------------------------------------------------------------------------


class PointsAward(Protocol):
    """What a batch's new orders earn, as OrderPointsAward.orders_award computes it."""

    @property
    def points(self) -> dict[str, int]: ...  # {external_id: points} of the orders that earn any


class OrderPointsAward(Protocol):
    """What orders earn: points, growth value and the tier upgrade they bring. Called by orders.services
    .orders_record (every path that records orders: the API, bulk, imports, the demo) in the batch's transaction,
    only for orders the call creates (a replay earns nothing twice), in two steps:

    - `orders_award`, before the orders are inserted, with the orders about to be created and their buyers'
      figures (members.services.members_for_orders, read without a lock): returns the award, whose `points` each
      order is inserted with, or None when none earns. Must not write.
    - `orders_created`, after the insert, with the orders created, the buyers' figures before these orders read
      under their row lock (members.services.members_lock_for_orders), the time and the award back: writes the
      ledger entries and upgrades the buyers' tiers. Returns the points of orders whose award changed since
      ({external_id: points}; rarely any: a replay within the batch, or a concurrent write to a buyer) and what
      the entries add to the buyers' cached balances ({column: {member id: delta}}), which orders applies in the
      same UPDATE as the orders' aggregates. Must not update the buyers' rows itself, and hands back balances of the
      buyers given only. Runs before ORDERS_CREATED.

    One implementation, required: points."""

    def orders_award(
        self, *, shop: Shop, orders: list[CreatedOrder], members: dict[int, dict]
    ) -> PointsAward | None: ...

    def orders_created(
        self,
        *,
        shop: Shop,
        created: list[CreatedOrder],
        members: dict[int, dict],
        now: datetime,
        awarded: PointsAward | None,
    ) -> tuple[dict[str, int], dict[str, dict[int, int]]]: ...


class OrdersCreated(Protocol):
    """A batch created orders (orders_record), in its transaction, after ORDER_POINTS_AWARD wrote what they earn and
    before the buyers' aggregates are updated. Not called for replays. `members` holds the buyers' figures before
    these orders, read under their row lock (an `order_count` of 0: a first purchase). May write its app's rows and
    call the ledgers' services for these buyers (recruitment: the join-on-purchase channel's welcome gift for
    buyers the batch enrolled, the reward of a pending referral); must not change the orders or the aggregates."""

    def __call__(self, *, shop: Shop, created: list[CreatedOrder], members: dict[int, dict], now: datetime) -> None: ...


class RefundCreated(Protocol):
    """A refund was recorded (refund_record), in its transaction, with the order locked and updated (refunded
    amount; status refunded when in full, else partially refunded) and the buyer's aggregates adjusted. Not called
    for a replay. May take back what the order gave (points: points and growth value in proportion) and give back
    what it used (coupons: on a full refund); must not change the order or the refund. Points run before coupons."""

    def __call__(self, *, shop: Shop, order: Order, refund: Refund) -> None: ...


class OrderStatusChanged(Protocol):
    """An order was completed or cancelled (order_change_status), in its transaction, with the order locked and
    saved; `previous` is its status before. Not called when the status stays. May act on the order's effects
    (points: a cancellation takes back, a completion starts the pending points' return window; coupons: a
    cancellation gives back or voids); must not change the order. Points run before coupons."""

    def __call__(self, *, shop: Shop, order: Order, previous: str) -> None: ...


class TierLookup(Protocol):
    """The tier lookups members' own pages, API and stored filters need (Member.tier points to tiers.Tier, but tiers
    sits above members). Read-only, in the caller's transaction and scope. Required, exactly one: tiers.selectors."""

    def tier_find(self, *, shop: Shop, name_or_id: str) -> Any:
        """A tier of the shop by id or exact name. Raises ObjectDoesNotExist (the tier model's DoesNotExist)."""
        ...

    def tier_base_of(self, *, shop: Shop) -> Any:
        """The tier members hold on joining (rank 0), which a NULL Member.tier means; None without a ladder."""
        ...

    def tiers_of_shop(self, *, shop: Shop) -> Iterable[Any]:
        """The shop's ladder by rank, tiers retired from it left out."""
        ...


class MemberFilterKey(Protocol):
    """A key of members.filters definitions whose meaning lives in an app above members, keyed by that key (analytics:
    "rfm", "rfm_groups", resolved through its MemberRfm table). member_filter calls it when a definition holds the
    key with a value (not None, "" or []), and filters the shop's members by the condition returned: a Q on the
    member (an Exists over the app's own rows, which must name `shop`). Read-only, in the caller's transaction and
    scope. Raises members.filters.InvalidFilter for a value it does not understand."""

    def __call__(self, *, shop: Shop, value: Any) -> Q: ...


class MemberScores(Protocol):
    """The scores an app above members keeps per member (analytics: SPEC 15's churn risk, P(alive) and predicted
    value), for the API member object, the CSV export and the profile: {member id: scores} for those of
    `member_ids` it has scored (absent: not scored). Each scores dict holds "churn_risk" (low | medium | high),
    "churn_risk_label", "p_alive" (float 0-1), "predicted_value" (Decimal), "expected_orders_90d" (float) and
    "why" (a sentence for the profile). Read-only, one query whatever the number of ids, in the caller's scope.
    Optional: without an implementation members have no scores."""

    def __call__(self, *, shop: Shop, member_ids: list[int]) -> dict[int, dict]: ...


TIER_LOOKUP: ExtensionPoint[TierLookup] = ExtensionPoint("tier_lookup", TierLookup, required=True, single=True)
MEMBER_SCORES: ExtensionPoint[MemberScores] = ExtensionPoint("member_scores", MemberScores, single=True)
MEMBER_FILTER_KEY: ExtensionPoint[MemberFilterKey] = ExtensionPoint("member_filter_key", MemberFilterKey, keyed=True)
ORDER_POINTS_AWARD: ExtensionPoint[OrderPointsAward] = ExtensionPoint(
    "order_points_award", OrderPointsAward, required=True, single=True
)
ORDERS_CREATED: ExtensionPoint[OrdersCreated] = ExtensionPoint("orders_created", OrdersCreated)
REFUND_CREATED: ExtensionPoint[RefundCreated] = ExtensionPoint("refund_created", RefundCreated)
ORDER_STATUS_CHANGED: ExtensionPoint[OrderStatusChanged] = ExtensionPoint("order_status_changed", OrderStatusChanged)


# --- Pages, files and data that apps above add ----------------------------------------------------------------------


class MemberData(Protocol):
    """An app that holds data about members, for the member's one timeline and privacy export (members.timeline):
    `timeline` gives its latest events, newest first, at most `limit`; `export` everything it holds on the member,
    JSON-able, under its own keys. Read-only; the views check permissions before. Implementations are usually the
    app's member_data module. In app order: the export's keys, and equal times on the timeline, follow it."""

    def timeline(self, *, shop: Shop, member: Member, limit: int) -> list[TimelineEvent]: ...

    def export(self, *, shop: Shop, member: Member) -> dict: ...


class OrderPageSection(Protocol):
    """A section of the dashboard's order page (orders.views), top to bottom in app order: {"title", "template",
    "context"}, or None for nothing to show. Read-only, called while the page renders in the shop's scope."""

    def __call__(self, *, shop: Shop, order: Order) -> dict | None: ...


class HomeSection(Protocol):
    """A section of the dashboard's home page, the overview (shops.views.HomeView), top to bottom in app order:
    {"template", "context", "stylesheet" (a static path or "")}, or None for nothing to show. `perms` are the
    viewer's (shops.roles): a section shows only what they may see (analytics: figures need ANALYTICS_VIEW).
    Read-only, called while the page renders in the shop's scope."""

    def __call__(self, *, shop: Shop, perms: frozenset[str]) -> dict | None: ...


class ImportHandler(Protocol):
    """A kind of file the imports page loads into an app above members, keyed by its members.models.ImportKind
    value ("orders"); members.imports.import_handler looks it up. `columns`: field -> the header names it is known
    by; `required`: field -> how a message names the missing column. `units` turns the table into units of work,
    deterministically for one file (it may raise ImportFileError: nothing is written). `write` writes a chunk of
    units inside the transaction that records the chunk's progress: a unit written before counts as a duplicate, so
    a re-run of a chunk creates nothing twice. Required: the imports page offers the orders kind."""

    columns: dict[str, tuple[str, ...]]
    required: dict[str, str]
    chunk_size: int

    def units(self, *, table: Table, columns: Columns, shop: Shop, now: datetime) -> list[Unit]: ...

    def write(self, *, shop: Shop, units: list[Unit]) -> ChunkResult: ...


class DemoSeeder(Protocol):
    """Seeds an app's demo data (`manage.py seed_demo`), in the demo shop's scope, with `members` the number of
    members asked for. Returns a line to print. Keeps what exists (the command is safe to run again) and draws every
    random choice from `rng` (repeatable data). Runs by the explicit order= of its registration: members (10),
    orders (20), members' rule tags (30: their rules read the order figures), coupons (40), recruitment (50),
    campaigns (60)."""

    def __call__(self, *, shop: Shop, rng: random.Random, members: int) -> str: ...


MEMBER_DATA: ExtensionPoint[MemberData] = ExtensionPoint("member_data", MemberData)
ORDER_PAGE_SECTION: ExtensionPoint[OrderPageSection] = ExtensionPoint("order_page_section", OrderPageSection)
HOME_SECTION: ExtensionPoint[HomeSection] = ExtensionPoint("home_section", HomeSection)
IMPORT_HANDLER: ExtensionPoint[ImportHandler] = ExtensionPoint(
    "import_handler", ImportHandler, required=True, keyed=True
)
DEMO_SEEDER: ExtensionPoint[DemoSeeder] = ExtensionPoint("demo_seeder", DemoSeeder, ordered=True)


# --- The dashboard ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str | None  # in the "dashboard" namespace, taking shop_slug; None: not built yet, shown as coming soon
    permission: str | None = None  # a shops.roles.Perm; None: every staff member


# The label of an audit action code (the `action` of shops.services.audit_record), keyed by the code; each app
# registers the codes it writes, with gettext_lazy (translated when the audit page shows them). A test finds every
# code written in the code and wants a label for it (tests/shops/test_extensions.py).
AUDIT_ACTION: ExtensionPoint[str | Promise] = ExtensionPoint("audit_action", (str, Promise), keyed=True)
# The dashboard's navigation (shops.dashboard): each app registers the entries of its areas, shown in app order to
# those with the entry's permission. The settings group shows an entry only to those with its permission.
NAVIGATION: ExtensionPoint[NavItem] = ExtensionPoint("navigation", NavItem)
SETTINGS_NAVIGATION: ExtensionPoint[NavItem] = ExtensionPoint("settings_navigation", NavItem)


POINTS = (
    SHOP_DEFAULTS,
    MEMBER_FILTER_KEY,
    MEMBER_SCORES,
    PROFILE_SAVED,
    MEMBER_JOINED,
    ORDER_POINTS_AWARD,
    ORDERS_CREATED,
    REFUND_CREATED,
    ORDER_STATUS_CHANGED,
    MEMBER_DATA,
    ORDER_PAGE_SECTION,
    HOME_SECTION,
    IMPORT_HANDLER,
    DEMO_SEEDER,
    AUDIT_ACTION,
    NAVIGATION,
    SETTINGS_NAVIGATION,
)


def register_audit_actions(labels: dict[str, str | Promise], *, app: str) -> None:
    """Register the labels of the audit action codes an app writes ({code: gettext_lazy label})."""
    for code, label in labels.items():
        register(AUDIT_ACTION, label, app=app, key=code)


def audit_action_label(code: str) -> str | Promise:
    """The label of an audit action code, or the code when no app registered one."""
    return by_key(AUDIT_ACTION).get(code, code)
