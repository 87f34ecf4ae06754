"""Segment grants (coupons.grants and the grant_run task): one job per key, exact counts of what was issued and
skipped, chunks that resume without issuing twice, and a template paused in the middle."""

import pytest
from django.utils import timezone

from coupons.errors import NotIssuable
from coupons.grants import grant_create, grant_run_chunk
from coupons.issuance import coupon_issue
from coupons.models import Coupon, CouponTemplate, GrantJob, GrantStatus, Source
from coupons.services import template_set_status
from coupons.tasks import grant_run
from members.segments import segment_save
from members.services import member_set_frozen
from members.tags import tag_apply, tag_create
from shops.models import AuditLogEntry
from shops.services import SYSTEM

from .helpers import make_member, make_template

pytestmark = pytest.mark.django_db

SHANGHAI = "上海市"


def everyone_in(shop, region=SHANGHAI, name="上海会员"):
    return segment_save(shop=shop, actor=SYSTEM, name=name, definition={"regions": [region]})


def job_figures(job: GrantJob) -> tuple:
    job.refresh_from_db()
    return (
        job.status,
        job.members_total,
        job.members_done,
        job.issued,
        job.skipped_audience,
        job.skipped_limit,
        job.skipped_stock,
    )


def granted(template) -> list[int]:
    return sorted(
        Coupon.objects.filter(template=template, source=Source.SEGMENT_GRANT).values_list("member_id", flat=True)
    )


def test_grant_create_is_idempotent_by_key_and_queues_nothing_twice(shop, django_capture_on_commit_callbacks):
    template = make_template(shop)
    segment = everyone_in(shop)
    make_member(shop, 1, region=SHANGHAI)

    with django_capture_on_commit_callbacks() as callbacks:
        first = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="g1")
        again = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="g1")

    assert again.pk == first.pk
    assert GrantJob.objects.filter(shop=shop).count() == 1
    assert len(callbacks) == 1  # one task queued
    assert AuditLogEntry.objects.filter(shop=shop, action="coupon_grant.create").count() == 1
    assert (first.status, first.members_total, first.actor) == (GrantStatus.PENDING, 1, "system")


def test_a_paused_template_cannot_be_granted_and_no_job_is_made(shop):
    template = template_set_status(shop=shop, actor=SYSTEM, template=make_template(shop), status="paused")

    with pytest.raises(NotIssuable):
        grant_create(shop=shop, actor=SYSTEM, template=template, segment=everyone_in(shop), idempotency_key="g")

    assert GrantJob.objects.count() == 0


def test_a_job_issues_to_the_audience_and_counts_every_member_it_skips(
    shop, other_shop, django_capture_on_commit_callbacks
):
    # given: a template for tagged members, with 3 coupons left; 8 members in the segment
    tag = tag_create(shop=shop, actor=SYSTEM, name="老客")
    template = make_template(shop, audience="tags", audience_tags=[tag.pk], stock=4, per_member_limit=1)
    members = [make_member(shop, i, region=SHANGHAI) for i in range(8)]
    make_member(shop, 99, region="北京市")  # outside the segment: not counted at all
    foreign = make_member(other_shop, 1, region=SHANGHAI)  # another shop's member in the same region
    tagged = members[:6]
    for member in tagged:
        tag_apply(shop=shop, tag=tag, actor=SYSTEM, definition={"q": member.phone})
    # members[0] already holds one (at the limit); members[1] is frozen (counted outside the audience)
    coupon_issue(shop=shop, member=members[0], template=template, idempotency_key="own", source=Source.CLAIM)
    member_set_frozen(shop=shop, actor=SYSTEM, member=members[1], frozen=True)
    segment = everyone_in(shop)

    # when: the job runs (eagerly, after the commit)
    with django_capture_on_commit_callbacks(execute=True):
        job = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="g")

    # then: 4 eligible (members 2-5), 3 left in stock: the lowest ids are served
    assert job_figures(job) == (GrantStatus.DONE, 8, 8, 3, 2 + 1, 1, 1)
    assert granted(template) == [m.pk for m in members[2:5]]
    template.refresh_from_db()
    assert template.issued == template.stock == 4
    assert Coupon.objects.filter(member=foreign).count() == 0
    assert job.finished_at is not None and job.error == ""


