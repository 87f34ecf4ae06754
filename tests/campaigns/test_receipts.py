"""The `http` provider's callback (SPEC 10 and 12): signed receipts move a message row, a "T" reply withdraws SMS
consent in the shop whose SMS reached the phone last, and nothing unsigned changes anything."""

import json

import pytest

from campaigns.models import MessageStatus
from members.models import ConsentChange, Member
from shops.messaging import sign

from .helpers import members, rows, send_all, started

pytestmark = pytest.mark.django_db

URL = "/api/v1/messaging/receipts/http/"
SECRET = "provider-secret"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.SMS_HTTP_SECRET = SECRET


def post(client, payload, *, signature: str | None = "good", secret: str = SECRET):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signature == "good":
        headers["HTTP_X_HUIYUAN_SIGNATURE"] = f"sha256={sign(raw, secret)}"
    elif signature is not None:
        headers["HTTP_X_HUIYUAN_SIGNATURE"] = signature
    return client.post(URL, raw, content_type="application/json", **headers)


def sent_row(shop, **fields):
    members(shop, 1, **fields)
    campaign = started(shop, holdout_percent=0)
    send_all(shop, campaign)
    row = rows(shop, campaign).get()
    assert row.status == MessageStatus.SENT
    return row


def state(row):
    row.refresh_from_db()
    return row.status, row.delivered_at, row.error


@pytest.mark.parametrize(
    ("signature", "secret"),
    [(None, SECRET), ("", SECRET), ("good", "wrong-secret"), ("sha1=abc", SECRET), ("deadbeef", SECRET),
     ("sha256=", SECRET), ("sha256=é" + "0" * 63, SECRET), ("sha256=签名", SECRET)],
    ids=["missing", "empty", "other-secret", "other-scheme", "no-prefix", "empty-digest", "latin-1", "non-latin"],
)  # fmt: skip
def test_a_bad_or_missing_signature_is_401_and_changes_nothing(client, shop, signature, secret):
    row = sent_row(shop)
    before = state(row)
    payload = {"type": "receipt", "message_id": row.provider_id, "status": "delivered"}
    response = post(client, payload, signature=signature, secret=secret)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert state(row) == before


def test_a_signature_of_another_body_is_401(client, shop):
    row = sent_row(shop)
    other = json.dumps({"type": "receipt", "message_id": row.provider_id, "status": "failed"}).encode()
    body = json.dumps({"type": "receipt", "message_id": row.provider_id, "status": "delivered"}).encode()
    response = client.post(
        URL, body, content_type="application/json", HTTP_X_HUIYUAN_SIGNATURE=f"sha256={sign(other, SECRET)}"
    )
    assert response.status_code == 401
    assert state(row)[0] == MessageStatus.SENT


def test_without_a_configured_secret_nothing_is_accepted(client, shop, settings):
    row = sent_row(shop)
    settings.SMS_HTTP_SECRET = ""
    payload = {"type": "receipt", "message_id": row.provider_id, "status": "delivered"}
    assert post(client, payload, secret="").status_code == 401
    assert state(row)[0] == MessageStatus.SENT


def test_a_delivered_receipt_moves_the_row(client, shop):
    row = sent_row(shop)
    response = post(client, {"type": "receipt", "message_id": row.provider_id, "status": "delivered"})
    assert (response.status_code, response.json()) == (200, {"known": True})
    status, delivered_at, _error = state(row)
    assert status == MessageStatus.DELIVERED and delivered_at is not None


def test_a_failed_receipt_moves_the_row_with_the_error(client, shop):
    row = sent_row(shop)
    payload = {"type": "receipt", "message_id": row.provider_id, "status": "failed", "error": "空号"}
    assert post(client, payload).json() == {"known": True}
    assert state(row) == (MessageStatus.FAILED, None, "空号")


@pytest.mark.parametrize(
    "message_id", ["999999-1", "abc", "1-", "-1", "1-2-3", "0-0", "99999999999999999999-1", "¹-²", "１-２", ""]
)
def test_an_unknown_message_id_is_200_known_false(client, shop, message_id):
    row = sent_row(shop)
    response = post(client, {"type": "receipt", "message_id": message_id, "status": "delivered"})
    if message_id == "":
        assert response.status_code == 400  # a required field left blank
    else:
        assert (response.status_code, response.json()) == (200, {"known": False})
    assert state(row)[0] == MessageStatus.SENT


