import math

from django.conf import settings

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
