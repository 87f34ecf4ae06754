"""The base of every dashboard view: resolves the shop from the URL and the signed-in staff member, checks the
role, and runs the whole request (template rendering included) inside the shop's scope."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from .errors import ApplicationError
from .extensions import NAVIGATION, SETTINGS_NAVIGATION, implementations
from .roles import ROLE_PERMISSIONS
from .selectors import membership_for_slug
from .services import Actor
from .tenancy import shop_scope


class ShopStaffMixin(LoginRequiredMixin):
    """`permission`: the Perm the view needs (None: any staff member of the shop)."""

    permission: str | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        try:
            self.membership = membership_for_slug(user=request.user, shop_slug=kwargs["shop_slug"])
        except ObjectDoesNotExist:
            raise Http404 from None  # no such shop and not your shop look the same
        self.shop = self.membership.shop
        self.perms = ROLE_PERMISSIONS[self.membership.role]
        if not self.shop.is_active:
            return render(request, "shops/frozen.html", {"shop": self.shop}, status=403)
        if self.permission and self.permission not in self.perms:
            raise PermissionDenied
        with shop_scope(self.shop):
            try:
                response = super().dispatch(request, *args, **kwargs)
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()  # templates read querysets: render while the scope is active
            except ObjectDoesNotExist:
                raise Http404 from None  # a selector's DoesNotExist: missing or another shop's
        return response

    @property
    def actor(self) -> Actor:
        return Actor.for_user(self.request.user, self.request.META.get("REMOTE_ADDR"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            shop=self.shop,
            membership=self.membership,
            perms=self.perms,
            navigation=[
                item for item in implementations(NAVIGATION) if item.permission is None or item.permission in self.perms
            ],
            settings_navigation=[
                item for item in implementations(SETTINGS_NAVIGATION) if item.permission in self.perms
            ],
        )
        return context


class ServiceActionView(ShopStaffMixin, View):
    """A POST-only action (revoke, remove...): `perform()` calls one service; errors become a message."""

    http_method_names = ["post"]
    success_message = ""
    success_url_name = ""

    def perform(self):
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        try:
            self.perform()
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.success_message)
        return redirect(f"dashboard:{self.success_url_name}", shop_slug=self.shop.slug)