def test_another_shops_row_id_under_this_shops_prefix_is_unknown(client, shop, other_shop):
    """A message id names its shop: the row id of shop B under shop A's prefix finds nothing."""
    theirs = sent_row(other_shop)
    sent_row(shop)
    response = post(client, {"type": "receipt", "message_id": f"{shop.pk}-{theirs.pk}", "status": "failed"})
    assert response.json() == {"known": False}
    assert state(theirs)[0] == MessageStatus.SENT


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b"{}", b'{"type": "receipt"}', b'{"type": "other"}', b'{"type": "reply", "phone": "1"}',
     b'{"type": "receipt", "message_id": "1-1", "status": "read"}', b'{"type": "receipt", "message_id": {"a": 1}, '
     b'"status": "delivered"}', b'"x"', b"null"],
)  # fmt: skip
def test_a_signed_but_malformed_body_is_400_not_500(client, shop, payload):
    response = post(client, payload)
    assert response.status_code == 400, (payload, response.status_code, response.content)
    assert set(response.json()) == {"code", "message", "details"}


# --- Replies -----------------------------------------------------------------------------------------------------


def reply(client, phone: str, text: str):
    return post(client, {"type": "reply", "phone": phone, "text": text, "received_at": "2026-12-01T10:00:00+08:00"})


@pytest.mark.parametrize("text", ["T", "TD", "退订", " t ", "Ｔ"])
def test_an_opt_out_reply_withdraws_sms_consent_and_the_next_campaign_suppresses(client, shop, text):
    row = sent_row(shop)
    member = Member.objects.get(pk=row.member_id)
    response = reply(client, member.phone, text)
    assert (response.status_code, response.json()) == (200, {"opted_out": True})
    member.refresh_from_db()
    assert member.consent_sms is False
    change = ConsentChange.objects.filter(shop=shop, member=member).latest("pk")
    assert (change.channel, change.granted, change.source) == ("sms", False, "sms_reply")
    # the next campaign
    campaign = started(shop, holdout_percent=0, name="下一次")
    send_all(shop, campaign)
    nxt = rows(shop, campaign).get(member=member)
    assert (nxt.status, nxt.reason) == (MessageStatus.SUPPRESSED, "unsubscribed")


def test_a_reply_in_the_providers_national_format_finds_the_member(client, shop):
    """Providers commonly report the mainland number without +86: the same member."""
    row = sent_row(shop)
    member = Member.objects.get(pk=row.member_id)
    assert member.phone.startswith("+86")
    assert reply(client, member.phone.removeprefix("+86"), "TD").json() == {"opted_out": True}
    member.refresh_from_db()
    assert member.consent_sms is False


@pytest.mark.parametrize("text", ["hello", "TT", "谢谢", "T 我要退订吗", ""])
def test_any_other_reply_changes_nothing(client, shop, text):
    row = sent_row(shop)
    member = Member.objects.get(pk=row.member_id)
    changes = ConsentChange.objects.filter(shop=shop).count()
    response = reply(client, member.phone, text)
    assert (response.status_code, response.json()) == (200, {"opted_out": False})
    member.refresh_from_db()
    assert member.consent_sms is True
    assert ConsentChange.objects.filter(shop=shop).count() == changes


def test_a_reply_from_an_unknown_phone_changes_nothing(client, shop):
    sent_row(shop)
    changes = ConsentChange.objects.filter(shop=shop).count()
    assert reply(client, "+8613700000000", "T").json() == {"opted_out": False}
    assert reply(client, "not a phone", "T").json() == {"opted_out": False}
    assert ConsentChange.objects.filter(shop=shop).count() == changes


def test_the_reply_answers_the_shop_that_messaged_the_phone_last(client, shop, other_shop):
    first = sent_row(shop, phone="13812345678")
    last = sent_row(other_shop, phone="13812345678")
    assert first.sent_at < last.sent_at
    assert reply(client, "+8613812345678", "T").json() == {"opted_out": True}
    assert Member.objects.get(pk=first.member_id).consent_sms is True
    assert Member.objects.get(pk=last.member_id).consent_sms is False
    assert not ConsentChange.objects.filter(shop=shop, source="sms_reply").exists()
