"""The tags page: every tag with its member count, manual tags, rule tags built with the member filter form, and
"refresh now" for the rule tags."""

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView

from shops.dashboard import ServiceActionView, ShopStaffMixin
from shops.roles import Perm
from shops.views import FormServiceMixin

from ..forms import MemberFilterForm, RuleTagForm, TagCreateForm
from ..models import TagKind
from ..tags import tag_create, tag_list
from ..tasks import rule_tags_refresh_shop


class TagListView(ShopStaffMixin, FormServiceMixin, FormView):
    """Reading needs MEMBERS_VIEW; creating a tag (the POST) needs MEMBERS_CHANGE."""

    permission = Perm.MEMBERS_VIEW
    template_name = "members/tags.html"
    form_class = TagCreateForm
    success_message = _("Tag created.")

    def post(self, request, *args, **kwargs):
        if Perm.MEMBERS_CHANGE not in self.perms:
            raise PermissionDenied
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tags = list(tag_list(shop=self.shop))
        for tag in tags:
            tag.members_url = (
                reverse("dashboard:members", args=[self.shop.slug])
                + "?"
                + MemberFilterForm.data_for({"tags_any": [tag.pk]}).urlencode()
            )
        context.update(tags=tags, rule_kind=TagKind.RULE, has_rule_tags=any(t.kind == TagKind.RULE for t in tags))
        return context

    def perform(self, form):
        tag_create(shop=self.shop, actor=self.actor, name=form.cleaned_data["name"])

    def get_success_url(self):
        return reverse("dashboard:member_tags", args=[self.shop.slug])


class RuleTagCreateView(ShopStaffMixin, FormServiceMixin, FormView):
    permission = Perm.MEMBERS_CHANGE
    template_name = "members/rule_tag_form.html"
    form_class = RuleTagForm
    success_message = _("Rule tag created. Its members are being filled in.")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "shop": self.shop}

    def perform(self, form):
        tag_create(shop=self.shop, actor=self.actor, name=form.cleaned_data["name"], rule=form.definition())
        rule_tags_refresh_shop.delay(self.shop.pk)  # fill it now rather than tonight

    def get_success_url(self):
        return reverse("dashboard:member_tags", args=[self.shop.slug])


class TagsRefreshView(ServiceActionView):
    """Refresh every rule tag now, in a background task (the nightly job does the same)."""

    permission = Perm.MEMBERS_CHANGE
    success_message = _("The rule tags are being refreshed; their counts update when it is done.")
    success_url_name = "member_tags"

    def perform(self):
        rule_tags_refresh_shop.delay(self.shop.pk)
