"""One-time codes: 6 digits by SMS, valid 5 minutes, 5 attempts, single use, sending limited per phone and per
address; the same answer whatever the phone."""

import datetime
import re

import pytest
import time_machine
from django.utils import timezone

from members.errors import InvalidPhoneError
from recruitment import limits, otp
from recruitment.errors import CodeRejected, RateLimited
from shops.sms import LocmemBackend

from .helpers import join

PHONE = "13800138000"


@pytest.fixture(autouse=True)
def _locmem_sms(settings):
    settings.SMS_BACKEND = "locmem"


def sent_code() -> str:
    return re.search(r"\b(\d{6})\b", LocmemBackend.outbox[-1].text).group(1)


def send(shop, phone=PHONE, ip="203.0.113.7", **kwargs):
    with pytest.MonkeyPatch.context():
        return otp.otp_send(shop=shop, phone=phone, ip=ip, **kwargs)


@pytest.mark.django_db(transaction=True)  # the SMS goes out after commit
def test_a_code_is_six_digits_sent_to_the_e164_phone_and_verifies_once(shop):
    assert send(shop) == "+8613800138000"
    message = LocmemBackend.outbox[-1]
    assert message.phone == "+8613800138000" and message.shop_id == shop.pk
    code = sent_code()
    assert len(code) == 6

    assert otp.otp_verify(shop=shop, phone="138 0013 8000", code=code) == "+8613800138000"
    with pytest.raises(CodeRejected):
        otp.otp_verify(shop=shop, phone=PHONE, code=code)


@pytest.mark.django_db(transaction=True)
def test_a_code_expires_after_five_minutes(shop):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        send(shop)
        code = sent_code()
        clock.shift(datetime.timedelta(minutes=5, seconds=1))
        # The cache expires keys on its own clock: the code must be gone by then.
        with pytest.raises(CodeRejected):
            otp.otp_verify(shop=shop, phone=PHONE, code=code)


@pytest.mark.django_db(transaction=True)
def test_five_wrong_attempts_burn_the_code(shop):
    send(shop)
    code = sent_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(CodeRejected):
            otp.otp_verify(shop=shop, phone=PHONE, code=wrong)

    with pytest.raises(RateLimited):
        otp.otp_verify(shop=shop, phone=PHONE, code=code)  # the right code, too late
    with pytest.raises(RateLimited):
        otp.otp_verify(shop=shop, phone=PHONE, code=code)  # and it stays refused until a new code is sent


@pytest.mark.django_db(transaction=True)
def test_a_new_code_replaces_the_last_and_resets_the_attempts(shop):
    send(shop)
    first = sent_code()
    send(shop)
    second = sent_code()
    if first != second:
        with pytest.raises(CodeRejected):
            otp.otp_verify(shop=shop, phone=PHONE, code=first)
    assert otp.otp_verify(shop=shop, phone=PHONE, code=second) == "+8613800138000"


@pytest.mark.django_db
def test_codes_are_per_shop(shop, other_shop):
    otp.otp_send(shop=shop, phone=PHONE, ip="203.0.113.7")
    with pytest.raises(CodeRejected):
        otp.otp_verify(shop=other_shop, phone=PHONE, code="000000")


@pytest.mark.django_db
def test_five_codes_per_phone_an_hour(shop):
    for i in range(5):
        otp.otp_send(shop=shop, phone=PHONE, ip=f"203.0.113.{i}")
    with pytest.raises(RateLimited) as refused:
        otp.otp_send(shop=shop, phone=PHONE, ip="203.0.113.99")
    assert refused.value.status == 429
    otp.otp_send(shop=shop, phone="13800138001", ip="203.0.113.99")  # another phone still gets one


