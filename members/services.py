"""Writes on members: enrolment, profile updates, consent, freeze and erasure.

Invariants: a phone is E.164 and belongs to at most one non-erased member of a shop; enrolling a phone that is
already a member changes nothing; every consent change is recorded with its time and source; erasure blanks the
personal fields but keeps the row, so orders, ledgers and aggregates stay consistent.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from shops.bulk import adapt, in_condition, values_cte
from shops.extensions import MEMBER_JOINED, PROFILE_SAVED, implementations
from shops.models import Shop
from shops.services import SYSTEM, Actor, audit_record

from .errors import BalanceLimit, ExternalIdTaken, InvalidPhoneError, MemberErased, PhoneTaken
from .models import BALANCE_LIMIT_CONSTRAINT, LIVE_SQL, ConsentChange, ConsentChannel, Gender, Member, MemberStatus
from .phones import InvalidPhone, normalize_phone

PROFILE_FIELDS = ("name", "gender", "birthday_month", "birthday_day", "birth_year", "region", "email")
IDENTITY_FIELDS = ("phone", "external_id", "wechat_openid")
CONSENT_FIELDS = {
    ConsentChannel.SMS: "consent_sms",
    ConsentChannel.PUSH: "consent_push",
    ConsentChannel.EMAIL: "consent_email",
}


@dataclass
class Enrolment:
    phone: str
    name: str = ""
    gender: str = Gender.UNKNOWN
    birthday_month: int | None = None
    birthday_day: int | None = None
    birth_year: int | None = None
    region: str = ""
    email: str = ""
    external_id: str = ""
    wechat_openid: str = ""
    channel: str = ""
    referrer: Member | None = None
    consents: dict[str, bool] = field(default_factory=dict)
    joined_at: datetime | None = None  # when history is imported; new enrolments join now
    referrer_code: str = ""  # the inviter's referral code (recruitment), from a referral link
    ip: str = ""  # the network address the shopper joined from, for referral velocity limits


def phone_normalize(raw: str) -> str:
    """E.164, or InvalidPhoneError (an ApplicationError) with the raw value in its details."""
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise InvalidPhoneError(details={"phone": raw}) from None


def _record_consents(*, shop: Shop, member: Member, consents: dict[str, bool], source: str) -> None:
    ConsentChange.objects.bulk_create(
        ConsentChange(shop=shop, member=member, channel=channel, granted=granted, source=source)
        for channel, granted in consents.items()
    )


@transaction.atomic
def member_enroll(*, shop: Shop, data: Enrolment, source: str = "api") -> tuple[Member, bool]:
    """Enrol a shopper. Returns (member, created); a phone that is already a member returns that member and
    changes nothing. Raises InvalidPhoneError, ExternalIdTaken.

    A new member runs, in this transaction, the extension points PROFILE_SAVED, then MEMBER_JOINED
    (shops.extensions)."""
    phone = phone_normalize(data.phone)
    existing = Member.objects.filter(shop=shop, phone=phone).exclude(status=MemberStatus.ERASED).first()
    if existing:
        return existing, False
    if data.external_id and Member.objects.filter(shop=shop, external_id=data.external_id).exists():
        raise ExternalIdTaken(details={"external_id": data.external_id})
    consents = {c: bool(g) for c, g in data.consents.items() if c in CONSENT_FIELDS}
    member = Member(
        shop=shop,
        phone=phone,
        **{f: getattr(data, f) for f in PROFILE_FIELDS},
        external_id=data.external_id,
        wechat_openid=data.wechat_openid,
        join_channel=data.channel,
        referrer=data.referrer,
        joined_at=data.joined_at or timezone.now(),
        **{CONSENT_FIELDS[c]: g for c, g in consents.items()},
    )
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        # A concurrent enrolment of the same phone won: answer as a replay would.
        winner = Member.objects.filter(shop=shop, phone=phone).exclude(status=MemberStatus.ERASED).first()
        if winner is None:
            raise ExternalIdTaken(details={"external_id": data.external_id}) from None
        return winner, False
    _record_consents(shop=shop, member=member, consents=consents, source=source)
    for profile_saved in implementations(PROFILE_SAVED):
        profile_saved(shop=shop, member=member)
    for member_joined in implementations(MEMBER_JOINED):
        member_joined(shop=shop, member=member, data=data)
    if implementations(MEMBER_JOINED):  # a welcome gift or a referral changed the row's balances and referrer
        member.refresh_from_db(fields=["points_balance", "points_pending", "growth_value", "tier", "referrer"])
    return member, True


@transaction.atomic
def member_update(*, shop: Shop, member: Member, actor: Actor = SYSTEM, source: str = "api", **changes) -> Member:
    """Change profile fields, identities (phone, external_id, wechat_openid) and consents (`consents={"sms": True}`).

    Raises InvalidPhoneError, PhoneTaken, ExternalIdTaken, MemberErased. Consent changes are recorded. A change runs
    the extension point PROFILE_SAVED (shops.extensions) in this transaction."""
    assert member.shop_id == shop.pk
    member = Member.objects.select_for_update().get(shop=shop, pk=member.pk)
    if member.status == MemberStatus.ERASED:
        raise MemberErased()
    consents = changes.pop("consents", None) or {}
    if "phone" in changes:
        changes["phone"] = phone_normalize(changes["phone"])
        clash = Member.objects.filter(shop=shop, phone=changes["phone"]).exclude(pk=member.pk)
        if clash.exclude(status=MemberStatus.ERASED).exists():
            raise PhoneTaken(details={"phone": changes["phone"]})
    external_id = changes.get("external_id")
    if external_id and Member.objects.filter(shop=shop, external_id=external_id).exclude(pk=member.pk).exists():
        raise ExternalIdTaken(details={"external_id": changes["external_id"]})
    before = {f: getattr(member, f) for f in changes}
    for name, value in changes.items():
        setattr(member, name, value)
    consent_changes = {c: bool(g) for c, g in consents.items() if getattr(member, CONSENT_FIELDS[c]) != bool(g)}
    for channel, granted in consent_changes.items():
        setattr(member, CONSENT_FIELDS[channel], granted)
    member.save()
    _record_consents(shop=shop, member=member, consents=consent_changes, source=source)
    diff = {
        f: [str(before[f] or ""), str(getattr(member, f) or "")] for f in changes if before[f] != getattr(member, f)
    }
    diff.update({CONSENT_FIELDS[c]: [str(not g), str(g)] for c, g in consent_changes.items()})
    if diff:
        if "phone" in diff:  # phone numbers stay out of the audit log, which roles without the right can read
            diff["phone"] = ["…", "…"]
        audit_record(shop=shop, actor=actor, action="member.update", obj=member, changes=diff)
        for profile_saved in implementations(PROFILE_SAVED):
            profile_saved(shop=shop, member=member)
    return member


def member_phone_reveal(*, shop: Shop, member: Member, actor: Actor) -> str:
    """The member's full phone number for a staff member allowed to see it; every reveal is audited."""
    audit_record(shop=shop, actor=actor, action="member.phone_view", obj=member)
    return member.phone


