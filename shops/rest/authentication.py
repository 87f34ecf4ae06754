from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from shops.services import apikey_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <api key>`. Sets request.auth to the ApiKey (its shop is request.auth.shop)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _sep, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not secret.strip():
            raise exceptions.AuthenticationFailed("Use the header `Authorization: Bearer <api key>`.")
        api_key = apikey_authenticate(secret=secret.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or has been revoked.")
        return (None, api_key)

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the key in the OpenAPI schema (drf-spectacular finds extensions by subclassing)."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "The shop's API key: `Authorization: Bearer hy_…`"}