@pytest.mark.django_db
def test_five_codes_per_phone_an_hour_whichever_shops_send_them(shop, other_shop):
    for i in range(3):
        otp.otp_send(shop=shop, phone=PHONE, ip=f"203.0.113.{i}")
    for i in range(2):
        otp.otp_send(shop=other_shop, phone="+86 138 0013 8000", ip=f"198.51.100.{i}")  # the same phone

    for sender in (other_shop, shop):
        with pytest.raises(RateLimited):
            otp.otp_send(shop=sender, phone=PHONE, ip="192.0.2.1")
    otp.otp_send(shop=other_shop, phone="13800138001", ip="192.0.2.1")  # another phone still gets one


@pytest.mark.django_db
def test_ten_codes_per_phone_a_day_whichever_shops_send_them(shop, other_shop, monkeypatch):
    monkeypatch.setattr(otp, "SENDS_PER_PHONE_HOUR", 100)  # the day's window alone
    for i in range(10):
        otp.otp_send(shop=(shop, other_shop)[i % 2], phone=PHONE, ip=f"203.0.113.{i}")
    with pytest.raises(RateLimited):
        otp.otp_send(shop=shop, phone=PHONE, ip="192.0.2.1")


@pytest.mark.django_db
def test_a_refused_code_counts_in_no_window(shop):
    # given: the phone's hour is used up from one address
    for _ in range(5):
        otp.otp_send(shop=shop, phone=PHONE, ip="198.51.100.1")
    # when: that address keeps asking for the phone, refused each time
    for _ in range(20):
        with pytest.raises(RateLimited):
            otp.otp_send(shop=shop, phone=PHONE, ip="198.51.100.1")
    # then: the refusals took nothing from the address's 20 (5 used) nor from the phone's day (5 used)
    for i in range(15):
        otp.otp_send(shop=shop, phone=f"1390013{i:04d}", ip="198.51.100.1")
    with pytest.raises(RateLimited):
        otp.otp_send(shop=shop, phone="13700137000", ip="198.51.100.1")
    assert limits.count("otp-phone-day:+8613800138000") == 5


@pytest.mark.django_db
def test_a_full_window_gives_back_what_the_others_counted():
    limits.hit_all_or_refuse(("test-a", 5, limits.HOUR), ("test-b", 1, limits.HOUR))
    with pytest.raises(RateLimited):
        limits.hit_all_or_refuse(("test-a", 5, limits.HOUR), ("test-b", 1, limits.HOUR))
    assert (limits.count("test-a"), limits.count("test-b")) == (1, 1)


@pytest.mark.django_db
def test_twenty_codes_per_address_an_hour(shop):
    for i in range(20):
        otp.otp_send(shop=shop, phone=f"1380013{i:04d}", ip="198.51.100.1")
    with pytest.raises(RateLimited):
        otp.otp_send(shop=shop, phone="13900139000", ip="198.51.100.1")
    otp.otp_send(shop=shop, phone="13900139000", ip="198.51.100.2")  # another address is not held up


@pytest.mark.django_db
def test_the_address_window_ends_after_an_hour(shop, settings):
    if "redis" in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("Redis expires the window on its own clock, which the test cannot move")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for i in range(20):
            otp.otp_send(shop=shop, phone=f"1380013{i:04d}", ip="198.51.100.1")
        clock.shift(datetime.timedelta(hours=1, seconds=1))
        otp.otp_send(shop=shop, phone="13900139001", ip="198.51.100.1")


@pytest.mark.django_db
def test_a_malformed_phone_is_refused_before_anything_is_sent(shop):
    with pytest.raises(InvalidPhoneError):
        otp.otp_send(shop=shop, phone="12345", ip="203.0.113.7")
    assert LocmemBackend.outbox == []


@pytest.mark.django_db(transaction=True)
def test_sending_says_the_same_to_a_member_and_to_a_new_phone(shop):
    join(shop, 1)
    member_phone, new_phone = "13900130001", "13900130002"

    answers = [otp.otp_send(shop=shop, phone=p, ip="203.0.113.7") for p in (member_phone, new_phone)]
    texts = [re.sub(r"\d{6}", "######", m.text) for m in LocmemBackend.outbox[-2:]]

    assert answers == ["+8613900130001", "+8613900130002"]  # the phone as given, normalised: nothing more
    assert texts[0] == texts[1]