@transaction.atomic
def member_set_frozen(*, shop: Shop, member: Member, actor: Actor, frozen: bool) -> Member:
    """Freeze (no benefits, no messages) or unfreeze a member. Erased members stay erased."""
    target = MemberStatus.FROZEN if frozen else MemberStatus.ACTIVE
    source = MemberStatus.ACTIVE if frozen else MemberStatus.FROZEN
    if Member.objects.filter(shop=shop, pk=member.pk, status=source).update(status=target, updated_at=timezone.now()):
        member.status = target
        audit_record(shop=shop, actor=actor, action="member.freeze" if frozen else "member.unfreeze", obj=member)
    return member


@transaction.atomic
def member_erase(*, shop: Shop, member: Member, actor: Actor) -> Member:
    """Erase a member's personal data (PIPL/GDPR). Orders, ledgers and aggregates stay; consents are withdrawn."""
    member = Member.objects.select_for_update().get(shop=shop, pk=member.pk)
    if member.status == MemberStatus.ERASED:
        return member
    withdrawn = {c: False for c, f in CONSENT_FIELDS.items() if getattr(member, f)}
    member.status = MemberStatus.ERASED
    member.phone = ""
    member.name = ""
    member.email = ""
    member.region = ""
    member.external_id = ""
    member.wechat_openid = ""
    member.birthday_month = member.birthday_day = member.birth_year = None
    for channel in withdrawn:
        setattr(member, CONSENT_FIELDS[channel], False)
    member.save()
    _record_consents(shop=shop, member=member, consents=withdrawn, source="erasure")
    audit_record(shop=shop, actor=actor, action="member.erase", obj=member)
    return member


