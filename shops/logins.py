"""Limits on staff log-ins (django-axes): failed attempts are counted per account and per network address, each
with its own limit, over a cool-off window; at the limit, log-ins for that account, or from that address, are
refused with 429 and a message on the login page until the window has passed.

Both the dashboard's login (/accounts/login/) and the Django admin's go through django.contrib.auth.authenticate,
where axes' backend (first in AUTHENTICATION_BACKENDS) refuses a locked account or address before the password is
checked. Settings: LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS, LOGIN_COOLOFF_MINUTES.
"""

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import ngettext


def login_username(request, credentials: dict | None) -> str | None:
    """The account an attempt names, as accounts are stored (emails in lower case): "Owner@X" and "owner@x" are
    one account's attempts, whatever the login form does with case."""
    value = credentials.get("username") if credentials is not None else request.POST.get("username")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


class LoginAttempts(AxesDatabaseHandler):
    """axes' database handler (attempts are rows: they survive restarts and need no Redis, and the ops admin lists
    them), with one limit per account and another per address. Axes compares a single number with a single limit
    (AXES_FAILURE_LIMIT, the account's), so the address's failures are counted in the account limit's units."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is not None:
            # Stored as text, where PostgreSQL refuses NUL: a header carrying one must not turn a failure into a 500.
            for name in ("axes_user_agent", "axes_http_accept"):
                setattr(request, name, getattr(request, name, "").replace("\x00", ""))
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def get_failures(self, request, credentials: dict | None = None) -> int:
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        by_account = _failures(recent.filter(username=get_client_username(request, credentials)))
        by_address = _failures(recent.filter(ip_address=request.axes_ip_address))
        account_limit = settings.AXES_FAILURE_LIMIT
        # floor(n * L / A) >= L exactly when n >= A: the address is locked at its own limit.
        return max(by_account, by_address * account_limit // settings.LOGIN_FAILURES_PER_ADDRESS)

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """On a successful log-in, the account's failures are forgotten, but not the address's: someone who logs in
        to an account of their own must not wipe the count of what that address tried on other accounts."""
        count, _ = AccessAttempt.objects.filter(username=get_client_username(request, credentials)).delete()
        return count


def _failures(attempts) -> int:
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def account_unlock(*, email: str) -> None:
    """Forget the failed log-ins of an account (after its password was reset through its email)."""
    AxesProxyHandler.reset_attempts(username=email.strip().lower())


def lockout_message() -> str:
    minutes = math.ceil(get_cool_off().total_seconds() / 60)
    return ngettext(
        "Too many failed log-ins for this account or from your network. Log-ins are paused for %(minutes)d "
        "minute; you can reset your password meanwhile.",
        "Too many failed log-ins for this account or from your network. Log-ins are paused for %(minutes)d "
        "minutes; you can reset your password meanwhile.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login page that was answered (the dashboard's or the admin's, with its own
    context), its form showing why instead of "wrong password", with 429 and Retry-After."""
    message = lockout_message()
    context = getattr(original_response, "context_data", None)
    if context is not None and context.get("form") is not None:
        form = context["form"]
        form.errors[NON_FIELD_ERRORS] = form.error_class([message], error_class="nonfield")
        response = TemplateResponse(request, original_response.template_name, context, status=429)
        response.render()
    else:  # not a login page (axes flags only requests that authenticate): the message alone
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(int(get_cool_off().total_seconds()))
    return response
