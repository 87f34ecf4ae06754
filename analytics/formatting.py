"""Numbers in the merchant's conventions (SPEC 14), in one place: the pages' template filters
(analytics.templatetags.analytics_format) and the charts' axis labels call these.

- zh-Hans: 10,000 and more in 万 (and 100,000,000 and more in 亿), up to two decimals, trailing zeros dropped:
  12,345 -> "1.23万"; below that, thousands separators: "9,876".
- other languages: thousands separators, never compacted.
- money: the currency's symbol (¥ for CNY) before the number, two decimals unless compacted.
Rounding is half up, once, here."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils import translation

CURRENCY_SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "HKD": "HK$", "EUR": "€", "GBP": "£", "TWD": "NT$"}
UNITS = (("亿", Decimal(10) ** 8), ("万", Decimal(10) ** 4))
NOTHING = "–"


def _chinese() -> bool:
    return (translation.get_language() or "").lower().startswith("zh")


def _grouped(value: Decimal, places: int) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"


def format_number(value, *, places: int = 0, compact: bool = True) -> str:
    """`value` (int, Decimal, float or None) as the merchant writes it; None as a dash."""
    if value is None:
        return NOTHING
    number = Decimal(str(value))
    if compact and _chinese():
        for unit, size in UNITS:
            if abs(number) >= size:
                text = _grouped(number / size, 2)
                return text.rstrip("0").rstrip(".") + unit
    return _grouped(number, places)


def currency_symbol(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(currency, f"{currency} ")


def format_money(value, currency: str = "CNY", *, compact: bool = True) -> str:
    """¥1,234.50; ¥12.35万 in zh-Hans from 10,000 on; None as a dash."""
    if value is None:
        return NOTHING
    number = Decimal(str(value))
    sign = "-" if number < 0 else ""
    return f"{sign}{currency_symbol(currency)}{format_number(abs(number), places=2, compact=compact)}"


def format_percent(rate, *, places: int = 1) -> str:
    """A rate between 0 and 1 as a percentage: 0.1234 -> "12.3%"; None as a dash."""
    if rate is None:
        return NOTHING
    return f"{_grouped(Decimal(str(rate)) * 100, places)}%"


def change(current, previous) -> dict:
    """The change from `previous` to `current` in percent: {"rate": float | None, "text": "+12.3%", "sign": "up",
    "down" or "flat"}; no base to compare with (previous 0 or None): rate None, text a dash."""
    if current is None or not previous:
        return {"rate": None, "text": NOTHING, "sign": "flat"}
    rate = (float(current) - float(previous)) / abs(float(previous))
    text = format_percent(abs(rate))
    if round(rate, 3) == 0:
        return {"rate": rate, "text": text, "sign": "flat"}
    return {"rate": rate, "text": ("+" if rate > 0 else "−") + text, "sign": "up" if rate > 0 else "down"}