@dataclass
class SpendDelta:
    """A change to one member's order aggregates: lifetime spend and count, the part of them inside the rolling
    12-month window, and (when given) the order times that widen the first/last order range."""

    spend: Decimal
    count: int
    recent_spend: Decimal = Decimal(0)
    recent_count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None

    def __add__(self, other: "SpendDelta") -> "SpendDelta":
        firsts = [t for t in (self.first_at, other.first_at) if t]
        lasts = [t for t in (self.last_at, other.last_at) if t]
        return SpendDelta(
            self.spend + other.spend,
            self.count + other.count,
            self.recent_spend + other.recent_spend,
            self.recent_count + other.recent_count,
            min(firsts, default=None),
            max(lasts, default=None),
        )


# The members' cached ledger balances, each changed only in the transaction that writes the ledger's entries, by
# the app that owns the ledger (points, tiers) or, for new orders, handed by it to member_aggregates_apply.
COUNTER_COLUMNS = frozenset({"growth_value", "points_balance", "points_pending"})


def _lock(*, shop: Shop, ids: list[int]) -> None:
    """Lock members' rows in primary-key order, so that writers of several members cannot deadlock. One row needs
    no statement of its own: the UPDATE that follows locks it."""
    if len(ids) > 1:
        list(Member.objects.select_for_update().filter(shop=shop, pk__in=ids).order_by("pk").values_list("pk"))


# The members' figures that the effects of new orders read (points rules, the instant tier upgrade).
ORDER_FACTS = ("tier_id", "birthday_month", "order_count", "lifetime_spend", "spend_12m", "orders_12m",
               "growth_value", "referrer_id")  # fmt: skip


def members_lock_for_orders(*, shop: Shop, ids: set[int]) -> dict[int, dict]:
    """Lock the buyers of new orders (in primary-key order) and read their ORDER_FACTS as they stand before the
    orders' aggregates are applied: {member id: {fact: value}}. Must run inside the recording transaction. Written
    out (one statement, no ORM compilation): it runs on every order."""
    if not ids:
        return {}
    ids = sorted(ids)
    where, params = in_condition("id", ids)
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""  # SQLite serialises writers
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(ORDER_FACTS)} FROM members_member "  # noqa: S608 - columns from code
            f"WHERE shop_id = %s AND {where} ORDER BY id{lock}",
            [shop.pk, *params],
        )
        return {row[0]: _order_facts(row[1:]) for row in cursor.fetchall()}


def _order_facts(values) -> dict:
    return {
        name: Decimal(str(value)) if name in {"lifetime_spend", "spend_12m"} else value
        for name, value in zip(ORDER_FACTS, values, strict=True)
    }


@contextmanager
def _balances_within_limit():
    """The balances' CheckConstraint refusing a sum above MAX_BALANCE, as the domain error BalanceLimit (a 409 with
    its message) instead of an IntegrityError (a 500). The set-based writes below add credits of many members at
    once and check no balance beforehand; the transaction they run in is rolled back with everything it wrote."""
    try:
        yield
    except IntegrityError as exc:
        if BALANCE_LIMIT_CONSTRAINT in str(exc):
            raise BalanceLimit() from exc
        raise


