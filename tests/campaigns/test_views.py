"""The campaigns dashboard: the list, the editor, the live count, a campaign's page with its lifecycle buttons and test
send, and the messaging settings; who may read and who may write; another shop's campaign stays out of reach."""

import datetime

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignStatus, Message, MessagingSettings
from campaigns.services import messaging_settings_update
from members.segments import segment_save
from members.tags import member_tag_change, tag_create, tag_find
from shops.errors import ApplicationError
from shops.models import AuditLogEntry
from shops.roles import Role
from shops.services import SYSTEM
from shops.sms import LocmemBackend
from tests.factories import add_staff

from .helpers import draft, members, no_quiet_hours, send_all

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests assert on English messages; the zh-Hans pages are covered by tests/browser/test_campaigns.py."""
    settings.LANGUAGE_CODE = "en"


def url(shop, name, *args):
    return reverse(f"dashboard:{name}", args=[shop.slug, *args])


@pytest.fixture
def vip(shop):
    tag_create(shop=shop, actor=SYSTEM, name="VIP")
    return tag_find(shop=shop, name_or_id="VIP")


def client_for(client, shop, role):
    client.force_login(add_staff(shop, role))
    return client


# --- Pages and roles --------------------------------------------------------------------------------------------


def test_each_page_renders_for_the_owner(shop, owner_client, vip):
    campaign = draft(shop)
    for name, args in (
        ("campaigns", []),
        ("campaign_create", []),
        ("campaign", [campaign.pk]),
        ("campaign_edit", [campaign.pk]),
        ("messaging_settings", []),
    ):
        response = owner_client.get(url(shop, name, *args))
        assert response.status_code == 200, name
    listing = owner_client.get(url(shop, "campaigns")).content.decode()
    assert "回归礼" in listing and 'data-testid="new-campaign"' in listing
    assert url(shop, "campaigns") in owner_client.get(url(shop, "home")).content.decode()  # in the navigation


def test_an_analyst_reads_the_list_and_the_report_but_cannot_write_or_send(shop, client, vip):
    campaign = draft(shop)
    client = client_for(client, shop, Role.ANALYST)
    assert client.get(url(shop, "campaigns")).status_code == 200
    assert 'data-testid="new-campaign"' not in client.get(url(shop, "campaigns")).content.decode()
    page = client.get(url(shop, "campaign", campaign.pk))
    assert page.status_code == 200 and 'data-testid="action-send"' not in page.content.decode()
    assert client.get(url(shop, "campaign_create")).status_code == 403
    assert client.post(url(shop, "campaign_create"), _base(audience_kind="tag", tag=vip.pk)).status_code == 403
    assert client.get(url(shop, "campaign_edit", campaign.pk)).status_code == 403
    assert client.post(url(shop, "campaign_action", campaign.pk), {"action": "send"}).status_code == 403
    assert client.post(url(shop, "campaign_test_send", campaign.pk), {"phone": "13800138000"}).status_code == 403
    assert client.get(url(shop, "campaign_preview"), {"audience_kind": "tag", "tag": vip.pk}).status_code == 403
    assert client.get(url(shop, "messaging_settings")).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert Campaign.objects.filter(shop=shop, standing=False).count() == 1


def test_a_clerk_gets_403_everywhere(shop, client):
    campaign = draft(shop)
    client = client_for(client, shop, Role.CLERK)
    for name, args in (("campaigns", []), ("campaign", [campaign.pk]), ("messaging_settings", [])):
        assert client.get(url(shop, name, *args)).status_code == 403, name
    assert client.post(url(shop, "campaign_action", campaign.pk), {"action": "cancel"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_another_shops_campaign_is_404_and_unchanged(shop, other_shop, owner_client):
    foreign = draft(other_shop)
    assert owner_client.get(url(shop, "campaign", foreign.pk)).status_code == 404
    assert owner_client.post(url(shop, "campaign_action", foreign.pk), {"action": "cancel"}).status_code == 404
    assert owner_client.get(url(shop, "campaign_preview"), {"campaign": foreign.pk}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == CampaignStatus.DRAFT


# --- The editor -------------------------------------------------------------------------------------------------


def test_the_editor_saves_a_draft_with_a_tier_audience(shop, owner_client):
    from tiers.selectors import tiers_of_shop

    tier = tiers_of_shop(shop=shop).first()
    response = owner_client.post(
        url(shop, "campaign_create"),
        _base(audience_kind="tier", tier=tier.pk, holdout_percent="0"),
    )
    campaign = Campaign.objects.get(shop=shop, standing=False)
    assert response.status_code == 302 and response.url == url(shop, "campaign", campaign.pk)
    assert (campaign.status, campaign.audience, campaign.holdout_percent) == (
        "draft",
        {"filter": {"tiers": [tier.pk]}},
        0,
    )
    assert AuditLogEntry.objects.filter(shop=shop, action="campaign.create").count() == 1


def _base(**fields) -> dict:
    return {
        "name": "回归礼", "channel": "sms", "text": "{name}，好久不见", "schedule": "now", "quiet_hours": "defer",
        "holdout_percent": "10", "attribution_days": "7", "coupon_template": "", **fields,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"text": "您好 {nmae}"}, "text", "{nmae}"),
        ({"text": "点击 {link}", "link_url": ""}, "link_url", "{link}"),
        ({"text": "点击 {link}", "link_url": "javascript:alert(1)"}, "link_url", "http"),
        ({"text": "领券 {coupon}"}, "coupon_template", "coupon"),
        ({"audience_kind": "segment", "segment": ""}, "segment", ""),
        ({"schedule": "at", "send_at": ""}, "send_at", ""),
        ({"holdout_percent": "60"}, "holdout_percent", ""),
        ({"name": ""}, "name", ""),
    ],
)
def test_bad_input_shows_the_error_at_its_field_and_creates_nothing(shop, owner_client, vip, fields, field, message):
    with_tag = {"audience_kind": "tag", "tag": vip.pk}
    response = owner_client.post(url(shop, "campaign_create"), _base(**{**with_tag, **fields}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not Campaign.objects.filter(shop=shop, standing=False).exists()


def test_the_editor_edits_a_draft_and_refuses_a_finished_one(shop, owner_client, vip):
    campaign = draft(shop)
    response = owner_client.post(
        url(shop, "campaign_edit", campaign.pk), _base(name="新名字", audience_kind="tag", tag=vip.pk)
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.audience) == ("新名字", {"tag": vip.pk})
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED)
    assert owner_client.get(url(shop, "campaign_edit", campaign.pk)).status_code == 302
    response = owner_client.post(
        url(shop, "campaign_edit", campaign.pk), _base(name="再改", audience_kind="tag", tag=vip.pk)
    )
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    campaign.refresh_from_db()
    assert campaign.name == "新名字"


def test_the_editor_shows_the_sms_counter_with_the_signature_and_opt_out_line(shop, owner_client):
    messaging_settings_update(shop=shop, actor=SYSTEM, signature="小店")
    campaign = draft(shop, text="您好")
    page = owner_client.get(url(shop, "campaign_edit", campaign.pk)).content.decode()
    # 【小店】您好回T退订: 2 + 2 + 2 + 4 = 10 characters, Chinese, one part.
    assert "【小店】您好回T退订" in page
    assert "10 characters · 1 billed part(s) · UCS-2" in page


# --- The live count ---------------------------------------------------------------------------------------------


def test_the_preview_counts_who_would_get_it_and_who_not_and_why(shop, owner_client, vip):
    no_quiet_hours(shop)
    consenting = members(shop, 3)
    refusing = members(shop, 2, consents={"push": True})  # never gave SMS consent
    others = members(shop, 4)  # not tagged
    for member in consenting + refusing:
        member_tag_change(shop=shop, tag=vip, member=member, actor=SYSTEM)
    response = owner_client.get(
        url(shop, "campaign_preview"),
        {"audience_kind": "tag", "tag": vip.pk, "channel": "sms", "holdout_percent": "0", "schedule": "now",
         "quiet_hours": "defer"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["audience"], body["queued"]) == (5, 3)
    assert [(row["reason"], row["n"]) for row in body["suppressed"]] == [("no_consent", 2)]
    assert len(others) == 4 and not Message.objects.filter(shop=shop).exists()


def test_the_preview_without_an_audience_counts_nobody(shop, owner_client):
    response = owner_client.get(url(shop, "campaign_preview"))
    assert response.status_code == 200
    assert (response.json()["audience"], response.json()["suppressed"]) == (None, [])


def test_the_preview_answers_400_on_bad_input(shop, owner_client):
    response = owner_client.get(url(shop, "campaign_preview"), {"audience_kind": "segment", "segment": "99999"})
    assert response.status_code == 400
    assert "error" in response.json()


# --- A campaign's page and its lifecycle ------------------------------------------------------------------------


def test_send_pause_resume_and_cancel_through_the_page(shop, owner_client, django_capture_on_commit_callbacks):
    members(shop, 3)
    campaign = draft(shop, holdout_percent=0)
    action = url(shop, "campaign_action", campaign.pk)
    # Tasks are eager in tests: at the commit the snapshot runs, then the senders send.
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(action, {"action": "send"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status in (CampaignStatus.SENDING, CampaignStatus.DONE)
    send_all(shop, campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    page = owner_client.get(url(shop, "campaign", campaign.pk)).content.decode()
    assert 'data-testid="funnel-sent"' in page and 'data-testid="window-running"' in page

    second = draft(shop, name="第二")
    second.status = CampaignStatus.SCHEDULED
    second.save(update_fields=["status"])
    action = url(shop, "campaign_action", second.pk)
    owner_client.post(action, {"action": "pause"})
    second.refresh_from_db()
    assert second.status == CampaignStatus.PAUSED
    owner_client.post(action, {"action": "resume"})
    second.refresh_from_db()
    assert second.status == CampaignStatus.SCHEDULED
    owner_client.post(action, {"action": "cancel"})
    second.refresh_from_db()
    assert second.status == CampaignStatus.CANCELLED
    response = owner_client.post(action, {"action": "send"}, follow=True)
    second.refresh_from_db()
    assert second.status == CampaignStatus.CANCELLED
    assert [str(m) for m in response.context["messages"]][-1] == "A cancelled campaign cannot be sent."


def test_an_unknown_action_changes_nothing(shop, owner_client):
    campaign = draft(shop)
    response = owner_client.post(url(shop, "campaign_action", campaign.pk), {"action": "explode"}, follow=True)
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_the_test_send_reaches_the_staff_phone(shop, owner_client, django_capture_on_commit_callbacks):
    campaign = draft(shop)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            url(shop, "campaign_test_send", campaign.pk), {"phone": "13800138000"}, follow=True
        )
    assert response.status_code == 200
    assert [m.phone for m in LocmemBackend.outbox] == ["+8613800138000"]
    assert "好久不见" in LocmemBackend.outbox[0].text
    assert [str(m) for m in response.context["messages"]] == ["Test message sent to 13800138000."]
    bad = owner_client.post(url(shop, "campaign_test_send", campaign.pk), {"phone": "12"})
    assert bad.status_code == 200 and bad.context["test_form"].errors["phone"]
    assert len(LocmemBackend.outbox) == 1


# --- Messaging settings -----------------------------------------------------------------------------------------


def _settings(**fields) -> dict:
    return {
        "signature": "小店", "quiet_start": "22:00", "quiet_end": "08:30", "daily_cap": "1", "weekly_cap": "3",
        "fallback_hour": "11", **fields,
    }  # fmt: skip


def test_messaging_settings_save_through_the_service(shop, owner_client):
    response = owner_client.post(url(shop, "messaging_settings"), _settings())
    assert response.status_code == 302
    saved = MessagingSettings.objects.get(shop=shop)
    assert (saved.signature, saved.quiet_start, saved.quiet_end, saved.daily_cap, saved.weekly_cap) == (
        "小店", datetime.time(22), datetime.time(8, 30), 1, 3,
    )  # fmt: skip
    assert saved.fallback_hour == 11
    assert AuditLogEntry.objects.filter(shop=shop, action="messaging_settings.update").count() == 1
    page = owner_client.get(url(shop, "messaging_settings")).content.decode()
    assert "locmem" in page


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"daily_cap": "5", "weekly_cap": "2"}, "daily_cap"), ({"signature": "【小店】"}, "signature")],
)
def test_bad_messaging_settings_are_refused_and_nothing_changes(shop, owner_client, fields, field):
    response = owner_client.post(url(shop, "messaging_settings"), _settings(**fields))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not MessagingSettings.objects.filter(shop=shop).exists()


def test_the_settings_service_checks_hours(shop):
    with pytest.raises(ApplicationError):
        messaging_settings_update(shop=shop, actor=SYSTEM, fallback_hour=24)
    assert not MessagingSettings.objects.filter(shop=shop).exists()


# --- The member's timeline --------------------------------------------------------------------------------------


def test_a_members_messages_appear_in_the_timeline_and_the_export(
    shop, owner_client, django_capture_on_commit_callbacks
):
    from members.timeline import member_data_export, member_timeline

    (member,) = members(shop, 1)
    campaign = draft(shop, holdout_percent=0)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url(shop, "campaign_action", campaign.pk), {"action": "send"})
    send_all(shop, campaign)
    events = [e for e in member_timeline(shop=shop, member=member) if e.kind == "message"]
    assert [e.title for e in events] == ["Campaign: 回归礼"]
    assert events[0].detail == "SMS · Sent"
    profile = owner_client.get(reverse("dashboard:member", args=[shop.slug, member.pk])).content.decode()
    assert "Campaign: 回归礼" in profile
    export = member_data_export(shop=shop, member=member)
    assert [m["campaign"] for m in export["campaign_messages"]] == ["回归礼"]


def test_a_segment_audience_round_trips_through_the_editor(shop, owner_client):
    segment = segment_save(shop=shop, actor=SYSTEM, name="老客", definition={"orders_min": 1})
    response = owner_client.post(url(shop, "campaign_create"), _base(audience_kind="segment", segment=segment.pk))
    campaign = Campaign.objects.get(shop=shop, standing=False)
    assert response.status_code == 302 and campaign.audience == {"segment_id": segment.pk}
    form = owner_client.get(url(shop, "campaign_edit", campaign.pk)).context["form"]
    assert (form.initial["audience_kind"], form.initial["segment"]) == ("segment", segment.pk)
