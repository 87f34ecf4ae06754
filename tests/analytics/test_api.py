"""GET /api/v1/analytics/summary/ (SPEC 10): the period's figures from the rollups, with the previous period."""

import pytest

from analytics.rollups import rollup_days
from tests.analytics.test_rollups import D1, D2, D3, facts  # noqa: F401 - the shared fixture

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/summary/"


def test_the_summary_gives_the_hand_computed_figures(api_client, shop, facts):  # noqa: F811
    rollup_days(shop=shop, first=D1, last=D3)
    response = api_client.get(URL, {"from": D1.isoformat(), "to": D2.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert (body["orders"], body["sales"], body["member_sales"]) == (5, "320.00", "290.00")
    assert body["repeat_purchase_rate"] == round(1 / 3, 4) and body["previous"]["orders"] == 0


@pytest.mark.parametrize(
    "params", [{"from": "2026-11-11", "to": "2026-11-10"}, {"from": "2026-11-10"}, {"from": "x", "to": "y"},
               {"from": "2026-11-10", "to": "2026-11-11", "extra": "1"}],
)  # fmt: skip
def test_a_bad_period_is_a_400(api_client, params):
    response = api_client.get(URL, params)
    assert response.status_code == 400
