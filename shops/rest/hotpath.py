"""The lean path of the hottest API writes: `POST /api/v1/orders/` and `POST /api/v1/members/{id}/coupons/`.

Why it exists: on the 2-core machine that serves the API and PostgreSQL together, 300 writes/s leave about 6.5 ms of
CPU per request for everything. DRF's handling of a request (the Request wrapper with its lazy parsing, content
negotiation, versioning, authenticator/permission/throttle objects, Response and its rendering machinery) and the
API key's lookup cost about as much as a claim itself (docs/benchmarks.md, issues 3 and 5).

What it skips, for the plain request every integration sends and only for it (`plain_json_post`: POST, a JSON body
of at most 64 KiB in UTF-8, `Authorization: Bearer ...`, no Accept or one that only JSON satisfies, no query
string): the Request wrapper, content negotiation, versioning, the per-request authenticator, permission and
throttle instances, and Response's rendering. It makes DRF's checks in DRF's order with the same code (the Bearer
header as ApiKeyAuthentication reads it, with its per-address limit on bad keys, shop_active_check, the key's bucket
through api_throttle), parses with the API's JSONParser (shops.rest.parsers, as DRF's path does), renders with DRF's
JSONRenderer and sends the same headers, so the answer is DRF's byte for byte (tests/shops/test_hotpath.py). Any
other request, and every error answer, goes through DRF itself (drf_error_answer). GET and the OpenAPI schema are
untouched: the view's decorated `post` is what the schema documents and DRF runs.

One thing differs on purpose: the key is resolved through apikey_authenticate_remembered, which remembers it for
API_KEY_CACHE_SECONDS in this process; a revoked key, or a frozen shop, stops these two writes within that delay
(every other endpoint, and DRF's path of these, at once).
"""

import io
from functools import cached_property

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from shops.ids import parse_int
from shops.services import Actor
from shops.tenancy import shop_scope

from .authentication import RememberedApiKeyAuthentication
from .parsers import JSONParser
from .permissions import shop_active_check
from .throttling import api_throttle, key_ident
from .views import ShopAPIView, client_ip

# Bigger bodies (an order with hundreds of items) are rare and go through DRF, which reads them as a stream.
MAX_BODY = 64 * 1024
_ACCEPTS = frozenset({"", "*/*", "application/json"})
_PARSER, _RENDERER, _AUTHENTICATION = JSONParser(), JSONRenderer(), RememberedApiKeyAuthentication()
_PARSER_CONTEXT = {"encoding": "utf-8"}


def plain_json_post(request) -> bool:
    """Whether DRF would treat `request` exactly as the lean path does (see the module docstring)."""
    meta = request.META
    if request.method != "POST" or meta.get("QUERY_STRING") or not meta.get("HTTP_AUTHORIZATION"):
        return False
    if meta.get("HTTP_ACCEPT", "") not in _ACCEPTS or request.content_type != "application/json":
        return False
    if request.content_params and request.content_params != {"charset": "utf-8"}:
        return False
    return parse_int(meta.get("CONTENT_LENGTH", ""), minimum=1, maximum=MAX_BODY) is not None


class LeanBody:
    """What a write reads of a lean request: `data`, parsed on first use as DRF's Request.data parses it (a view may
    answer 404 for its URL before it looks at the body, as it does under DRF)."""

    def __init__(self, request):
        self._request = request

    @cached_property
    def data(self):
        return _PARSER.parse(io.BytesIO(self._request.body), "application/json", _PARSER_CONTEXT)


class HotWriteView(ShopAPIView):
    """A ShopAPIView whose POST is one `write(request, **url_kwargs) -> (body, status)`, where `request` is DRF's
    Request or a LeanBody (only `request.data` is read). The view's documented `post` returns `self.answer(request,
    ...)` through DRF; plain requests take the lean path to the same `write`."""

    def write(self, request, **kwargs) -> tuple[dict, int]:
        raise NotImplementedError

    def answer(self, request, **kwargs) -> Response:
        body, status = self.write(request, **kwargs)
        return Response(body, status=status)

    def dispatch(self, request, *args, **kwargs):
        if not plain_json_post(request):
            return super().dispatch(request, *args, **kwargs)
        self.args, self.kwargs, self.request = args, kwargs, request
        self.headers = self.default_response_headers
        try:
            if "\x00" in request.path:  # as ShopAPIView.initial
                raise exceptions.NotFound()
            _user, api_key = _AUTHENTICATION.authenticate(request)
            shop_active_check(api_key)
            decision = api_throttle(request, key_ident(api_key))
            if not decision.allowed:
                raise exceptions.Throttled(decision.wait)
            self.shop, self.actor = api_key.shop, Actor.for_api_key(api_key, client_ip(request))
            with shop_scope(self.shop):
                body, status = self.write(LeanBody(request), **kwargs)
        except Exception as exc:  # noqa: BLE001 - every error is answered (or re-raised) by DRF itself
            return drf_error_answer(self, request, exc)
        response = HttpResponse(_RENDERER.render(body), status=status, content_type="application/json")
        for name, value in self.headers.items():  # Allow, as APIView.finalize_response
            response[name] = value
        return response


def drf_error_answer(view: ShopAPIView, request, exc: Exception):
    """The answer DRF's dispatch gives when `exc` is raised in a view: its Request (for the WWW-Authenticate
    header and content negotiation), the exception handler, finalize_response. Unexpected errors are re-raised."""
    drf_request = view.initialize_request(request, *view.args, **view.kwargs)
    view.format_kwarg = view.get_format_suffix(**view.kwargs)
    drf_request.accepted_renderer, drf_request.accepted_media_type = view.perform_content_negotiation(drf_request)
    view.request = drf_request
    response = view.handle_exception(exc)
    return view.finalize_response(drf_request, response, *view.args, **view.kwargs)
