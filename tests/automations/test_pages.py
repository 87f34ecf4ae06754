"""The automation pages and API (SPEC 13): the list with on/off, the editor (settings, steps, texts with
placeholders checked, preview), the results page, GET /api/v1/automations/; bad input changes nothing."""

import pytest

from automations.models import Automation, Reentry, Step, StepKind
from campaigns.models import Campaign
from shops.roles import Role
from tests.factories import MemberFactory, add_staff

from .helpers import run, switch_on

pytestmark = pytest.mark.django_db


def test_every_shop_has_the_usual_automations_switched_off(shop):
    keys = set(Automation.objects.filter(shop=shop).values_list("key", flat=True))
    assert {"welcome", "birthday", "points_expiring", "coupons_expiring", "win_back", "replenishment", "tier_up",
            "order_shipped", "order_delivered", "survey"} <= keys  # fmt: skip
    assert not Automation.objects.filter(shop=shop, enabled=True).exists()
    assert set(Automation.objects.filter(shop=shop).values_list("holdout_percent", flat=True)) - {0, 5} == set()
    welcome = Step.objects.get(automation__shop=shop, automation__key="welcome", kind=StepKind.MESSAGE)
    assert welcome.campaign.text.startswith("{name}，欢迎加入{shop}")


def test_the_list_switches_an_automation_on_and_off(shop, owner_client):
    welcome = Automation.objects.get(shop=shop, key="welcome")
    page = owner_client.get(f"/dashboard/{shop.slug}/automations/")
    assert page.status_code == 200 and "入会欢迎" in page.content.decode()

    owner_client.post(f"/dashboard/{shop.slug}/automations/{welcome.pk}/switch/", {"enabled": "1"})
    welcome.refresh_from_db()
    assert welcome.enabled
    owner_client.post(f"/dashboard/{shop.slug}/automations/{welcome.pk}/switch/", {"enabled": "0"})
    welcome.refresh_from_db()
    assert not welcome.enabled


def test_an_analyst_reads_but_cannot_switch_or_edit(shop, client):
    welcome = Automation.objects.get(shop=shop, key="welcome")
    client.force_login(add_staff(shop, Role.ANALYST))
    assert client.get(f"/dashboard/{shop.slug}/automations/{welcome.pk}/").status_code == 200
    assert client.post(f"/dashboard/{shop.slug}/automations/{welcome.pk}/switch/", {"enabled": "1"}).status_code == 403
    assert client.get(f"/dashboard/{shop.slug}/automations/{welcome.pk}/edit/").status_code == 403
    welcome.refresh_from_db()
    assert not welcome.enabled


def _steps(*rows):
    data = {
        "steps-TOTAL_FORMS": "8",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "8",
    }
    for i in range(8):
        row = rows[i] if i < len(rows) else {"kind": ""}
        data.update({f"steps-{i}-{k}": v for k, v in row.items()})
    return data


def test_the_editor_saves_settings_and_steps_and_keeps_the_message_campaign(shop, owner_client):
    win_back = Automation.objects.get(shop=shop, key="win_back")
    campaign = Step.objects.get(automation=win_back, kind=StepKind.MESSAGE).campaign_id
    url = f"/dashboard/{shop.slug}/automations/{win_back.pk}/edit/"
    assert "{points_balance}" in owner_client.get(url).content.decode()

    response = owner_client.post(url, {
        "name": "回归关怀", "days": "45", "reentry": Reentry.PERIOD, "reentry_days": "120", "holdout_percent": "10",
        "attribution_days": "14",
        **_steps({"kind": "wait", "wait_days": "1", "wait_hour": "10"},
                 {"kind": "message", "channel": "sms", "text": "{name}，好久不见，{shop}等你回来"},
                 {"kind": "reward", "points": "50"}),
    })  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    win_back.refresh_from_db()
    assert (win_back.name, win_back.days, win_back.reentry, win_back.reentry_days, win_back.holdout_percent) == (
        "回归关怀",
        45,
        Reentry.PERIOD,
        120,
        10,
    )
    steps = list(
        Step.objects.filter(automation=win_back)
        .order_by("position")
        .values_list("kind", "wait_hour", "points", "campaign_id")
    )
    assert steps == [("wait", 10, 0, None), ("message", None, 0, campaign), ("reward", None, 50, None)]
    assert Campaign.objects.get(pk=campaign).text == "{name}，好久不见，{shop}等你回来"
    detail = owner_client.get(f"/dashboard/{shop.slug}/automations/{win_back.pk}/").content.decode()
    assert "好久不见" in detail  # the preview, rendered for a sample member


def test_an_unknown_placeholder_is_refused_and_nothing_changes(shop, owner_client):
    win_back = Automation.objects.get(shop=shop, key="win_back")
    before = list(Step.objects.filter(automation=win_back).values())
    url = f"/dashboard/{shop.slug}/automations/{win_back.pk}/edit/"
    response = owner_client.post(url, {
        "name": "x", "days": "45", "reentry": "every", "reentry_days": "30", "holdout_percent": "5",
        "attribution_days": "7", **_steps({"kind": "message", "channel": "sms", "text": "{nmae}你好"}),
    })  # fmt: skip
    assert response.status_code == 200
    assert "nmae" in response.content.decode()
    assert list(Step.objects.filter(automation=win_back).values()) == before
    assert Automation.objects.get(pk=win_back.pk).name != "x"


def test_the_api_lists_automations_with_their_results(shop, api_client):
    welcome = switch_on(shop, "welcome")
    MemberFactory(shop=shop, consents={"sms": True})
    run(shop)

    response = api_client.get("/api/v1/automations/")

    assert response.status_code == 200
    row = next(r for r in response.json() if r["id"] == welcome.pk)
    assert (row["trigger"], row["enabled"], row["holdout_percent"]) == ("joined", True, 0)
    assert row["results"]["journeys"]["done"] == 1
    assert row["results"]["messages"]["sent"] == 1
    assert row["results"]["treated"]["members"] == 1
