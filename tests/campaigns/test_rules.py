"""Message text rules (campaigns.rules): placeholders, SMS billing length, signature and opt-out line, opt-out
replies. Pure functions: no database."""

import pytest

from campaigns.errors import MissingSignature, UnbalancedBraces, UnknownPlaceholder
from campaigns.rules import GSM7, UCS2, SmsLength, is_opt_out_reply, placeholders_check, render, sms_compose, sms_parts


def test_known_placeholders_pass():
    placeholders_check("{name}, {shop}: {tier} {points_balance} {points_expiring} {coupon} {link}")
    placeholders_check("no placeholder at all")


def test_unknown_placeholders_are_named_once_each_in_order():
    with pytest.raises(UnknownPlaceholder) as raised:
        placeholders_check("{nmae} {name} {Name} {nmae} {}")
    assert raised.value.code == "unknown_placeholder"
    assert raised.value.details == {"placeholders": ["nmae", "Name", ""]}
    assert "{nmae}, {Name}, {}" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "position"),
    [("hello {name", 6), ("hello name}", 10), ("{{name}}", 0), ("{name}}", 6), ("a { b {name}", 2)],
)
def test_a_brace_without_its_partner_is_refused_with_its_position(text, position):
    with pytest.raises(UnbalancedBraces) as raised:
        placeholders_check(text)
    assert raised.value.code == "unbalanced_braces"
    assert raised.value.details == {"position": position}


def test_render_fills_known_placeholders_and_renders_a_missing_value_empty():
    text = "{name}, {points_balance} points at {shop}{coupon}"
    assert render(text, {"name": "王小明", "points_balance": 1200, "shop": "Tea", "coupon": None}) == (
        "王小明, 1200 points at Tea"
    )
    assert render(text, {}) == ",  points at "


def test_render_does_not_read_what_a_value_holds():
    assert render("Hi {name}, use {coupon}", {"name": "{coupon} {0} {x", "coupon": "C1"}) == (
        "Hi {coupon} {0} {x, use C1"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsLength(0, 0, GSM7)),
        ("a" * 160, SmsLength(160, 1, GSM7)),
        ("a" * 161, SmsLength(161, 2, GSM7)),
        ("a" * 306, SmsLength(306, 2, GSM7)),
        ("a" * 307, SmsLength(307, 3, GSM7)),
        ("€" * 80, SmsLength(160, 1, GSM7)),  # an extension character is two septets
        ("[]{}^~\\|" + "a" * 144, SmsLength(160, 1, GSM7)),
        ("€" + "a" * 159, SmsLength(161, 2, GSM7)),
        ("a" * 152 + "€" + "a" * 7, SmsLength(161, 2, GSM7)),
        ("a" * 152 + "€" * 77, SmsLength(306, 3, GSM7)),  # 306 septets would fit 2 parts; the pair is not split
        ("àÄöÑüßΔ@£$¥", SmsLength(11, 1, GSM7)),
        ("会" * 70, SmsLength(70, 1, UCS2)),
        ("会" * 71, SmsLength(71, 2, UCS2)),
        ("会" * 134, SmsLength(134, 2, UCS2)),
        ("会" * 135, SmsLength(135, 3, UCS2)),
        ("a" * 69 + "é", SmsLength(70, 1, GSM7)),
        ("a" * 69 + "ç", SmsLength(70, 1, UCS2)),  # ç is not GSM (only Ç is): the whole text is UCS-2
        ("😀" * 35, SmsLength(70, 1, UCS2)),  # an emoji is two UTF-16 units
        ("a" + "😀" * 35, SmsLength(71, 2, UCS2)),
        ("a" * 66 + "😀" + "a", SmsLength(69, 1, UCS2)),
        ("a" * 66 + "😀" * 2, SmsLength(70, 1, UCS2)),
        ("a" * 66 + "😀" * 34, SmsLength(134, 3, UCS2)),  # 134 units would fit 2 parts; a pair is not split
        ("【茶铺】" + "a" * 60, SmsLength(64, 1, UCS2)),
    ],
)
def test_sms_parts_as_carriers_bill_them(text, expected):
    assert sms_parts(text) == expected


def test_compose_prefixes_the_signature_and_appends_the_opt_out_line_of_the_language():
    assert sms_compose("周末满100减20", signature="茶铺", locale="zh-hans") == "【茶铺】周末满100减20回T退订"
    assert (
        sms_compose("Sale this weekend.", signature="Tea", locale="en")
        == "【Tea】Sale this weekend. Reply T to opt out"
    )
    assert sms_compose("Sale", signature="Tea", locale="zh_Hans") == "【Tea】Sale回T退订"


def test_compose_strips_brackets_the_merchant_typed_and_does_not_add_twice():
    assert sms_compose("满减 回T退订", signature=" 【茶铺】 ", locale="zh-hans") == "【茶铺】满减 回T退订"
    assert sms_compose("【茶铺】满减，回T退订。", signature="茶铺", locale="zh-hans") == "【茶铺】满减，回T退订。"
    assert sms_compose("Sale. Reply T to opt out", signature="Tea", locale="en") == "【Tea】Sale. Reply T to opt out"


def test_a_transactional_sms_has_the_signature_and_no_opt_out_line():
    assert sms_compose("验证码 123456", signature="茶铺", locale="zh-hans", marketing=False) == "【茶铺】验证码 123456"


@pytest.mark.parametrize("signature", ["", "  ", "【】"])
def test_compose_refuses_a_missing_signature(signature):
    with pytest.raises(MissingSignature):
        sms_compose("hi", signature=signature, locale="en")


@pytest.mark.parametrize(
    "reply",
    [
        "T",
        "t",
        " T ",
        "T.",
        "“T”",
        "TD",
        "td!",
        "退订",
        " 退订。",
        "Ｔ",
        "ＴＤ",
        "ｔｄ",
        "unsubscribe",
        "STOP",
        "Stop!",
    ],
)
def test_opt_out_replies(reply):
    assert is_opt_out_reply(reply) is True


@pytest.mark.parametrize(
    "reply", ["TT", "T T", "Thanks", "I want to stop by tomorrow", "", "  ", "不要退订", "T退订", "DT"]
)
def test_replies_that_are_not_opt_outs(reply):
    assert is_opt_out_reply(reply) is False
