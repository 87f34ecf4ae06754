"""The Content-Security-Policy header, on every response of every environment (settings.SECURE_CSP).

Django 5.2 has no CSP of its own. django-csp 4.0 builds the policy from its settings twice per response
(dataclasses.asdict, a copy of every directive): measured here, on a loaded machine, 0.2-0.3 ms a response against
0.01 ms for this middleware, which joins the policy once at start-up (the single-order API spends about 2.8 ms of
Python per order, docs/benchmarks.md). It follows Django 6.0's built-in CSP (the setting SECURE_CSP, the template
variable csp_nonce), so the upgrade can swap it for django.middleware.csp.ContentSecurityPolicyMiddleware, NONCE
becoming django.utils.csp.CSP.NONCE.

A template that needs an inline <style> (the shop's brand colour) writes `<style nonce="{{ csp_nonce }}">`. The
nonce is made when a template first prints it, and only such responses name it in their header.
"""

import secrets

from django.conf import settings

HEADER = "Content-Security-Policy"
# Stands for the response's nonce in SECURE_CSP: `"style-src": ["'self'", "<nonce>"]`.
NONCE = "<nonce>"
# Pages kept rendered in the cache (portal.views.base.shared_page) print this instead of the nonce and put the
# response's own nonce in before they are sent: a nonce must never be reused across responses.
NONCE_PLACEHOLDER = "csp-nonce-placeholder-7f3c1a"


class LazyNonce:
    """The response's nonce, made on first use (str())."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = None

    def __str__(self) -> str:
        if self.value is None:
            self.value = secrets.token_urlsafe(18)
        return self.value


def policy_header(directives: dict[str, list[str]], nonce: str | None = None) -> str:
    """The header's value: directives in the settings' order; NONCE becomes 'nonce-...', or is left out without one."""
    parts = []
    for name, sources in directives.items():
        values = [f"'nonce-{nonce}'" if source == NONCE else source for source in sources if nonce or source != NONCE]
        parts.append(" ".join([name, *values]))
    return "; ".join(parts)


class ContentSecurityPolicyMiddleware:
    """Sets the header unless the response has one. In DEBUG, Django's technical 404 and 500 pages (inline styles
    and scripts) are left without it, as Django 6.0 does."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.directives = settings.SECURE_CSP
        self.without_nonce = policy_header(self.directives)

    def __call__(self, request):
        nonce = request.csp_nonce = LazyNonce()
        response = self.get_response(request)
        if HEADER in response or (settings.DEBUG and response.status_code in (404, 500)):
            return response
        response.headers[HEADER] = (
            self.without_nonce if nonce.value is None else policy_header(self.directives, nonce.value)
        )
        return response


def csp(request) -> dict:
    """Context processor: {{ csp_nonce }} (empty outside a request that went through the middleware)."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