def member_counters_add(*, shop: Shop, column: str, deltas: dict[int, int]) -> None:
    """Add deltas to one cached ledger balance of members (COUNTER_COLUMNS), in one UPDATE after locking the rows
    in primary-key order. Must run inside the transaction that writes the ledger entries; the balances'
    CheckConstraints refuse a result below zero, and above MAX_BALANCE as BalanceLimit."""
    deltas = {pk: delta for pk, delta in deltas.items() if delta}
    if not deltas:
        return
    assert column in COUNTER_COLUMNS
    _lock(shop=shop, ids=sorted(deltas))
    cte, params = values_cte("v", [("id", "int"), ("delta", "int")], sorted(deltas.items()))
    with _balances_within_limit(), connection.cursor() as cursor:
        cursor.execute(
            f"""{cte} UPDATE members_member AS m SET {column} = m.{column} + v.delta, updated_at = %s
                FROM v WHERE m.id = v.id AND m.shop_id = %s""",  # noqa: S608 - the column is one of COUNTER_COLUMNS
            [*params, adapt(timezone.now(), "datetime"), shop.pk],
        )


_NO_SPEND = SpendDelta(Decimal(0), 0)


def member_aggregates_apply(
    *, shop: Shop, deltas: dict[int, SpendDelta], counters: dict[str, dict[int, int]] | None = None,
    locked: bool = False,
) -> None:  # fmt: skip
    """Add order deltas to members' lifetime spend, order count and first/last order time, in one UPDATE; with
    `counters` ({column of COUNTER_COLUMNS: {member id: delta}}), the ledger balances that the orders' effects
    changed too, in the same statement (the effects wrote their ledger entries in this transaction and hand the
    balances over, so that a new order updates its buyer's row once).

    Must run inside the transaction that records the orders. Rows are locked in primary-key order first, so two
    batches touching the same members cannot deadlock; `locked`: the caller holds every one of these rows already
    (members_lock_for_orders), which spares a batch of a thousand orders the second lock of 850 rows."""
    counters = {column: {pk: d for pk, d in by_member.items() if d} for column, by_member in (counters or {}).items()}
    assert set(counters) <= COUNTER_COLUMNS
    ids = sorted(set(deltas).union(*counters.values()))
    if not ids:
        return
    if not locked:
        _lock(shop=shop, ids=ids)
    columns = [
        ("id", "int"),
        ("spend", "decimal"),
        ("cnt", "int"),
        ("recent_spend", "decimal"),
        ("recent_cnt", "int"),
        ("first_at", "datetime"),
        ("last_at", "datetime"),
        *((column, "int") for column in sorted(counters)),
    ]
    rows = []
    for pk in ids:
        d = deltas.get(pk, _NO_SPEND)
        rows.append(
            (pk, d.spend, d.count, d.recent_spend, d.recent_count, d.first_at, d.last_at,
             *(counters[column].get(pk, 0) for column in sorted(counters)))
        )  # fmt: skip
    cte, params = values_cte("v", columns, rows)
    balances = "".join(f"{column} = m.{column} + v.{column}, " for column in sorted(counters))
    sql = f"""{cte}
        UPDATE members_member AS m SET
            lifetime_spend = m.lifetime_spend + v.spend,
            order_count = m.order_count + v.cnt,
            spend_12m = m.spend_12m + v.recent_spend,
            orders_12m = m.orders_12m + v.recent_cnt,
            first_order_at = CASE
                WHEN v.first_at IS NOT NULL AND (m.first_order_at IS NULL OR v.first_at < m.first_order_at)
                THEN v.first_at ELSE m.first_order_at END,
            last_order_at = CASE
                WHEN v.last_at IS NOT NULL AND (m.last_order_at IS NULL OR v.last_at > m.last_order_at)
                THEN v.last_at ELSE m.last_order_at END,
            {balances}updated_at = %s
        FROM v WHERE m.id = v.id AND m.shop_id = %s"""  # noqa: S608 - the CTE and columns are built from constants
    with _balances_within_limit(), connection.cursor() as cursor:
        cursor.execute(sql, [*params, adapt(timezone.now(), "datetime"), shop.pk])


def member_order_span_set(*, shop: Shop, member_id: int, first_at: datetime | None, last_at: datetime | None) -> None:
    """Set a member's first/last order time outright: when an order stops counting, the orders app recomputes the
    range from the orders that still count (the member row is already locked by member_aggregates_apply)."""
    Member.objects.filter(shop=shop, pk=member_id).update(
        first_order_at=first_at, last_order_at=last_at, updated_at=timezone.now()
    )


