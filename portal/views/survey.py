"""The satisfaction survey (SPEC 13): one question about a completed order, reached by the tracked link of the
survey automation's message. The link's signed token names the message, hence the member and the order: no login
is needed, and nobody else's order can be answered. The first answer stands."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from automations.forms import SurveyForm
from automations.selectors import survey_answer_of, survey_of_message
from automations.services import survey_answer
from campaigns.selectors import message_of_link
from shops.errors import ApplicationError

from .base import in_shop, not_found, page
from .links import nowhere, shop_of_token


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, shop_slug: str, token: str) -> HttpResponse:
    found = shop_of_token(token)
    if found is None or found[0].slug != shop_slug:
        return nowhere(request)
    shop, message_id = found

    def answer() -> HttpResponse:
        message = message_of_link(shop=shop, pk=message_id)
        of = survey_of_message(shop=shop, message=message)
        if of is None:
            return not_found(request)
        automation, order = of
        existing = survey_answer_of(shop=shop, order_id=order.pk)
        form = SurveyForm(request.POST if request.method == "POST" and existing is None else None)
        if existing is None and request.method == "POST" and form.is_valid():
            try:
                existing = survey_answer(
                    shop=shop,
                    automation=automation,
                    member=message.member,
                    order=order,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        return page(request, shop, "portal/survey.html", {"form": form, "order": order, "answer": existing})

    return in_shop(request, shop, answer)
