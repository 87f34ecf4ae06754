import math

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from . import availability
from .rest.errors import error_body
from .tenancy import all_shops, no_shop_scope


class RequestScopeMiddleware:
    """First of the middleware: every request starts with no shop scope and leaves none behind, whatever its view
    does. The views enter their own shop's scope with a `with` inside this one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with no_shop_scope():
            return self.get_response(request)


class AdminScopesDisabledMiddleware:
    """The Django admin is for operations staff, who look across shops by design: no shop scope there."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            with all_shops():
                return self.get_response(request)
        return self.get_response(request)


class RateLimitHeadersMiddleware:
    """Adds RateLimit-* headers (IETF draft) to answers whose request went through the API throttle."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        decision = getattr(request, "rate_limit", None)
        if decision is not None:
            window = math.ceil(decision.limit / settings.API_THROTTLE_RATE)
            response["RateLimit-Policy"] = f"{decision.limit};w={window}"
            response["RateLimit-Limit"] = str(decision.limit)
            response["RateLimit-Remaining"] = str(decision.remaining)
            response["RateLimit-Reset"] = str(math.ceil(decision.reset))
        return response


class ServiceUnavailableMiddleware:
    """A view that raised because Redis or PostgreSQL is out of reach (shops.availability) answers 503 with
    Retry-After instead of a 500: in the API's error format to a client that asks for JSON (the shopper pages'
    script, an API path outside DRF's views; DRF's views answer through shops.rest.errors), else a plain page that
    reads neither the session nor the user (the database may be what is down). Last in MIDDLEWARE: it sees the
    view's exception before any other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not availability.unavailable(exception):
            return None
        availability.log(exception)
        if request.path.startswith("/api/") or request.headers.get("Accept", "").startswith("application/json"):
            details = {"retry_after": availability.RETRY_AFTER}
            body = error_body("service_unavailable", availability.MESSAGE, details)
            response = JsonResponse(body, status=503)
        else:
            response = render(request, "503.html", {"message": availability.MESSAGE}, status=503)
        response["Retry-After"] = str(availability.RETRY_AFTER)
        return response
