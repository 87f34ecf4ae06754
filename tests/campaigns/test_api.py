"""The campaigns API (SPEC 10, second table; SPEC 12): drafts with their idempotency key, the checks that refuse a
campaign before anything is written, the lifecycle, the counts and the message rows, and the routes' auth."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus
from members.segments import segment_save
from members.tags import tag_create
from shops.services import SYSTEM
from shops.sms import LocmemBackend
from tests.factories import make_api_key
from tests.routes import tenant_routes

from .helpers import members, no_quiet_hours, outbox_phones, send_all, started

pytestmark = pytest.mark.django_db

URL = "/api/v1/campaigns/"


def body(**fields) -> dict:
    return {"name": "回归礼", "channel": "sms", "audience": {"filter": {}}, "text": "{name}，好久不见", **fields}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    data = response.json()
    assert set(data) == {"code", "message", "details"}
    assert data["code"] == code, data
    return data


# --- Create ------------------------------------------------------------------------------------------------------


def test_create_makes_a_draft(api_client, shop):
    response = api_client.post(URL, body(holdout_percent=20), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    campaign = Campaign.objects.get(shop=shop, pk=data["id"])
    assert (data["status"], data["holdout_percent"], data["audience"]) == ("draft", 20, {"filter": {}})
    assert campaign.status == CampaignStatus.DRAFT


def test_a_retry_with_the_same_key_returns_the_first_campaign(api_client, shop):
    first = api_client.post(URL, body(idempotency_key="c-1"), format="json")
    again = api_client.post(URL, body(idempotency_key="c-1"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Campaign.objects.filter(shop=shop, standing=False).count() == 1


@pytest.mark.parametrize(
    "change",
    [{"text": "另一条短信"}, {"name": "另一个名字"}, {"holdout_percent": 30}, {"channel": "in_app"}],
    ids=["text", "name", "holdout", "channel"],
)
def test_the_same_key_with_other_content_is_a_409(api_client, shop, change):
    first = api_client.post(URL, body(idempotency_key="c-1"), format="json")
    response = api_client.post(URL, body(idempotency_key="c-1", **change), format="json")
    assert_error(response, 409, "idempotency_conflict")
    assert list(Campaign.objects.filter(shop=shop, standing=False).values_list("pk", "text", "holdout_percent")) == [
        (first.json()["id"], "{name}，好久不见", 10)
    ]


def test_keys_are_per_shop(api_client, shop, other_shop):
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(other_shop)[1]}")
    api_client.post(URL, body(idempotency_key="c-1"), format="json")
    other = other_client.post(URL, body(idempotency_key="c-1", text="乙店的"), format="json")
    assert other.status_code == 201
    assert Campaign.objects.filter(shop=other_shop, standing=False).count() == 1


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"text": "{name}，{foo} 等你"}, 400, "unknown_placeholder"),
        ({"text": "{name"}, 400, "unbalanced_braces"),
        ({"title": "{bar}"}, 400, "unknown_placeholder"),
        ({"audience": {"segment_id": 999_999}}, 400, "invalid_audience"),
        ({"audience": {"segment_id": "abc"}}, 400, "invalid_audience"),
        ({"audience": {"segment_id": {"x": 1}}}, 400, "invalid_audience"),
        ({"audience": {"tag": "没有这个标签"}}, 400, "invalid_audience"),
        ({"audience": {"tag": ["x"]}}, 400, "invalid_audience"),
        ({"audience": {"tag": 99_999_999_999_999_999_999}}, 400, "invalid_audience"),
        ({"audience": {"filter": []}}, 400, "invalid_audience"),
        ({"audience": {"filter": {"no_such_field": 1}}}, 400, "invalid_audience"),  # a typo would reach everyone
        ({"audience": {"filter": {"spend_min": "abc"}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"statuses": ["erased"]}}}, 400, "invalid_filter"),
        # shapes JSON allows and the member list's forms never send: a 400, never a 500
        ({"audience": {"filter": {"regions": 5}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"regions": [{"a": 1}]}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"join_channels": 5}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"genders": 5}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"statuses": {"a": 1}}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"consent": [None]}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"last_order_within_days": 10**9}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"last_order_before_days": -(10**15)}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"age_max": 10**15}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"q": "a\x00b"}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"joined_after": "0001-01-01"}}}, 400, "invalid_filter"),
        ({"audience": {"filter": {"joined_before": "99999-12-31"}}}, 400, "invalid_filter"),
        ({"audience": {"segment_id": 1, "tag": "x"}}, 400, "invalid_audience"),
        ({"audience": {}}, 400, "invalid_audience"),
        ({"audience": []}, 400, "invalid_audience"),
        ({"audience": "all"}, 400, "invalid_audience"),
        ({"audience": None}, 400, None),
        ({"audience": {"weird": 1}}, 400, "invalid_audience"),
        ({"text": "点击 {link}"}, 400, "invalid_campaign"),
        ({"text": "点击 {link}", "link_url": "javascript:alert(1)"}, 400, "invalid_link"),
        ({"text": "券码 {coupon}"}, 400, "invalid_campaign"),
        ({"holdout_percent": 60}, 400, "invalid"),
        ({"holdout_percent": -1}, 400, "invalid"),
        ({"channel": "fax"}, 400, "invalid"),
        ({"channel": ""}, 400, "invalid"),
        ({"name": ""}, 400, "invalid"),
        ({"name": "   "}, 400, "invalid"),
        ({"coupon_template_id": 999_999}, 400, "invalid_campaign"),
        ({"quiet_hours": "sometimes"}, 400, "invalid"),
        ({"send_at": "2030-01-01T10:00:00+08:00", "send_at_active_hour": True}, 400, "invalid_campaign"),
        ({"unknown_field": 1}, 400, "invalid"),
    ],
)
def test_a_bad_campaign_is_refused_and_nothing_is_written(api_client, shop, fields, status, code):
    response = api_client.post(URL, body(idempotency_key="bad", **fields), format="json")
    assert response.status_code == status, response.content
    data = response.json()
    assert set(data) == {"code", "message", "details"}
    if code:
        assert data["code"] == code, data
    assert not Campaign.objects.filter(shop=shop, standing=False).exists()


def test_the_unknown_placeholder_is_named(api_client, shop):
    data = assert_error(
        api_client.post(URL, body(text="{name}，{foo} 等你"), format="json"), 400, "unknown_placeholder"
    )
    assert data["details"] == {"placeholders": ["foo"]}
    assert "{foo}" in data["message"]


def test_another_shops_segment_tag_and_template_are_unknown(api_client, shop, other_shop):
    from coupons.services import template_create

    segment = segment_save(shop=other_shop, actor=SYSTEM, name="乙店分群", definition={"spend_min": "100"})
    tag = tag_create(shop=other_shop, actor=SYSTEM, name="乙店标签")
    template = template_create(
        shop=other_shop, actor=SYSTEM, data={"name": "乙店券", "kind": "no_threshold", "value": 5, "valid_days": 7}
    )
    for fields in (
        {"audience": {"segment_id": segment.pk}},
        {"audience": {"tag": tag.pk}},
        {"audience": {"tag": "乙店标签"}},
        {"coupon_template_id": template.pk, "text": "{coupon}"},
    ):
        response = api_client.post(URL, body(**fields), format="json")
        assert response.status_code == 400, (fields, response.content)
    assert not Campaign.objects.filter(shop=shop, standing=False).exists()


def test_audiences_by_segment_tag_name_and_tag_id(api_client, shop):
    segment = segment_save(shop=shop, actor=SYSTEM, name="高消费", definition={"spend_min": "100"})
    tag = tag_create(shop=shop, actor=SYSTEM, name="老客")
    for audience in ({"segment_id": segment.pk}, {"tag": "老客"}, {"tag": tag.pk}, {"tag": str(tag.pk)}):
        response = api_client.post(URL, body(audience=audience), format="json")
        assert response.status_code == 201, (audience, response.content)


def test_link_url_makes_link_valid(api_client, shop):
    response = api_client.post(URL, body(text="点击 {link}", link_url="https://example.com/sale"), format="json")
    assert response.status_code == 201, response.content


# --- Detail, lifecycle ---------------------------------------------------------------------------------------------


def _create(api_client, **fields) -> int:
    response = api_client.post(URL, body(**fields), format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _post(api_client, pk: int, action: str):
    return api_client.post(f"{URL}{pk}/{action}/")


def test_detail_of_a_draft(api_client, shop):
    pk = _create(api_client)
    data = api_client.get(f"{URL}{pk}/").json()
    assert data["status"] == "draft"
    assert data["counts"]["audience"] == 0
    assert data["final"] is False


def test_send_through_the_api_sends_each_member_once_and_counts_show_it(
    api_client, shop, django_capture_on_commit_callbacks
):
    no_quiet_hours(shop)
    audience = members(shop, 30)
    withdrawn = members(shop, 2, consents={"sms": False})
    pk = _create(api_client, holdout_percent=10)
    with django_capture_on_commit_callbacks(execute=True):  # the snapshot and the senders: eager tasks at commit
        response = _post(api_client, pk, "send")
    assert response.status_code == 200, response.content
    campaign = Campaign.objects.get(shop=shop, pk=pk)
    assert campaign.status == CampaignStatus.DONE
    rows = Message.objects.filter(shop=shop, campaign=campaign)
    holdout = rows.filter(reason="holdout").count()
    data = api_client.get(f"{URL}{pk}/").json()
    counts = data["counts"]
    assert counts["audience"] == 32
    assert counts["suppressed"] == {"no_consent": 2, **({"holdout": holdout} if holdout else {})}
    assert counts["holdout"] == holdout
    assert counts["sent"] == 30 - holdout == len(LocmemBackend.outbox)
    assert (counts["queued"], counts["delivered"], counts["failed"], counts["clicked"]) == (0, 0, 0, 0)
    assert set(outbox_phones().values()) == {1}
    assert {m.phone for m in withdrawn}.isdisjoint(outbox_phones())
    assert set(outbox_phones()) <= {m.phone for m in audience}
    # a retried send changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        again = _post(api_client, pk, "send")
    assert (again.status_code, again.json()["status"]) == (200, "done")
    assert len(LocmemBackend.outbox) == counts["sent"]


def test_pause_resume_cancel_and_the_409s(api_client, shop):
    members(shop, 3)
    pk = _create(api_client)
    assert_error(_post(api_client, pk, "pause"), 409, "campaign_state")  # a draft
    assert_error(_post(api_client, pk, "resume"), 409, "campaign_state")
    campaign = Campaign.objects.get(shop=shop, pk=pk)
    # the snapshot runs at commit, which a test transaction never reaches: the send is recorded, nothing sent
    assert _post(api_client, pk, "send").json()["status"] == "sending"
    assert _post(api_client, pk, "pause").json()["status"] == "paused"
    assert _post(api_client, pk, "pause").json()["status"] == "paused"  # idempotent
    assert _post(api_client, pk, "resume").json()["status"] == "sending"
    assert _post(api_client, pk, "cancel").json()["status"] == "cancelled"
    assert _post(api_client, pk, "cancel").json()["status"] == "cancelled"  # idempotent
    assert_error(_post(api_client, pk, "send"), 409, "campaign_state")
    assert_error(_post(api_client, pk, "resume"), 409, "campaign_state")
    assert_error(_post(api_client, pk, "pause"), 409, "campaign_state")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert LocmemBackend.outbox == []


def test_cancelling_a_done_campaign_is_a_409_and_changes_nothing(api_client, shop):
    members(shop, 2)
    campaign = started(shop, holdout_percent=0)
    send_all(shop, campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    before = list(Campaign.objects.filter(pk=campaign.pk).values())
    assert_error(_post(api_client, campaign.pk, "cancel"), 409, "campaign_state")
    assert_error(_post(api_client, campaign.pk, "pause"), 409, "campaign_state")
    assert_error(_post(api_client, campaign.pk, "resume"), 409, "campaign_state")
    assert list(Campaign.objects.filter(pk=campaign.pk).values()) == before


def test_a_scheduled_send(api_client, shop):
    members(shop, 2)
    pk = _create(api_client, send_at="2099-01-01T10:00:00+08:00")
    assert _post(api_client, pk, "send").json()["status"] == "scheduled"
    assert _post(api_client, pk, "pause").json()["status"] == "paused"
    assert _post(api_client, pk, "resume").json()["status"] == "scheduled"
    assert not Message.objects.filter(shop=shop).exists()


def test_missing_campaign_is_404_on_every_route(api_client, shop):
    for action in ("", "send/", "pause/", "resume/", "cancel/", "messages/"):
        method = api_client.get if action in ("", "messages/") else api_client.post
        assert_error(method(f"{URL}424242/{action}"), 404, "not_found")


# --- Messages ------------------------------------------------------------------------------------------------------


def test_messages_filter_by_status_and_member_and_paginate_by_cursor(api_client, shop):
    audience = members(shop, 5)
    (refuser,) = members(shop, 1, consents={"sms": False})
    campaign = started(shop, holdout_percent=0)
    send_all(shop, campaign)
    url = f"{URL}{campaign.pk}/messages/"
    everything = api_client.get(url).json()
    assert len(everything["results"]) == 6
    sent = api_client.get(url, {"status": "sent"}).json()["results"]
    assert sorted(r["member_id"] for r in sent) == sorted(m.pk for m in audience)
    [suppressed] = api_client.get(url, {"status": "suppressed"}).json()["results"]
    assert (suppressed["member_id"], suppressed["reason"]) == (refuser.pk, "no_consent")
    [mine] = api_client.get(url, {"member_id": audience[2].pk}).json()["results"]
    assert (mine["member_id"], mine["status"]) == (audience[2].pk, "sent")
    assert api_client.get(url, {"member_id": audience[2].pk, "status": "failed"}).json()["results"] == []
    # cursor pagination: two at a time, nobody twice, nobody lost
    seen, page = [], api_client.get(url, {"limit": 2}).json()
    while True:
        assert len(page["results"]) <= 2
        seen += [r["id"] for r in page["results"]]
        if not page["next"]:
            break
        page = api_client.get(page["next"]).json()
    assert sorted(seen) == sorted(r["id"] for r in everything["results"])


@pytest.mark.parametrize(
    "params",
    [{"status": "bogus"}, {"member_id": "abc"}, {"member_id": "¹"}, {"member_id": "99999999999999999999"},
     {"member_id": "-1"}, {"member_id": ""}, {"limit": "0"}],
)  # fmt: skip
def test_a_bad_messages_filter_is_a_400(api_client, shop, params):
    campaign = started(shop, holdout_percent=0)
    assert_error(api_client.get(f"{URL}{campaign.pk}/messages/", params), 400, "invalid")


def test_another_shops_member_id_finds_nothing(api_client, shop, other_shop):
    members(shop, 1)
    (stranger,) = members(other_shop, 1)
    campaign = started(shop, holdout_percent=0)
    response = api_client.get(f"{URL}{campaign.pk}/messages/", {"member_id": stranger.pk})
    assert response.json()["results"] == []


def test_the_list_shows_only_the_shops_campaigns(api_client, shop, other_shop):
    mine = _create(api_client)
    started(other_shop)
    assert [c["id"] for c in api_client.get(URL).json()["results"]] == [mine]


# --- Auth ----------------------------------------------------------------------------------------------------------

CAMPAIGN_ROUTES = [r for r in tenant_routes() if r.name.startswith("api:campaign")]


def test_the_campaign_routes_are_found():
    assert {r.name for r in CAMPAIGN_ROUTES} == {
        "api:campaigns", "api:campaign", "api:campaign_send", "api:campaign_pause", "api:campaign_resume",
        "api:campaign_cancel", "api:campaign_messages",
    }  # fmt: skip


@pytest.mark.parametrize("route", CAMPAIGN_ROUTES, ids=lambda r: r.name)
def test_campaign_routes_need_a_key(client, shop, route):
    members(shop, 1)
    campaign = started(shop)
    before = list(Campaign.objects.filter(pk=campaign.pk).values())
    url = reverse(route.name, kwargs={"pk": campaign.pk} if "pk" in route.params else {})
    for method in route.methods:
        response = getattr(client, method)(url, content_type="application/json")
        assert response.status_code == 401, f"{method} {url}: {response.status_code}"
    assert list(Campaign.objects.filter(pk=campaign.pk).values()) == before


def test_the_receipts_route_takes_no_key_but_a_signature(api_client, shop):
    """A valid API key does not open the provider's callback: without the signature it is 401."""
    members(shop, 1)
    campaign = started(shop, holdout_percent=0)
    send_all(shop, campaign)
    row = Message.objects.get(shop=shop, campaign=campaign)
    response = api_client.post(
        "/api/v1/messaging/receipts/http/",
        {"type": "receipt", "message_id": row.provider_id, "status": "delivered"},
        format="json",
    )
    assert_error(response, 401, "bad_signature")
    row.refresh_from_db()
    assert row.status == MessageStatus.SENT


# --- The tick starts what is due (campaigns.tasks, through campaign_start_if_due) ---------------------------------


def test_the_tick_starts_a_scheduled_campaign_once_it_is_due(api_client, shop, other_shop):
    import datetime

    from django.utils import timezone

    from campaigns.tasks import campaigns_tick

    members(shop, 2)
    due = _create(api_client, send_at="2099-01-01T10:00:00+08:00")
    later = _create(api_client, send_at="2099-01-01T10:00:00+08:00")
    for pk in (due, later):
        assert _post(api_client, pk, "send").json()["status"] == "scheduled"
    Campaign.objects.filter(pk=due).update(send_at=timezone.now() - datetime.timedelta(minutes=1))

    assert campaigns_tick() == {"started": 1, "sending": 0}  # eager: the due start runs in the tick

    assert Campaign.objects.get(pk=due).status == CampaignStatus.SENDING
    assert Campaign.objects.get(pk=later).status == CampaignStatus.SCHEDULED
    assert campaigns_tick()["started"] == 0  # started once
