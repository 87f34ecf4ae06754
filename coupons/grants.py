"""Granting a template to a segment: a GrantJob run by a Celery task in chunks of members (by id), each chunk one
transaction through coupons.issuance.coupons_issue_bulk. The job row is locked for each chunk, so a redelivered
task cannot run a chunk twice at once, and `last_member_id` moves with the chunk's commit, so a retry resumes where
the last committed chunk ended. Coupon keys are "grant#<job id>#<member id>": a chunk re-run issues nothing twice."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.filters import member_filter
from members.models import Member, Segment
from members.segments import segment_count
from shops.models import Shop
from shops.services import Actor, audit_record

from .issuance import Issued, coupon_issue, coupons_issue_bulk, issuable_check
from .models import CouponTemplate, GrantJob, GrantStatus, Source

CHUNK = 10_000


@transaction.atomic
def coupon_grant_member(
    *, shop: Shop, actor: Actor, member: Member, template: CouponTemplate, source: str, idempotency_key: str,
    note: str,
) -> Issued:  # fmt: skip
    """Staff give one coupon to one member (source grant, or compensation, which ignores the audience), with the
    reason kept in the audit log beside the coupon. A retry with the key returns the first coupon. Raises as
    coupon_issue."""
    assert source in (Source.GRANT, Source.COMPENSATION)
    issued = coupon_issue(shop=shop, member=member, template=template, source=source, idempotency_key=idempotency_key)
    if issued.created:
        audit_record(
            shop=shop, actor=actor, action="coupon.grant", obj=issued.coupon,
            changes={"member": ["", str(member.pk)], "template": ["", template.name], "source": ["", source],
                     "note": ["", note]},
        )  # fmt: skip
    return issued


@transaction.atomic
def grant_create(
    *, shop: Shop, actor: Actor, template: CouponTemplate, segment: Segment, idempotency_key: str, dispatch: bool = True
) -> GrantJob:
    """Queue a grant of `template` to each member of `segment` (one coupon each). A retry with the same key returns
    the first job. Raises NotIssuable (template paused or ended), InvalidFilter."""
    assert template.shop_id == shop.pk and segment.shop_id == shop.pk
    if earlier := GrantJob.objects.filter(shop=shop, idempotency_key=idempotency_key).first():
        return earlier
    issuable_check(template, source=Source.SEGMENT_GRANT, now=timezone.now())
    total = segment_count(shop=shop, definition=segment.definition)
    try:
        with transaction.atomic():
            job = GrantJob.objects.create(
                shop=shop, template=template, segment=segment, idempotency_key=idempotency_key,
                members_total=total, actor=actor.label,
            )  # fmt: skip
    except IntegrityError:
        return GrantJob.objects.get(shop=shop, idempotency_key=idempotency_key)
    audit_record(shop=shop, actor=actor, action="coupon_grant.create", obj=template,
                 changes={"segment": ["", segment.name], "members": ["", str(total)]})  # fmt: skip
    if dispatch:
        from .tasks import grant_run  # tasks import this module

        transaction.on_commit(lambda: grant_run.delay(shop.pk, job.pk))
    return job


def grant_run_chunk(*, shop: Shop, job: GrantJob, chunk: int = CHUNK) -> bool:
    """Grant to the next `chunk` members of the job's segment. Returns True when the job is finished."""
    with transaction.atomic():
        job = GrantJob.objects.select_for_update().get(shop=shop, pk=job.pk)
        if job.status in (GrantStatus.DONE, GrantStatus.FAILED):
            return True
        if job.segment is None:  # the segment was deleted before the grant ran out
            return _finish(job, GrantStatus.FAILED, error=_("The segment was deleted before the grant finished."))
        ids = list(
            member_filter(shop=shop, definition=job.segment.definition)
            .filter(pk__gt=job.last_member_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return _finish(job, GrantStatus.DONE)
        template = CouponTemplate.objects.get(shop=shop, pk=job.template_id)
        done = coupons_issue_bulk(
            shop=shop, template=template, member_ids=ids, key_prefix=f"grant#{job.pk}#", source=Source.SEGMENT_GRANT
        )
        job.status = GrantStatus.RUNNING
        job.last_member_id = ids[-1]
        job.members_done += done.considered
        job.issued += done.issued + done.already
        job.skipped_audience += done.skipped_audience + done.skipped_inactive
        job.skipped_limit += done.skipped_limit
        job.skipped_stock += done.skipped_stock
        job.save()
        return False


def _finish(job: GrantJob, status: str, error: str = "") -> bool:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return True


def grant_fail(*, shop: Shop, job: GrantJob, error: str) -> None:
    with transaction.atomic():
        _finish(GrantJob.objects.select_for_update().get(shop=shop, pk=job.pk), GrantStatus.FAILED, error=error[:500])
