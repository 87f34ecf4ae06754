"""Member intelligence where merchants see it (SPEC 15): the member filter keys, the API member object's
`churn_risk`, `p_alive` and `predicted_value`, the CSV export, the profile, the page (fitted, and below the
minimum-data rule), and the band segment. Scores are written directly here (their computation is
tests/analytics/test_clv.py's), so that each expected value is the one written."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from analytics.models import ClvState, ClvStatus, MemberClv
from members.exports import members_export_csv
from members.filters import InvalidFilter, member_filter
from members.models import Segment
from shops.roles import Role
from shops.services import SYSTEM
from tests.factories import MemberFactory
from tests.pages import staff_client, text, url

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 6, 1, 3, tzinfo=datetime.UTC)
BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44, "log_likelihood": -4055.9}
HOLDOUT = {
    "calibration_end": "2026-03-01",
    "days": 90,
    "buckets": [{"bucket": str(b), "members": 10, "predicted": 0.5 * b, "actual": 0.4 * b} for b in range(7)]
    + [{"bucket": "7+", "members": 2, "predicted": 4.0, "actual": 4.5}],
    "predicted_total": 120.0,
    "actual_total": 111.0,
    "rhythm_days": 41.0,
}


def score(shop, member, *, risk, p_alive, value, frequency=3, recency=120, age=300):
    return MemberClv.objects.create(
        shop=shop, member=member, frequency=frequency, recency_days=recency, age_days=age, p_alive=p_alive,
        expected_orders_90d=0.8, predicted_value=Decimal(value), churn_risk=risk, computed_at=NOW,
    )  # fmt: skip


@pytest.fixture
def scored(shop):
    members = [MemberFactory(shop=shop) for _ in range(3)]
    score(shop, members[0], risk="high", p_alive=0.12, value="15.50")
    score(shop, members[1], risk="low", p_alive=0.93, value="420.00")
    ClvState.objects.create(shop=shop, status=ClvStatus.FITTED, computed_at=NOW, members_with_orders=2,
                            history_days=400, bgnbd=BG, gamma_gamma=GG, holdout=HOLDOUT)  # fmt: skip
    return members


@pytest.mark.parametrize("probe_above", [0, 100_000])
def test_filter_keys(shop, scored, monkeypatch, probe_above):
    # Both ways of writing the band condition (probing per member for a large band, the band's members fetched
    # whole for a small one) select the same members.
    from analytics.clv import filters

    monkeypatch.setattr(filters, "PROBE_ABOVE", probe_above)
    ClvState.objects.filter(shop=shop).update(bands={"high": 1, "low": 1, "medium": 0})

    def ids(definition):
        return set(member_filter(shop=shop, definition=definition).values_list("pk", flat=True))

    assert ids({"churn_risk": ["high"]}) == {scored[0].pk}
    assert ids({"churn_risk": ["high", "low"]}) == {scored[0].pk, scored[1].pk}
    assert ids({"predicted_value_min": "100"}) == {scored[1].pk}
    assert ids({"churn_risk": ["medium"]}) == set()
    for bad in ({"churn_risk": ["doomed"]}, {"churn_risk": [3]}, {"predicted_value_min": "NaN"},
                {"predicted_value_min": ["1"]}, {"predicted_value_min": "1e400"}):  # fmt: skip
        with pytest.raises(InvalidFilter):
            list(member_filter(shop=shop, definition=bad))


def test_filter_keys_read_the_shops_own_scores(shop, other_shop, scored):
    theirs = MemberFactory(shop=other_shop)
    score(other_shop, theirs, risk="high", p_alive=0.1, value="1.00")
    found = set(member_filter(shop=shop, definition={"churn_risk": ["high"]}).values_list("pk", flat=True))
    assert found == {scored[0].pk}


def test_api_member_object_carries_the_scores(api_client, shop, scored):
    body = api_client.get(f"/api/v1/members/{scored[0].pk}/").json()
    assert (body["churn_risk"], body["p_alive"], body["predicted_value"]) == ("high", 0.12, "15.50")
    body = api_client.get(f"/api/v1/members/{scored[2].pk}/").json()
    assert (body["churn_risk"], body["p_alive"], body["predicted_value"]) == (None, None, None)
    listed = {m["id"]: m for m in api_client.get("/api/v1/members/").json()["results"]}
    assert (listed[scored[1].pk]["churn_risk"], listed[scored[1].pk]["predicted_value"]) == ("low", "420.00")


def test_export_has_the_scores(shop, scored):
    with translation.override("en"):
        pieces = members_export_csv(shop=shop, actor=SYSTEM, definition={}, show_phone=False)
        lines = "".join(pieces).splitlines()
    assert lines[0].endswith("Churn risk,Probability active,Predicted 12-month value")
    by_id = {line.split(",")[0]: line for line in lines[1:]}
    assert by_id[str(scored[0].pk)].endswith(",High,0.1200,15.50")
    assert by_id[str(scored[2].pk)].endswith(",,,")


def test_profile_says_why(client, shop, scored):
    staff_client(client, shop, Role.OWNER)
    client.cookies["django_language"] = "en"
    page = text(client.get(url("member", shop, scored[0].pk)))
    assert "Churn risk and predicted value" in page
    assert (
        "Last purchase 180 days ago; usually buys every 40 days (4 purchase days); probability still active 12%."
        in page
    )
    assert "Churn risk and predicted value" not in text(client.get(url("member", shop, scored[2].pk)))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_page_fitted(client, shop, scored, language):
    staff_client(client, shop, Role.ANALYST)
    client.cookies["django_language"] = language
    response = client.get(url("analytics_clv", shop))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html
    assert 'data-band="high"' in html
    page = text(response)
    if language == "en":
        assert "buys about once every 127 days" in page  # alpha / r * 7 = 4.414 / 0.243 * 7
        assert "below 0.3, medium below 0.7" in page
        assert "it expected 120 repeat purchase days, there were 111" in page
    else:
        assert "127" in page and "0.3" in page


def test_page_below_the_minimum_data_rule(client, shop):
    ClvState.objects.create(shop=shop, status=ClvStatus.INSUFFICIENT, computed_at=NOW, members_with_orders=120,
                            history_days=100)  # fmt: skip
    staff_client(client, shop, Role.OWNER)
    client.cookies["django_language"] = "en"
    page = text(client.get(url("analytics_clv", shop)))
    assert "need at least 500 members with orders and 180 days of order history" in page
    assert "380 more members need to order." in page
    assert "The history will be long enough on 2026-08-20." in page


def test_a_clerk_is_refused_the_page(client, shop):
    staff_client(client, shop, Role.CLERK)
    assert client.get(url("analytics_clv", shop)).status_code == 403


def test_a_band_becomes_a_segment(client, shop, scored):
    staff_client(client, shop, Role.OWNER)
    response = client.post(url("analytics_clv_segment", shop), {"band": "high", "then": "segment"})
    assert response.status_code == 302
    segment = Segment.objects.get(shop=shop)
    assert segment.definition == {"churn_risk": ["high"]}
    assert client.post(url("analytics_clv_segment", shop), {"band": "doomed"}).status_code == 302
    assert Segment.objects.filter(shop=shop).count() == 1
    assert timezone.is_aware(NOW)


def test_the_schema_documents_the_member_fields_and_the_answers_match_it(api_client, shop, scored):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    props = components["Member"]["properties"]
    risk = props["churn_risk"]
    assert risk["nullable"] is True
    assert components[risk["allOf"][0]["$ref"].rsplit("/", 1)[1]]["enum"] == ["low", "medium", "high"]
    assert (props["p_alive"]["type"], props["p_alive"]["minimum"], props["p_alive"]["maximum"]) == ("number", 0, 1)
    assert (props["predicted_value"]["type"], props["predicted_value"]["format"]) == ("string", "decimal")
    assert props["p_alive"]["nullable"] is True and props["predicted_value"]["nullable"] is True
    assert {"churn_risk", "p_alive", "predicted_value"} <= set(components["Member"]["required"])
    # The answers hold what the schema says: an enum value or null, a number within 0-1 or null, a decimal string.
    for m in scored:
        body = api_client.get(f"/api/v1/members/{m.pk}/").json()
        assert body["churn_risk"] in ("low", "medium", "high", None)
        assert body["p_alive"] is None or 0 <= body["p_alive"] <= 1
        assert body["predicted_value"] is None or str(Decimal(body["predicted_value"])) == body["predicted_value"]
