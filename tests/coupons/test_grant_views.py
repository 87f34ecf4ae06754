"""The grants dashboard: a template granted to a segment (form, job list, job page following the progress), one
coupon granted to a member from their profile, and the coupons section of the profile."""

import re

import pytest

from coupons.codes import code_display
from coupons.grants import grant_create, grant_fail, grant_run_chunk
from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponTemplate, GrantJob, GrantStatus, Source
from coupons.services import template_set_status
from members.segments import segment_save
from members.services import member_erase, member_set_frozen
from members.tags import tag_create
from shops.models import AuditLogEntry
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from tests.pages import staff_client, url

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db

KEY = "dashboard#" + "a" * 32
OTHER_KEY = "dashboard#" + "b" * 32


def segment_of(shop, name="上海会员", region="上海市"):
    return segment_save(shop=shop, actor=SYSTEM, name=name, definition={"regions": [region]})


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def followed_messages(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def form_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(e) for errors in form.errors.values() for e in errors]


@pytest.fixture
def setup(shop):
    template = make_template(shop, name="满100减20", per_member_limit=1, stock=100)
    members = [make_member(shop, i, region="上海市", name=f"会员{i}") for i in range(3)]
    return template, segment_of(shop), members


# --- who may do what -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_each_role_reaches_the_grant_pages_only_with_the_grant_right(client, shop, setup, role):
    template, segment, members = setup
    job = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="j", dispatch=False)
    staff_client(client, shop, role)
    allowed = Perm.COUPONS_GRANT in ROLE_PERMISSIONS[role]

    for page in (
        url("coupon_grants", shop),
        url("coupon_grant", shop, job.pk),
        url("coupon_grant_member", shop, members[0].pk),
    ):
        assert client.get(page).status_code == (200 if allowed else 403), (role, page)
    posted = client.post(
        url("coupon_grants", shop), {"template": template.pk, "segment": segment.pk, "idempotency_key": KEY}
    )
    assert posted.status_code == (302 if allowed else 403)
    assert GrantJob.objects.count() == (2 if allowed else 1)


# --- segment grants -----------------------------------------------------------------------------------------------


def test_the_form_offers_active_templates_and_the_shops_segments_with_their_count_now(
    owner_client, shop, other_shop, setup
):
    template, segment, _members = setup
    paused = template_set_status(shop=shop, actor=SYSTEM, template=make_template(shop, name="停用券"), status="paused")
    make_template(other_shop, name="乙店券")
    segment_of(other_shop, name="乙店分组")

    response = owner_client.get(url("coupon_grants", shop))

    form = response.context["form"]
    assert [label for _pk, label in form.fields["template"].choices] == ["满100减20"]
    assert [label for _pk, label in form.fields["segment"].choices] == ["上海会员 (3 members now)"]
    assert paused.pk not in dict(form.fields["template"].choices)
    assert re.search(r'name="idempotency_key" value="dashboard#[0-9a-f]{32}"', response.content.decode())


def test_a_grant_queues_one_job_runs_it_and_shows_its_figures(
    owner_client, shop, setup, django_capture_on_commit_callbacks
):
    template, segment, members = setup
    data = {"template": template.pk, "segment": segment.pk, "idempotency_key": KEY}

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url("coupon_grants", shop), data)

    job = GrantJob.objects.get(shop=shop)
    assert response.status_code == 302 and response.url == url("coupon_grant", shop, job.pk)
    assert (job.status, job.members_total, job.members_done, job.issued, job.actor) == (
        GrantStatus.DONE,
        3,
        3,
        3,
        "owner@shop-a.example",
    )
    assert sorted(Coupon.objects.filter(template=template).values_list("member_id", flat=True)) == [
        m.pk for m in members
    ]
    page = owner_client.get(response.url)
    html = page.content.decode()
    assert "js/reload.js" not in html  # finished: no more refreshing
    assert 'data-testid="grant-issued">3<' in html and "100%" in html
    listing = owner_client.get(url("coupon_grants", shop)).content.decode()
    assert f'data-job="{job.pk}"' in listing and "3 / 3" in listing


def test_a_double_submit_makes_one_job(owner_client, shop, setup):
    template, segment, _members = setup
    data = {"template": template.pk, "segment": segment.pk, "idempotency_key": KEY}

    first = owner_client.post(url("coupon_grants", shop), data)
    second = owner_client.post(url("coupon_grants", shop), data)

    assert GrantJob.objects.filter(shop=shop).count() == 1
    assert first.url == second.url == url("coupon_grant", shop, GrantJob.objects.get().pk)


