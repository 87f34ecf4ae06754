"""Push tokens (SPEC 12, 10): POST /api/v1/members/{id}/devices/ and device_register; exact bodies, one row per
token and shop, and nothing stored on refusal."""

from datetime import datetime

import pytest

from members.models import Device
from members.services import Enrolment, device_register, member_enroll, member_erase
from shops.errors import ApplicationError
from shops.services import SYSTEM
from tests.concurrency import in_scope, race
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

TOKEN = "a1b2c3d4e5f6"


def _url(member) -> str:
    return f"/api/v1/members/{member.pk}/devices/"


def _devices() -> list[tuple]:
    return sorted(Device.objects.values_list("shop_id", "member_id", "platform", "token", "is_active"))


def test_registering_a_token_is_201_with_the_device(api_client, shop):
    member = MemberFactory(shop=shop)

    response = api_client.post(_url(member), {"platform": "ios", "token": TOKEN}, format="json")

    assert response.status_code == 201, response.content
    device = Device.objects.get()
    body = response.json()
    assert body == {"id": device.pk, "platform": "ios", "token": TOKEN, "created_at": body["created_at"]}
    assert datetime.fromisoformat(body["created_at"]) == device.created_at
    assert (device.shop_id, device.member_id, device.platform, device.token, device.is_active) == (
        shop.pk,
        member.pk,
        "ios",
        TOKEN,
        True,
    )


def test_registering_the_same_token_again_is_200_and_changes_nothing(api_client, shop):
    member = MemberFactory(shop=shop)
    first = api_client.post(_url(member), {"platform": "android", "token": TOKEN}, format="json").json()
    created_at = Device.objects.get().created_at

    response = api_client.post(_url(member), {"platform": "android", "token": TOKEN}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == first
    assert _devices() == [(shop.pk, member.pk, "android", TOKEN, True)]
    assert Device.objects.get().created_at == created_at


def test_a_token_registered_for_another_member_moves_to_that_member(api_client, shop):
    # given: the token is the first member's (the phone changed hands)
    seller, buyer = MemberFactory(shop=shop), MemberFactory(shop=shop)
    api_client.post(_url(seller), {"platform": "ios", "token": TOKEN}, format="json")

    # when
    response = api_client.post(_url(buyer), {"platform": "ios", "token": TOKEN}, format="json")

    # then: one row, now the buyer's
    assert response.status_code == 201, response.content
    assert _devices() == [(shop.pk, buyer.pk, "ios", TOKEN, True)]
    assert response.json()["id"] == Device.objects.get().pk
    assert list(seller.devices.all()) == []


def test_an_inactive_token_registered_again_is_active_again(shop):
    member = MemberFactory(shop=shop)
    device, _ = device_register(shop=shop, member=member, platform="web", token=TOKEN)
    Device.objects.filter(pk=device.pk).update(is_active=False)  # as a provider's "unregistered" answer would

    again, registered = device_register(shop=shop, member=member, platform="web", token=TOKEN)

    assert registered is True
    assert again.pk == device.pk
    assert _devices() == [(shop.pk, member.pk, "web", TOKEN, True)]


def test_the_same_token_in_two_shops_is_two_devices(shop, other_shop):
    mine, theirs = MemberFactory(shop=shop), MemberFactory(shop=other_shop)

    device_register(shop=shop, member=mine, platform="ios", token=TOKEN)
    _, registered = device_register(shop=other_shop, member=theirs, platform="ios", token=TOKEN)

    assert registered is True
    assert _devices() == sorted(
        [(shop.pk, mine.pk, "ios", TOKEN, True), (other_shop.pk, theirs.pk, "ios", TOKEN, True)]
    )


def test_another_shops_member_is_404_and_nothing_is_stored(api_client, other_shop):
    foreign = MemberFactory(shop=other_shop)

    response = api_client.post(_url(foreign), {"platform": "ios", "token": TOKEN}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Device.objects.count() == 0


def test_a_missing_member_is_404(api_client, shop):
    response = api_client.post("/api/v1/members/999999999/devices/", {"platform": "ios", "token": TOKEN}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"platform": "symbian", "token": TOKEN}, {"platform"}),
        ({"platform": "ios", "token": ""}, {"token"}),
        ({"platform": "ios", "token": "x" * 256}, {"token"}),
        ({"platform": "ios", "token": 12345}, {"token"}),
        ({"token": TOKEN}, {"platform"}),
        ({"platform": "ios"}, {"token"}),
        ({"platform": "ios", "token": TOKEN, "member_id": 1}, {"member_id"}),
    ],
)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(api_client, shop, body, fields):
    member = MemberFactory(shop=shop)

    response = api_client.post(_url(member), body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "invalid"
    assert set(error["details"]) == fields
    assert Device.objects.count() == 0


def test_a_token_of_255_characters_is_kept_whole(api_client, shop):
    member = MemberFactory(shop=shop)

    response = api_client.post(_url(member), {"platform": "harmony", "token": "t" * 255}, format="json")

    assert response.status_code == 201, response.content
    assert Device.objects.get().token == "t" * 255


def test_an_erased_member_gets_no_device(api_client, shop):
    member = member_erase(shop=shop, member=MemberFactory(shop=shop), actor=SYSTEM)

    response = api_client.post(_url(member), {"platform": "ios", "token": TOKEN}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "member_erased"
    assert Device.objects.count() == 0
    with pytest.raises(ApplicationError):
        device_register(shop=shop, member=member, platform="ios", token=TOKEN)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_token_leave_one_row(shop):
    # given: two members of the shop, each registering the same token at the same moment, twice over
    a, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138001"))
    b, _ = member_enroll(shop=shop, data=Enrolment(phone="13800138002"))

    # when
    results = race(
        [
            in_scope(shop, lambda m=m: device_register(shop=shop, member=m, platform="android", token=TOKEN))
            for m in (a, b, a, b)
        ]
    )

    # then: no error, one row, held by one of them
    assert [r for r in results if isinstance(r, Exception)] == []
    rows = _devices()
    assert len(rows) == 1
    assert rows[0][1] in {a.pk, b.pk}
    assert {device.pk for device, _registered in results} == {Device.objects.get().pk}
