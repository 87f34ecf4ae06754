"""Portal test helpers: a shopper's steps through the pages, with the SMS read from the locmem outbox."""

import re

from django.test import TestCase

from shops.sms import LocmemBackend

PHONE = "13800138000"
E164 = "+8613800138000"
JSON = {"HTTP_ACCEPT": "application/json"}


def send_code(client, shop, phone: str = PHONE, **extra):
    """POST the phone to the code route as the page's script does. The SMS leaves after the commit: run it."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(f"/m/{shop.slug}/code/", {"phone": phone}, **{**JSON, **extra})


def sent_code(phone: str = E164) -> str:
    """The code in the newest SMS to `phone`."""
    for message in reversed(LocmemBackend.outbox):
        if message.phone == phone:
            return re.search(r"\b(\d{6})\b", message.text).group(1)
    raise AssertionError(f"no SMS to {phone}")


def join_form(**fields) -> dict:
    return {
        "phone": PHONE,
        "name": "李雷",
        "gender": "unknown",
        "birthday_month": "",
        "birthday_day": "",
        "birth_year": "",
        "region": "上海",
        "agree": "on",
        "channel": "",
        "ref": "",
        **fields,
    }


def join(client, shop, phone: str = PHONE, **fields):
    """Send a code to `phone`, then join with it; the response to the join POST."""
    assert send_code(client, shop, phone).status_code == 200
    code = sent_code("+86" + phone.replace(" ", "")[-11:])
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(f"/m/{shop.slug}/join/", join_form(phone=phone, code=code, **fields))


def log_in(client, shop, phone: str = PHONE):
    assert send_code(client, shop, phone).status_code == 200
    code = sent_code("+86" + phone[-11:])
    return client.post(f"/m/{shop.slug}/login/", {"phone": phone, "code": code})


def text(response) -> str:
    return response.content.decode()


def make_member(shop, phone: str = PHONE, **fields):
    """A member enrolled as the dashboard or the API would (not through the portal)."""
    from members.services import Enrolment, member_enroll

    return member_enroll(shop=shop, data=Enrolment(phone=phone, **fields))[0]
