"""Writes on members: enrolment, profile updates, consent, freeze and erasure. The row's cached figures (order
aggregates, balances, tier) are not written here but by members.figures.

Invariants: a phone is E.164 and belongs to at most one non-erased member of a shop; enrolling a phone that is
already a member changes nothing; every consent change is recorded with its time and source; erasure blanks the
personal fields but keeps the row, so orders, ledgers and aggregates stay consistent; a push token belongs to at
most one member of a shop (registered for another member, it moves there).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from events.outbox import NewEvent, emit, emit_many
from events.types import EventType
from shops.bulk import in_condition
from shops.extensions import MEMBER_JOINED, PROFILE_SAVED, implementations
from shops.models import Shop
from shops.services import SYSTEM, Actor, audit_record

from .errors import ExternalIdTaken, InvalidPhoneError, MemberErased, PhoneTaken
from .figures import ORDER_FACTS, order_facts
from .models import LIVE_SQL, ConsentChange, ConsentChannel, Device, Gender, Member, MemberStatus
from .phones import InvalidPhone, normalize_phone

PROFILE_FIELDS = ("name", "gender", "birthday_month", "birthday_day", "birth_year", "region", "email")
IDENTITY_FIELDS = ("phone", "external_id", "wechat_openid")
CONSENT_FIELDS = {
    ConsentChannel.SMS: "consent_sms",
    ConsentChannel.PUSH: "consent_push",
    ConsentChannel.EMAIL: "consent_email",
    ConsentChannel.SERVICE: "consent_service",
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
    emit_many(
        shop_id=shop.pk,
        events=[
            NewEvent(EventType.CONSENT_CHANGED, member.pk, {"channel": channel, "granted": granted, "source": source})
            for channel, granted in consents.items()
        ],
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
    joined = {"source": source, "channel": data.channel} if data.channel else {"source": source}
    emit(
        shop_id=shop.pk, type=EventType.MEMBER_JOINED, member_id=member.pk, payload=joined, occurred_at=member.joined_at
    )
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
    # Only what changed: the cached figures are members.figures' to write.
    member.save(update_fields=[*changes, *(CONSENT_FIELDS[c] for c in consent_changes), "updated_at"])
    _record_consents(shop=shop, member=member, consents=consent_changes, source=source)
    diff = {
        f: [str(before[f] or ""), str(getattr(member, f) or "")] for f in changes if before[f] != getattr(member, f)
    }
    diff.update({CONSENT_FIELDS[c]: [str(not g), str(g)] for c, g in consent_changes.items()})
    if diff:
        if "phone" in diff:  # phone numbers stay out of the audit log, which roles without the right can read
            diff["phone"] = ["…", "…"]
        audit_record(shop=shop, actor=actor, action="member.update", obj=member, changes=diff)
        if profile := sorted(f for f in diff if f in changes):  # consents have events of their own
            emit(shop_id=shop.pk, type=EventType.MEMBER_UPDATED, member_id=member.pk, payload={"fields": profile})
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
        status = {"fields": ["status"], "status": target}
        emit(shop_id=shop.pk, type=EventType.MEMBER_UPDATED, member_id=member.pk, payload=status)
        audit_record(shop=shop, actor=actor, action="member.freeze" if frozen else "member.unfreeze", obj=member)
    return member


@transaction.atomic
def member_erase(*, shop: Shop, member: Member, actor: Actor) -> Member:
    """Erase a member's personal data (PIPL/GDPR). Orders, ledgers and aggregates stay; consents are withdrawn."""
    member = Member.objects.select_for_update().get(shop=shop, pk=member.pk)
    if member.status == MemberStatus.ERASED:
        return member
    # Marketing consents are withdrawn; service messages need none, and an erased member gets no message at all.
    withdrawn = {c: False for c, f in CONSENT_FIELDS.items() if getattr(member, f) and c != ConsentChannel.SERVICE}
    member.status = MemberStatus.ERASED
    blanked = {
        **dict.fromkeys(("phone", "name", "email", "region", "external_id", "wechat_openid"), ""),
        **dict.fromkeys(("birthday_month", "birthday_day", "birth_year")),
    }
    for name, value in blanked.items():
        setattr(member, name, value)
    for channel in withdrawn:
        setattr(member, CONSENT_FIELDS[channel], False)
    # Only what erasure changes: the cached figures are members.figures' to write.
    member.save(update_fields=["status", *blanked, *(CONSENT_FIELDS[c] for c in withdrawn), "updated_at"])
    _record_consents(shop=shop, member=member, consents=withdrawn, source="erasure")
    emit(shop_id=shop.pk, type=EventType.MEMBER_ERASED, member_id=member.pk)
    audit_record(shop=shop, actor=actor, action="member.erase", obj=member)
    return member