def members_for_orders(
    *, shop: Shop, member_ids: set[int], phones: set[str], join_on_purchase: bool
) -> tuple[dict[int, Member], dict[str, Member], set[int], dict[int, dict]]:
    """Resolve the buyers of a batch of orders in two queries: by member id and by phone. With join_on_purchase,
    phones that are not members yet are enrolled (channel "purchase") in one insert. Returns the buyers by id, by
    phone, the ids of those this call enrolled, and each buyer's ORDER_FACTS as read (not locked: the orders are
    inserted with the points these earn; members_lock_for_orders reads them again under lock after the insert)."""
    facts = {}

    def live(column: str, values: set) -> list[Member]:
        # The orders need the buyer's id, and its facts: the rest of the row is not loaded (as .only() would build
        # it). The query is written out: it runs on every order.
        condition, params = in_condition(column, values)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, phone, {', '.join(ORDER_FACTS)} FROM members_member "  # noqa: S608 - names from code
                f"WHERE shop_id = %s AND {LIVE_SQL} AND {condition}",
                [shop.pk, *params],
            )
            rows = cursor.fetchall()
        facts.update((row[0], _order_facts(row[2:])) for row in rows)
        return [
            Member.from_db(connection.alias, ["id", "shop_id", "phone"], [pk, shop.pk, phone]) for pk, phone, *_ in rows
        ]

    by_id = {m.pk: m for m in live("id", member_ids)} if member_ids else {}
    by_phone = {m.phone: m for m in live("phone", phones)} if phones else {}
    missing = phones - by_phone.keys()
    enrolled = set()
    if join_on_purchase and missing:
        # A concurrent batch may enrol the same buyer: theirs stands, and both batches count the buyer as enrolled
        # (the purchase channel's welcome gift is given once per member all the same).
        Member.objects.bulk_create(
            [Member(shop=shop, phone=phone, join_channel="purchase") for phone in sorted(missing)],
            ignore_conflicts=True,
        )
        joined = {m.phone: m for m in live("phone", missing)}
        by_phone.update(joined)
        enrolled = {m.pk for m in joined.values()}
    return by_id, by_phone, enrolled, facts


@transaction.atomic
def members_bulk_enroll(*, shop: Shop, enrolments: list[Enrolment], source: str) -> int:
    """Enrol many shoppers in a few statements (phones already normalised by the caller); phones that are already
    members are skipped. Returns how many were enrolled. For imports and demo data; a single shopper goes through
    member_enroll."""
    now = timezone.now()
    live = Member.objects.filter(shop=shop).exclude(status=MemberStatus.ERASED)
    existing = set(live.filter(phone__in=[e.phone for e in enrolments]).values_list("phone", flat=True))
    new = {e.phone: e for e in enrolments if e.phone not in existing}  # the first row of a repeated phone wins
    Member.objects.bulk_create(
        [
            Member(
                shop=shop,
                phone=e.phone,
                **{f: getattr(e, f) for f in PROFILE_FIELDS},
                external_id=e.external_id,
                wechat_openid=e.wechat_openid,
                join_channel=e.channel,
                joined_at=e.joined_at or now,
                **{CONSENT_FIELDS[c]: bool(g) for c, g in e.consents.items() if c in CONSENT_FIELDS},
            )
            for e in new.values()
        ],
        batch_size=1000,
        ignore_conflicts=True,  # a concurrent enrolment of the same phone wins
    )
    consenting = [phone for phone, e in new.items() if any(e.consents.values())]
    ConsentChange.objects.bulk_create(
        [
            ConsentChange(shop=shop, member_id=pk, channel=channel, granted=True, source=source)
            for pk, phone in live.filter(phone__in=consenting).values_list("pk", "phone")
            for channel, granted in new[phone].consents.items()
            if granted and channel in CONSENT_FIELDS
        ],
        batch_size=1000,
    )
    return len(new)
