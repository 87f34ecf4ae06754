from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, ListView, TemplateView

from . import logins, selectors, services
from .dashboard import ServiceActionView, ShopStaffMixin
from .errors import ApplicationError
from .extensions import HOME_SECTION, implementations
from .forms import (
    AcceptInvitationForm,
    ApiKeyForm,
    InviteForm,
    RoleForm,
    ShopCreateForm,
    ShopSettingsForm,
    SignUpForm,
)
from .roles import Perm, Role
from .tenancy import shop_scope


class FormServiceMixin:
    """form_valid calls `perform(form)` (one service call); an ApplicationError is shown on the form."""

    success_message = ""

    def perform(self, form):
        raise NotImplementedError

    def error_field(self, form, exc: ApplicationError) -> str | None:
        """The field an error is shown at (None: the whole form)."""
        return None

    def form_valid(self, form):
        try:
            response = self.perform(form)
        except ApplicationError as exc:
            form.add_error(self.error_field(form, exc), exc.message)
            return self.form_invalid(form)
        if self.success_message:
            messages.success(self.request, self.success_message)
        return response or redirect(self.get_success_url())


class FieldErrorMixin(FormServiceMixin):
    """As FormServiceMixin, but an ApplicationError that names a field of the form in its `details` is shown at
    that field."""

    def error_field(self, form, exc: ApplicationError) -> str | None:
        return next((name for name in exc.details if name in form.fields), None)


# --- Accounts ---------------------------------------------------------------------------------------------------