def members_for_orders(
    *, shop: Shop, member_ids: set[int], phones: set[str], join_on_purchase: bool
) -> tuple[dict[int, Member], dict[str, Member], set[int], dict[int, dict]]:
    """Resolve the buyers of a batch of orders in two queries: by member id and by phone. With join_on_purchase,
    phones that are not members yet are enrolled (channel "purchase") in one insert. Returns the buyers by id, by
    phone, the ids of those this call enrolled, and each buyer's ORDER_FACTS as read (not locked: the orders are
    inserted with the points these earn; figures.members_lock_for_orders reads them again under lock after the
    insert)."""
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
        facts.update((row[0], order_facts(row[2:])) for row in rows)
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
        # In that race both batches report the join: consumers tell a member's second "joined" by its member id.
        emit_many(
            shop_id=shop.pk,
            events=[NewEvent(EventType.MEMBER_JOINED, pk, {"source": "purchase"}) for pk in sorted(enrolled)],
        )
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
    ids = dict(live.filter(phone__in=list(new)).values_list("phone", "pk"))
    granted = [
        (ids[phone], channel)
        for phone, e in new.items()
        if phone in ids
        for channel, given in e.consents.items()
        if given and channel in CONSENT_FIELDS
    ]
    ConsentChange.objects.bulk_create(
        [ConsentChange(shop=shop, member_id=pk, channel=c, granted=True, source=source) for pk, c in granted],
        batch_size=1000,
    )
    emit_many(
        shop_id=shop.pk,
        events=[
            *(NewEvent(EventType.MEMBER_JOINED, ids[p], {"source": source}, new[p].joined_at) for p in ids),
            *(
                NewEvent(EventType.CONSENT_CHANGED, pk, {"channel": c, "granted": True, "source": source})
                for pk, c in granted
            ),
        ],
    )
    return len(new)


@transaction.atomic
def device_register(*, shop: Shop, member: Member, platform: str, token: str) -> tuple[Device, bool]:
    """Register `member`'s app push token. Returns (device, registered): registered is False when the token was
    already this member's, on this platform and active (nothing changes but its last_seen_at); otherwise the token
    is written for this member, taken over from another member of the shop if it was theirs (a phone that changed
    hands), and marked active again.

    Idempotent, and safe under concurrent calls: one INSERT ... ON CONFLICT (shop, token) DO UPDATE, so two
    registrations of one token leave one row, the last one's. Raises MemberErased. The caller validates platform
    and token (the API's serializer)."""
    assert member.shop_id == shop.pk
    if member.status == MemberStatus.ERASED:
        raise MemberErased()
    now = timezone.now()
    mine = Device.objects.filter(shop=shop, token=token, member=member, platform=platform, is_active=True)
    if mine.update(last_seen_at=now):
        return mine.get(), False
    (device,) = Device.objects.bulk_create(
        [Device(shop=shop, member=member, platform=platform, token=token, created_at=now, last_seen_at=now)],
        update_conflicts=True,
        unique_fields=["shop", "token"],
        update_fields=["member", "platform", "is_active", "created_at", "last_seen_at"],
    )
    return device, True