def test_a_form_used_before_for_another_grant_gets_a_fresh_key_and_makes_nothing(owner_client, shop, setup):
    template, segment, _members = setup
    owner_client.post(
        url("coupon_grants", shop), {"template": template.pk, "segment": segment.pk, "idempotency_key": KEY}
    )
    other_segment = segment_of(shop, name="北京会员", region="北京市")

    response = owner_client.post(
        url("coupon_grants", shop), {"template": template.pk, "segment": other_segment.pk, "idempotency_key": KEY}
    )

    assert response.status_code == 200
    assert any("already used for another grant" in e for e in form_errors(response))
    assert response.context["form"].data["idempotency_key"] != KEY
    assert GrantJob.objects.filter(shop=shop).count() == 1


def test_a_running_job_page_refreshes_itself(owner_client, shop, setup):
    # given: a job over ten members that has granted to its first four, one of them frozen (skipped)
    template, segment, members = setup
    members += [make_member(shop, i, region="上海市") for i in range(3, 10)]
    member_set_frozen(shop=shop, member=members[1], actor=SYSTEM, frozen=True)
    job = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="j", dispatch=False)
    grant_run_chunk(shop=shop, job=job, chunk=4)
    job.refresh_from_db()
    assert (job.status, job.members_total, job.members_done, job.issued) == (GrantStatus.RUNNING, 10, 4, 3)

    html = owner_client.get(url("coupon_grant", shop, job.pk)).content.decode()

    assert "js/reload.js" in html and 'http-equiv="refresh"' in html
    assert "40%" in html and 'data-testid="grant-skipped-audience">1<' in html


def test_a_failed_job_shows_its_error(owner_client, shop, setup):
    template, segment, _members = setup
    job = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="j", dispatch=False)
    grant_fail(shop=shop, job=job, error="This coupon is paused or has ended.")

    html = owner_client.get(url("coupon_grant", shop, job.pk)).content.decode()

    assert "This coupon is paused or has ended." in html and "js/reload.js" not in html


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("template", None, "This field is required."),
        ("segment", None, "This field is required."),
        ("template", 999_999, "Select a valid choice."),
        ("idempotency_key", "x", "This form is out of date."),
    ],
)
def test_a_bad_grant_form_is_refused_and_makes_nothing(owner_client, shop, setup, field, value, message):
    template, segment, _members = setup
    data = {"template": template.pk, "segment": segment.pk, "idempotency_key": KEY}
    if value is None:
        del data[field]
    else:
        data[field] = value

    response = owner_client.post(url("coupon_grants", shop), data)

    assert response.status_code == 200
    assert any(message in e for e in form_errors(response))
    assert GrantJob.objects.count() == 0


def test_another_shops_template_or_segment_is_not_a_choice(owner_client, shop, other_shop, setup):
    template, segment, _members = setup
    foreign_template = make_template(other_shop, name="乙店券")
    foreign_segment = segment_of(other_shop, name="乙店分组")

    for data in (
        {"template": foreign_template.pk, "segment": segment.pk},
        {"template": template.pk, "segment": foreign_segment.pk},
    ):
        response = owner_client.post(url("coupon_grants", shop), {**data, "idempotency_key": KEY})
        assert response.status_code == 200
        assert any("Select a valid choice." in e for e in form_errors(response))
    assert GrantJob.objects.count() == 0


def test_another_shops_job_answers_404(owner_client, shop, other_shop):
    template = make_template(other_shop)
    job = grant_create(
        shop=other_shop,
        actor=SYSTEM,
        template=template,
        segment=segment_of(other_shop),
        idempotency_key="j",
        dispatch=False,
    )

    assert owner_client.get(url("coupon_grant", shop, job.pk)).status_code == 404


# --- one member ------------------------------------------------------------------------------------------------------


def grant_member(client, shop, member, template, source="grant", note="生日补发", key=KEY):
    return client.post(
        url("coupon_grant_member", shop, member.pk),
        {"template": template.pk, "source": source, "note": note, "idempotency_key": key},
    )


def test_a_grant_to_a_member_names_the_coupon_code_and_records_the_reason(owner_client, shop, setup):
    template, _segment, members = setup

    response = grant_member(owner_client, shop, members[0], template)

    coupon = Coupon.objects.get(member=members[0])
    assert response.status_code == 302 and response.url == url("member", shop, members[0].pk)
    assert (coupon.template_id, coupon.source, coupon.idempotency_key) == (template.pk, Source.GRANT, KEY)
    assert followed_messages(response) == [f"Coupon {code_display(coupon.code)} (满100减20) granted."]
    entry = AuditLogEntry.objects.get(shop=shop, action="coupon.grant")
    assert entry.object_id == str(coupon.pk) and entry.changes["note"] == ["", "生日补发"]
    assert entry.actor_label == "owner@shop-a.example"


def test_a_double_submit_grants_one_coupon(owner_client, shop, setup):
    template, _segment, members = setup

    grant_member(owner_client, shop, members[0], template)
    again = grant_member(owner_client, shop, members[0], template)

    coupon = Coupon.objects.get(member=members[0])
    assert followed_messages(again)[-1] == (
        f"This grant was already made: coupon {code_display(coupon.code)}, not issued twice."
    )
    assert AuditLogEntry.objects.filter(shop=shop, action="coupon.grant").count() == 1
    assert CouponTemplate.objects.get(pk=template.pk).issued == 1


