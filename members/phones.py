"""Phone numbers: parsed and normalised to E.164 with `phonenumbers`, +86 when no country code is given."""

import phonenumbers

from shops.ids import ascii_digits

DEFAULT_REGION = "CN"


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """'138 0013 8000', '+86 138-0013-8000', '8613800138000' -> '+8613800138000'. Raises InvalidPhone."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidPhone(raw)
    if text.startswith("86") and len(text) == 13 and ascii_digits(text):
        text = "+" + text  # a mainland mobile written with its country code but no plus, as exports often do
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(raw) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """'+8613812341234' -> '138****1234' (national digits, middle four hidden), for roles without the right."""
    if not phone:
        return ""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"