class SignUpView(FormServiceMixin, FormView):
    """A new shop and its owner. A new address and one that already has an account get the same answer (the done
    page, telling them to check their email: the service writes to the address either way), and nobody is logged
    in here, since a new session would tell the two apart."""

    template_name = "shops/signup.html"
    form_class = SignUpForm

    def perform(self, form):
        services.user_sign_up(**form.cleaned_data)
        return redirect("signup_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's page, and the new password also lifts a log-in pause on the account (shops.logins): whoever set it
    controls the address. The pause on the network address stays."""

    def form_valid(self, form):
        response = super().form_valid(form)
        logins.account_unlock(email=form.user.email)
        return response


class InvitationAcceptView(FormServiceMixin, FormView):
    """An emailed invitation link. Signed in as the invited address: accept. No account yet: create one here.
    Otherwise: sign in first. The token tells the shop; the request runs in that shop's scope from there on."""

    template_name = "shops/invitation_accept.html"
    form_class = AcceptInvitationForm

    def dispatch(self, request, *args, **kwargs):
        try:
            self.invitation = services.invitation_by_token(token=kwargs["token"])
        except ObjectDoesNotExist:
            raise Http404 from None
        self.has_account = selectors.user_exists(email=self.invitation.email)
        with shop_scope(self.invitation.shop):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            invitation=self.invitation,
            has_account=self.has_account,
            signed_in_as_invitee=user.is_authenticated and user.email.lower() == self.invitation.email,
            login_url=reverse("login") + "?next=" + self.request.path,
        )
        return context

    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            try:
                services.invitation_accept(invitation=self.invitation, user=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect(request.path)
            return self._joined()
        if self.has_account:
            return redirect(reverse("login") + "?next=" + request.path)
        return super().post(request, *args, **kwargs)

    def perform(self, form):
        membership = services.invitation_accept_as_new_user(invitation=self.invitation, **form.cleaned_data)
        login(self.request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return self._joined()

    def _joined(self):
        messages.success(self.request, _("Welcome to %(shop)s.") % {"shop": self.invitation.shop.name})
        return redirect("dashboard:home", shop_slug=self.invitation.shop.slug)


# --- Dashboard entry: which shop? ------------------------------------------------------------------------------


class DashboardEntryView(LoginRequiredMixin, FormServiceMixin, FormView):
    """One shop: go straight in. Several: pick one. None: create one."""

    template_name = "shops/shop_picker.html"
    form_class = ShopCreateForm

    def get(self, request, *args, **kwargs):
        memberships = selectors.memberships_of_user(user=request.user)
        if len(memberships) == 1:
            return redirect("dashboard:home", shop_slug=memberships[0].shop.slug)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(memberships=selectors.memberships_of_user(user=self.request.user), **kwargs)

    def perform(self, form):
        shop = services.shop_create(
            name=form.cleaned_data["shop_name"],
            slug=form.cleaned_data["shop_slug"],
            owner=self.request.user,
            actor=services.Actor.for_user(self.request.user),
        )
        return redirect("dashboard:home", shop_slug=shop.slug)


# --- Shop pages -------------------------------------------------------------------------------------------------


class HomeView(ShopStaffMixin, TemplateView):
    """The overview (概况): the sections apps above add (extension point HOME_SECTION: analytics' figures for those
    who may read them), and links to the areas the viewer's role opens."""

    template_name = "shops/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        sections = (section(shop=self.shop, perms=self.perms) for section in implementations(HOME_SECTION))
        context["sections"] = [section for section in sections if section]
        context["areas"] = [item for item in context["navigation"] if item.url_name and item.url_name != "home"]
        return context


class ShopSettingsView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.SETTINGS_CHANGE
    template_name = "shops/settings.html"
    form_class = ShopSettingsForm
    success_message = _("Settings saved.")

    def get_initial(self):
        return {f: getattr(self.shop, f) for f in ("name", "currency", "time_zone", "locale", "colour")}

    def perform(self, form):
        services.shop_update(shop=self.shop, actor=self.actor, **form.changed_settings())

    def get_success_url(self):
        return reverse("dashboard:settings", args=[self.shop.slug])


class StaffView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.STAFF_MANAGE
    template_name = "shops/staff.html"
    form_class = InviteForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            staff=selectors.staff_list(shop=self.shop),
            invitations=selectors.invitation_open_list(shop=self.shop),
            roles=Role.choices,
        )
        return context

    def perform(self, form):
        invitation = services.staff_invite(shop=self.shop, actor=self.actor, **form.cleaned_data)
        messages.success(self.request, _("Invitation sent to %(email)s.") % {"email": invitation.email})

    def get_success_url(self):
        return reverse("dashboard:staff", args=[self.shop.slug])


class StaffRoleChangeView(ServiceActionView):
    permission = Perm.STAFF_MANAGE
    success_message = _("Role changed.")
    success_url_name = "staff"

    def perform(self):
        membership = selectors.staff_get(shop=self.shop, pk=self.kwargs["pk"])
        form = RoleForm(self.request.POST)
        if not form.is_valid():
            raise ApplicationError(_("Choose a role from the list."))
        services.staff_change_role(shop=self.shop, actor=self.actor, membership=membership, **form.cleaned_data)


class StaffRemoveView(ServiceActionView):
    permission = Perm.STAFF_MANAGE
    success_url_name = "staff"

    def perform(self):
        membership = selectors.staff_get(shop=self.shop, pk=self.kwargs["pk"])
        services.staff_remove(shop=self.shop, actor=self.actor, membership=membership)
        self.success_message = _("%(email)s was removed from your staff.") % {"email": membership.user.email}


class InvitationCancelView(ServiceActionView):
    permission = Perm.STAFF_MANAGE
    success_message = _("Invitation cancelled.")
    success_url_name = "staff"

    def perform(self):
        invitation = selectors.invitation_get(shop=self.shop, pk=self.kwargs["pk"])
        services.invitation_cancel(shop=self.shop, actor=self.actor, invitation=invitation)


class ApiKeysView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.APIKEYS_MANAGE
    template_name = "shops/api_keys.html"
    form_class = ApiKeyForm
    # The new secret travels to the next page in the session and is removed as it is shown: shown once.
    session_key = "new_api_key"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            api_keys=selectors.apikey_list(shop=self.shop),
            new_key=self.request.session.pop(self.session_key, None),
        )
        return context

    def perform(self, form):
        api_key, secret = services.apikey_create(shop=self.shop, actor=self.actor, name=form.cleaned_data["name"])
        self.request.session[self.session_key] = {"name": api_key.name, "secret": secret}

    def get_success_url(self):
        return reverse("dashboard:api_keys", args=[self.shop.slug])


class ApiKeyRevokeView(ServiceActionView):
    permission = Perm.APIKEYS_MANAGE
    success_message = _("API key revoked.")
    success_url_name = "api_keys"

    def perform(self):
        api_key = selectors.apikey_get(shop=self.shop, pk=self.kwargs["pk"])
        services.apikey_revoke(shop=self.shop, actor=self.actor, api_key=api_key)


class AuditLogView(ShopStaffMixin, ListView):
    permission = Perm.AUDIT_VIEW
    template_name = "shops/audit.html"
    paginate_by = 50
    context_object_name = "entries"

    def get_queryset(self):
        return selectors.audit_list(shop=self.shop, action=self.request.GET.get("action", ""))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(actions=selectors.audit_actions(shop=self.shop), action=self.request.GET.get("action", ""))
        return context
