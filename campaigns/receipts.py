"""What the `http` SMS provider tells us back (SPEC 10 and 12): delivery receipts and shoppers' replies, POSTed to
/api/v1/messaging/receipts/http/ and signed as our requests to it are (HMAC-SHA256 of the body under
SMS_HTTP_SECRET). Not key-authenticated: the provider knows no shop, so each item finds its shop itself.

- A receipt names our message id ("<shop id>-<message id>", campaigns.models.provider_id): the row becomes
  `delivered`, or `failed` with the error. A receipt that arrives while the row is still `sending` (the sender died
  or timed out) settles it: the sweep finds the delivery and sends nothing again.
- A reply names a phone: a "T", "TD" or "退订" withdraws SMS consent, with the source `sms_reply`, in the shop whose
  marketing SMS reached that number last (a phone may be a member of several shops; the reply answers one)."""

import hmac

from django.conf import settings
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from members.models import Member, MemberStatus
from members.phones import InvalidPhone, normalize_phone
from members.services import member_update
from shops.ids import parse_id
from shops.messaging import sign
from shops.models import Shop
from shops.services import SYSTEM

from .models import Channel, Message, MessageStatus
from .rules import is_opt_out_reply


def signature_valid(body: bytes, header: str) -> bool:
    secret = settings.SMS_HTTP_SECRET
    if not secret or not header.startswith("sha256="):
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500), and headers may hold any.
    given = header.removeprefix("sha256=").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, sign(body, secret).encode())


def _message_of(message_id: str) -> tuple[int, int] | None:
    shop_part, _, row_part = str(message_id).partition("-")
    shop_id, pk = parse_id(shop_part), parse_id(row_part)
    if shop_id is None or pk is None:
        return None
    return shop_id, pk


def receipt_record(*, message_id: str, delivered: bool, error: str = "") -> bool:
    """Apply a delivery receipt; False when no such message is ours (nothing changes)."""
    ids = _message_of(message_id)
    if ids is None:
        return False
    shop_id, pk = ids
    with scope(shop=shop_id):
        rows = Message.objects.filter(shop_id=shop_id, pk=pk, channel=Channel.SMS)
        now = timezone.now()
        if delivered:
            # A row still `sending` keeps its status for the sweep to settle, with the delivery noted.
            rows.filter(status=MessageStatus.SENDING).update(delivered_at=now)
            rows.filter(status=MessageStatus.SENT).update(status=MessageStatus.DELIVERED, delivered_at=now)
            return rows.exists()
        rows.filter(status__in=[MessageStatus.SENT, MessageStatus.SENDING]).update(
            status=MessageStatus.FAILED, error=(error or "failed")[:500]
        )
        return rows.exists()


def reply_record(*, phone: str, text: str) -> bool:
    """Apply a shopper's reply; True when it withdrew a consent."""
    if not is_opt_out_reply(text):
        return False
    try:
        phone = normalize_phone(phone)  # rows hold E.164; providers often report "138..." without +86
    except InvalidPhone:
        return False
    with scopes_disabled():  # a reply names no shop: the last SMS to this number says which (module docstring)
        last = (
            Message.objects.filter(channel=Channel.SMS, address=phone, sent_at__isnull=False)
            .order_by("-sent_at")
            .values_list("shop_id", "member_id")
            .first()
        )
    if last is None:
        return False
    shop_id, member_id = last
    shop = Shop.objects.get(pk=shop_id)
    with scope(shop=shop):
        member = Member.objects.filter(shop=shop, pk=member_id).exclude(status=MemberStatus.ERASED).first()
        if member is None or not member.consent_sms:
            return False
        member_update(shop=shop, member=member, actor=SYSTEM, source="sms_reply", consents={"sms": False})
    return True