def test_compensation_ignores_the_audience_which_a_grant_respects(owner_client, shop, setup):
    _template, _segment, members = setup
    tag = tag_create(shop=shop, actor=SYSTEM, name="VIP")  # nobody has it
    new_only = make_template(shop, name="VIP券", audience="tags", audience_tags=[tag.pk], per_member_limit=1)

    refused = grant_member(owner_client, shop, members[0], new_only)
    assert refused.status_code == 200
    assert form_errors(refused) == ["This coupon is not offered to this member."]
    assert Coupon.objects.filter(member=members[0]).count() == 0

    granted = grant_member(owner_client, shop, members[0], new_only, source="compensation", key=OTHER_KEY)
    assert granted.status_code == 302
    assert Coupon.objects.get(member=members[0]).source == Source.COMPENSATION


def test_out_of_stock_and_limit_are_shown_on_the_form_and_issue_nothing(owner_client, shop, setup):
    template, _segment, members = setup
    coupon_issue(shop=shop, member=members[0], template=template, idempotency_key="own", source=Source.CLAIM)
    sold_out = make_template(shop, name="限量券", stock=1)
    coupon_issue(shop=shop, member=members[1], template=sold_out, idempotency_key="last", source=Source.CLAIM)

    at_limit = grant_member(owner_client, shop, members[0], template)
    out = grant_member(owner_client, shop, members[2], sold_out, key=OTHER_KEY)

    assert form_errors(at_limit) == ["The member already holds as many of this coupon as allowed."]
    assert form_errors(out) == ["This coupon has run out."]
    assert Coupon.objects.filter(member__in=[members[0], members[2]]).count() == 1
    assert AuditLogEntry.objects.filter(action="coupon.grant").count() == 0


def test_a_frozen_member_gets_no_coupon_and_an_erased_one_has_no_grant_page(owner_client, shop, setup):
    template, _segment, members = setup
    member_set_frozen(shop=shop, actor=SYSTEM, member=members[0], frozen=True)
    member_erase(shop=shop, actor=SYSTEM, member=members[1])

    frozen = grant_member(owner_client, shop, members[0], template)

    assert form_errors(frozen) == ["Coupons are issued to active members only."]
    assert owner_client.get(url("coupon_grant_member", shop, members[1].pk)).status_code == 404
    assert grant_member(owner_client, shop, members[1], template, key=OTHER_KEY).status_code == 404
    assert Coupon.objects.count() == 0


@pytest.mark.parametrize("field, value", [("note", ""), ("source", "claim"), ("template", 999_999)])
def test_a_bad_member_grant_form_is_refused(owner_client, shop, setup, field, value):
    template, _segment, members = setup
    data = {"template": template.pk, "source": "grant", "note": "补发", "idempotency_key": KEY, field: value}

    response = owner_client.post(url("coupon_grant_member", shop, members[0].pk), data)

    assert response.status_code == 200 and response.context["form"].errors.get(field)
    assert Coupon.objects.count() == 0


def test_another_shops_member_cannot_be_granted_a_coupon(owner_client, shop, other_shop, setup):
    template, _segment, _members = setup
    foreign = make_member(other_shop, 1)

    response = grant_member(owner_client, shop, foreign, template)

    assert response.status_code == 404
    assert Coupon.objects.filter(member=foreign).count() == 0


# --- the member's profile --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_the_profile_shows_the_members_coupons_to_every_role_and_the_grant_button_to_granters(
    client, shop, setup, role
):
    template, _segment, members = setup
    coupon = coupon_issue(
        shop=shop, member=members[0], template=template, idempotency_key="c", source=Source.CLAIM
    ).coupon
    staff_client(client, shop, role)

    response = client.get(url("member", shop, members[0].pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="member-coupons"' in html
    assert 'data-testid="coupons-available">1<' in html and 'data-testid="coupons-redeemed">0<' in html
    assert "满100减20" in html
    perms = ROLE_PERMISSIONS[role]
    assert ('data-testid="grant-coupon"' in html) == (Perm.COUPONS_GRANT in perms)
    assert (code_display(coupon.code) in html) == (Perm.COUPONS_REDEEM in perms)


def test_a_frozen_members_profile_offers_no_grant(owner_client, shop, setup):
    _template, _segment, members = setup
    member_set_frozen(shop=shop, actor=SYSTEM, member=members[0], frozen=True)

    html = owner_client.get(url("member", shop, members[0].pk)).content.decode()

    assert 'data-testid="member-coupons"' in html and 'data-testid="grant-coupon"' not in html
    assert "No coupons yet." in html
