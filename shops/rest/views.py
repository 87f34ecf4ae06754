from contextlib import ExitStack

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.views import APIView

from shops.services import Actor
from shops.tenancy import shop_scope

# Defined with the throttles: the authentication classes, which DRF's settings import, need it too.
from .throttling import client_ip


class ShopAPIView(APIView):
    """Base of every integration API view.

    After authentication it sets `self.shop` (the key's shop) and `self.actor`, and runs the handler inside that
    shop's scope, so every query on a shop-owned model is confined to it. The scope is entered in `initial()` (the
    key is known only then) onto an ExitStack that `dispatch` holds in a `with`: it is left however the request
    ends, an unhandled exception included.
    """

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as self._shop_scope:
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        # A NUL byte can be stored in no text column (PostgreSQL refuses it with an error): no such object can
        # exist, and no such search can match. Bodies are covered by DRF's CharField validator.
        if "\x00" in request.path:
            raise NotFound()
        for name, value in request.query_params.items():
            if "\x00" in value:
                raise ValidationError({name: ["Null characters are not allowed."]})
        super().initial(request, *args, **kwargs)
        self.shop = request.auth.shop
        self.actor = Actor.for_api_key(request.auth, client_ip(request))
        self._shop_scope.enter_context(shop_scope(self.shop))
