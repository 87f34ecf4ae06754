"""Message text, without the database (SPEC 12): placeholders checked when a campaign is saved and filled per
member, the SMS length as carriers bill it, the signature and opt-out line the product adds, and opt-out replies.
"""

import re
import unicodedata
from dataclasses import dataclass

from .errors import MissingSignature, UnbalancedBraces, UnknownPlaceholder

PLACEHOLDERS = frozenset({"name", "shop", "tier", "points_balance", "points_expiring", "coupon", "link"})
# An automation's messages also name what started them: the order, the gift, the date (of a birthday, an
# expiry), the item to buy again.
AUTOMATION_PLACEHOLDERS = PLACEHOLDERS | {"order", "gift", "date", "item"}
_PLACEHOLDER = re.compile(r"\{(" + "|".join(sorted(AUTOMATION_PLACEHOLDERS)) + r")\}")


def placeholders_check(text: str, allowed: frozenset[str] = PLACEHOLDERS) -> None:
    """Refuse a text whose braces are not pairs of known placeholders. There is no escape for a literal brace:
    merchants' texts are short, and a stray "{" is far more often a typo for a placeholder.

    Raises UnbalancedBraces (the first brace without a partner), UnknownPlaceholder (every unknown name, once)."""
    unknown: list[str] = []
    opened = None
    for position, char in enumerate(text):
        if char == "{":
            if opened is not None:
                raise UnbalancedBraces(details={"position": opened})
            opened = position
        elif char == "}":
            if opened is None:
                raise UnbalancedBraces(details={"position": position})
            name = text[opened + 1 : position]
            if name not in allowed and name not in unknown:
                unknown.append(name)
            opened = None
    if opened is not None:
        raise UnbalancedBraces(details={"position": opened})
    if unknown:
        raise UnknownPlaceholder(names=unknown)


def render(text: str, values: dict) -> str:
    """`text` with each known placeholder replaced by str(values[name]); a missing or None value renders empty.
    One pass with a regular expression, never str.format: what a value holds (a member named "{coupon}") is not
    read again, and unknown braces (refused at save time) stay as typed."""

    def fill(match: re.Match) -> str:
        value = values.get(match.group(1))
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(fill, text)


# GSM 03.38: the basic set is one septet a character; the extension table takes an escape septet and one more.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7, UCS2 = "GSM-7", "UCS-2"
# (one part, each part of several): a multi-part SMS gives up room in each part to the header that joins them.
PART_SIZES = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsLength:
    chars: int  # units as billed: GSM-7 septets (an extension character is 2) or UTF-16 code units (an emoji is 2)
    parts: int  # 0 for an empty text
    encoding: str  # GSM7 or UCS2


def sms_parts(text: str) -> SmsLength:
    """How many parts a carrier bills for `text`. One character outside GSM-7 (Chinese, an emoji, 【】) makes the
    whole message UCS-2. Parts of a long message are filled without splitting a character (an escape pair or a
    surrogate pair), as phones and gateways split them, so a part may hold one unit less than its size."""
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        encoding, widths = GSM7, [2 if c in GSM_EXTENSION else 1 for c in text]
    else:
        encoding, widths = UCS2, [2 if ord(c) > 0xFFFF else 1 for c in text]
    chars = sum(widths)
    single, multi = PART_SIZES[encoding]
    if chars == 0:
        return SmsLength(0, 0, encoding)
    if chars <= single:
        return SmsLength(chars, 1, encoding)
    parts, room = 1, multi
    for width in widths:
        if width > room:
            parts, room = parts + 1, multi
        room -= width
    return SmsLength(chars, parts, encoding)


OPT_OUT_LINES = {"zh": "回T退订", "en": "Reply T to opt out"}
_TRAILING = " \t\r\n.。!！"


def sms_compose(text: str, *, signature: str, locale: str, marketing: bool = True) -> str:
    """The SMS as sent: 【signature】 first (any 【】 the merchant typed around it removed), and for marketing the
    opt-out line of the shop's language last ("zh..." is Chinese, anything else English), not added again when the
    text already ends with one. The product adds both so a merchant cannot leave them out (SPEC 12).

    Raises MissingSignature when `signature` is empty once cleaned."""
    cleaned = signature.replace("【", "").replace("】", "").strip()
    if not cleaned:
        raise MissingSignature()
    prefix = f"【{cleaned}】"
    body = text.strip()
    if body.startswith(prefix):
        body = body[len(prefix) :].lstrip()
    if marketing:
        line = OPT_OUT_LINES["zh" if locale.lower().startswith("zh") else "en"]
        if not body.rstrip(_TRAILING).endswith(tuple(OPT_OUT_LINES.values())):
            separator = "" if line == OPT_OUT_LINES["zh"] or not body else " "
            body = f"{body}{separator}{line}"
    return prefix + body


OPT_OUT_REPLIES = frozenset({"t", "td", "退订", "unsubscribe", "stop"})


def is_opt_out_reply(text: str) -> bool:
    """Whether a shopper's reply withdraws consent: T, TD, 退订, unsubscribe or STOP alone, in any case, full-width
    letters too (NFKC folds Ｔ into T), with spaces and punctuation around it ignored. Anything longer ("TT", a
    sentence with a t in it) is not an opt-out: a false opt-out loses a member for good."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(folded)
    while start < end and _ignorable(folded[start]):
        start += 1
    while end > start and _ignorable(folded[end - 1]):
        end -= 1
    return folded[start:end] in OPT_OUT_REPLIES


def _ignorable(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PS"
