"""Template filters over analytics.formatting: {{ value|num }}, {{ value|money:shop.currency }}, {{ rate|pct }}."""

from django import template

from analytics.formatting import format_money, format_number, format_percent

register = template.Library()


@register.filter
def num(value):
    return format_number(value)


@register.filter
def money(value, currency="CNY"):
    return format_money(value, currency)


@register.filter
def pct(value):
    return format_percent(value)