def test_a_job_runs_in_chunks_and_a_chunk_run_again_issues_nothing_twice(shop):
    template = make_template(shop, per_member_limit=1)
    members = [make_member(shop, i, region=SHANGHAI) for i in range(5)]
    job = grant_create(
        shop=shop, actor=SYSTEM, template=template, segment=everyone_in(shop), idempotency_key="g", dispatch=False
    )

    assert grant_run_chunk(shop=shop, job=job, chunk=2) is False
    assert job_figures(job) == (GrantStatus.RUNNING, 5, 2, 2, 0, 0, 0)
    assert job.last_member_id == members[1].pk

    # a worker that died after this chunk committed, its task redelivered from a stale start: the chunk again
    GrantJob.objects.filter(pk=job.pk).update(last_member_id=0, members_done=0, issued=0)
    while not grant_run_chunk(shop=shop, job=job, chunk=2):
        pass

    assert job_figures(job) == (GrantStatus.DONE, 5, 5, 5, 0, 0, 0)
    assert granted(template) == [m.pk for m in members]
    assert CouponTemplate.objects.get(pk=template.pk).issued == 5
    # and a task delivered again after the end changes nothing
    assert grant_run(shop.pk, job.pk) == 5
    assert Coupon.objects.filter(template=template).count() == 5


def test_a_template_paused_during_the_job_fails_it_with_its_error_and_keeps_what_was_granted(shop):
    template = make_template(shop)
    members = [make_member(shop, i, region=SHANGHAI) for i in range(4)]
    job = grant_create(
        shop=shop, actor=SYSTEM, template=template, segment=everyone_in(shop), idempotency_key="g", dispatch=False
    )
    grant_run_chunk(shop=shop, job=job, chunk=2)

    template_set_status(shop=shop, actor=SYSTEM, template=template, status="paused")
    grant_run(shop.pk, job.pk)

    job.refresh_from_db()
    assert (job.status, job.members_done, job.issued) == (GrantStatus.FAILED, 2, 2)
    assert job.error == "This coupon is paused or has ended."
    assert job.finished_at is not None
    assert granted(template) == [m.pk for m in members[:2]]
    assert CouponTemplate.objects.get(pk=template.pk).issued == 2


def test_a_job_whose_segment_was_deleted_fails_and_issues_nothing(shop):
    from members.segments import segment_delete

    template = make_template(shop)
    make_member(shop, 1, region=SHANGHAI)
    segment = everyone_in(shop)
    job = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="g", dispatch=False)
    segment_delete(shop=shop, actor=SYSTEM, segment=segment)

    grant_run(shop.pk, job.pk)

    job.refresh_from_db()
    assert job.status == GrantStatus.FAILED and job.segment_id is None
    assert Coupon.objects.filter(template=template).count() == 0
    assert job.finished_at <= timezone.now()


def test_a_job_whose_segment_filter_became_invalid_fails_with_the_reason_instead_of_running_for_ever(shop):
    template = make_template(shop)
    make_member(shop, 1, region=SHANGHAI)
    segment = everyone_in(shop)
    job = grant_create(shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key="g", dispatch=False)
    GrantJob.objects.filter(pk=job.pk).update(segment=segment)
    type(segment).objects.filter(pk=segment.pk).update(definition={"genders": ["robot"]})

    grant_run(shop.pk, job.pk)

    job.refresh_from_db()
    assert job.status == GrantStatus.FAILED and "robot" in job.error
    assert Coupon.objects.filter(template=template).count() == 0
