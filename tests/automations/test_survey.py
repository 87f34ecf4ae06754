"""The satisfaction survey (SPEC 13): after completion a message with a tracked link to one question; a score of 1
gives one compensation coupon however often (or however concurrently) it is submitted, and alerts staff."""

import datetime
import zoneinfo

import pytest
import time_machine

from automations.models import SurveyAnswer
from automations.services import survey_answer
from coupons.models import Coupon, Source
from orders.services import order_change_status
from tests.concurrency import in_scope, race
from tests.coupons.helpers import make_template
from tests.factories import MemberFactory, OrderFactory

from .helpers import advance, deliver, messages, send_all, switch_on

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def surveyed(shop):
    """A completed order whose survey went out the next afternoon: (member, order, the link's path)."""
    automation = switch_on(shop, "survey", compensation_template=make_template(shop, name="补偿券"))
    member = MemberFactory(shop=shop)
    with time_machine.travel(local(2027, 5, 1, 10), tick=False):
        order = OrderFactory(member=member, external_id="S-1")
        order_change_status(shop=shop, order=order, status="completed")
        deliver(shop)
        advance(shop)
    assert not messages(shop, automation).exists()  # the survey waits for the next afternoon
    with time_machine.travel(local(2027, 5, 2, 15, 0, 30), tick=False):
        advance(shop)
        send_all(shop)
    [inbox] = messages(shop, automation).filter(status="delivered")  # in the member centre's inbox
    assert "S-1" in inbox.text
    link = inbox.text.split("http://127.0.0.1:8000", 1)[1].strip()
    return automation, member, order, link


def test_a_score_of_1_gives_one_compensation_coupon_however_often_submitted(shop, client, owner_client):
    _automation, member, order, link = surveyed(shop)
    page = client.get(link)
    assert page.status_code == 302
    survey_url = page["Location"].removeprefix("http://127.0.0.1:8000")
    assert client.get(survey_url).status_code == 200

    for _ in range(3):
        response = client.post(survey_url, {"score": "1", "comment": "咖啡凉了"})
        assert response.status_code == 200

    answer = SurveyAnswer.objects.get(shop=shop)
    assert (answer.order_id, answer.score, answer.comment) == (order.pk, 1, "咖啡凉了")
    assert list(Coupon.objects.filter(shop=shop).values_list("member_id", "source", "idempotency_key")) == [
        (member.pk, Source.COMPENSATION, f"survey#{order.pk}")
    ]
    listing = owner_client.get(f"/dashboard/{shop.slug}/automations/")
    assert "1 条低满意度评分待处理" in listing.content.decode()
    answers = owner_client.get(f"/dashboard/{shop.slug}/automations/survey/")
    assert "咖啡凉了" in answers.content.decode()
    owner_client.post(f"/dashboard/{shop.slug}/automations/survey/{answer.pk}/review/")
    assert "待处理" not in owner_client.get(f"/dashboard/{shop.slug}/automations/").content.decode()


def test_a_good_score_gives_nothing_and_a_bad_token_is_a_404(shop, client):
    automation, member, order, link = surveyed(shop)
    survey_url = client.get(link)["Location"].removeprefix("http://127.0.0.1:8000")
    assert client.post(survey_url, {"score": "9"}).status_code == 200  # refused on the form: nothing stored
    assert not SurveyAnswer.objects.exists()
    client.post(survey_url, {"score": "5"})
    assert not Coupon.objects.filter(shop=shop).exists()
    assert client.get(survey_url[:-3] + "xx/").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_low_scores_give_one_coupon(shop):
    automation, member, order, _link = surveyed(shop)

    def submit():
        return survey_answer(shop=shop, automation=automation, member=member, order=order, score=1).pk

    results = race([in_scope(shop, submit) for _ in range(4)])
    assert len(set(results)) == 1, results
    assert SurveyAnswer.objects.filter(shop=shop).count() == 1
    assert Coupon.objects.filter(shop=shop, source=Source.COMPENSATION).count() == 1
