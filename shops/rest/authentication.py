import hashlib
import time

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from shops.models import ApiKey
from shops.services import apikey_authenticate

from .throttling import bad_key_refusal

# Resolved keys this process remembers, by the SHA-256 of the secret: (monotonic time until which, the ApiKey).
_remembered: dict[str, tuple[float, ApiKey]] = {}
_REMEMBERED_MAX = 10_000


def apikey_authenticate_remembered(*, secret: str) -> ApiKey | None:
    """apikey_authenticate, remembered by this process for API_KEY_CACHE_SECONDS (default 5): for the hot writes
    (shops.rest.hotpath), where the lookup was a sixth of a claim's CPU. The revocation delay: a key revoked, or a
    shop frozen, is refused by them within that many seconds (every other endpoint refuses it at once); so are
    changes of the shop's settings seen within it. Unknown keys are not remembered: a new key works at once."""
    ttl = settings.API_KEY_CACHE_SECONDS
    digest = hashlib.sha256(secret.encode()).hexdigest()
    now = time.monotonic()
    remembered = _remembered.get(digest)
    if remembered is not None and remembered[0] > now:
        return remembered[1]
    api_key = apikey_authenticate(secret=secret)  # records the key's last use, at most once a minute
    if api_key is None or ttl <= 0:
        _remembered.pop(digest, None)
    else:
        if len(_remembered) >= _REMEMBERED_MAX:
            _remembered.clear()
        _remembered[digest] = (now + ttl, api_key)
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <api key>`. Sets request.auth to the ApiKey (its shop is request.auth.shop)."""

    keyword = "Bearer"
    resolve = staticmethod(apikey_authenticate)

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _sep, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not secret.strip():
            raise bad_key_refusal(request) or exceptions.AuthenticationFailed(
                "Use the header `Authorization: Bearer <api key>`."
            )
        api_key = self.resolve(secret=secret.strip())
        if api_key is None:
            raise bad_key_refusal(request) or exceptions.AuthenticationFailed(
                "The API key is not valid or has been revoked."
            )
        return (None, api_key)

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class RememberedApiKeyAuthentication(ApiKeyAuthentication):
    """The same header and answers, with the key resolved through apikey_authenticate_remembered."""

    resolve = staticmethod(apikey_authenticate_remembered)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the key in the OpenAPI schema (drf-spectacular finds extensions by subclassing)."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "The shop's API key: `Authorization: Bearer hy_…`"}
