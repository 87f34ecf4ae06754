"""The public addresses of channels and referral codes. They are printed in QR codes and on posters, so their
form never changes: /j/<code>/ for a channel, /r/<code>/ for a member's referral link, on settings.PUBLIC_URL."""

from django.conf import settings


def public_url(path: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + path


def channel_path(code: str) -> str:
    return f"/j/{code}/"


def referral_path(code: str) -> str:
    return f"/r/{code}/"


def channel_url(code: str) -> str:
    return public_url(channel_path(code))


def referral_url(code: str) -> str:
    return public_url(referral_path(code))
