"""Granting a template to a segment: a GrantJob, a chunked job of members.jobs run in sequence (GRANT) by a Celery
task, each chunk one transaction through coupons.issuance.coupons_issue_bulk. The job row is locked for each chunk,
so a redelivered task cannot run a chunk twice at once, and `last_member_id` moves with the chunk's commit, so a
retry (or the sweep, members.jobs.jobs_resume) resumes where the last committed chunk ended. Coupon keys are
"grant#<job id>#<member id>": a chunk re-run issues nothing twice. In sequence, not in parallel: a limited stock
serves the lowest member ids first, and each chunk locks the template anyway."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.filters import member_filter
from members.jobs import JobFailed, JobKind, job_fail, job_key_prefix, job_kind_register, job_step
from members.models import Member, Segment
from members.segments import segment_count
from shops.models import Shop
from shops.services import Actor, audit_record

from .issuance import Issued, coupon_issue, coupons_issue_bulk, issuable_check
from .models import CouponTemplate, GrantJob, Source

CHUNK = 10_000


@transaction.atomic
def coupon_grant_member(
    *,
    shop: Shop,
    actor: Actor,
    member: Member,
    template: CouponTemplate,
    source: str,
    idempotency_key: str,
    note: str,
) -> Issued:
    """Staff give one coupon to one member (source grant, or compensation, which ignores the audience), with the
    reason kept in the audit log beside the coupon. A retry with the key returns the first coupon. Raises as
    coupon_issue."""
    assert source in (Source.GRANT, Source.COMPENSATION)
    issued = coupon_issue(shop=shop, member=member, template=template, source=source, idempotency_key=idempotency_key)
    if issued.created:
        audit_record(
            shop=shop,
            actor=actor,
            action="coupon.grant",
            obj=issued.coupon,
            changes={
                "member": ["", str(member.pk)],
                "template": ["", template.name],
                "source": ["", source],
                "note": ["", note],
            },
        )
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
                shop=shop,
                template=template,
                segment=segment,
                idempotency_key=idempotency_key,
                members_total=total,
                actor=actor.label,
            )
    except IntegrityError:
        return GrantJob.objects.get(shop=shop, idempotency_key=idempotency_key)
    audit_record(
        shop=shop,
        actor=actor,
        action="coupon_grant.create",
        obj=template,
        changes={"segment": ["", segment.name], "members": ["", str(total)]},
    )
    if dispatch:
        from .tasks import grant_run  # tasks import this module

        transaction.on_commit(lambda: grant_run.delay(shop.pk, job.pk))
    return job


def _members(shop: Shop, job: GrantJob):
    if job.segment is None:  # the segment was deleted before the grant ran out
        raise JobFailed(_("The segment was deleted before the grant finished."))
    return member_filter(shop=shop, definition=job.segment.definition)


def _issue(shop: Shop, job: GrantJob, member_ids: list[int]) -> dict[str, int]:
    template = CouponTemplate.objects.get(shop=shop, pk=job.template_id)
    prefix = job_key_prefix("grant", job.pk)
    done = coupons_issue_bulk(
        shop=shop, template=template, member_ids=member_ids, key_prefix=prefix, source=Source.SEGMENT_GRANT
    )
    return {
        "members_done": done.considered,
        "issued": done.issued + done.already,
        "skipped_audience": done.skipped_audience + done.skipped_inactive,
        "skipped_limit": done.skipped_limit,
        "skipped_stock": done.skipped_stock,
    }


GRANT = job_kind_register(JobKind(name="coupons.grant", model=GrantJob, members=_members, apply=_issue, chunk=CHUNK))


def grant_run_chunk(*, shop: Shop, job: GrantJob, chunk: int = CHUNK) -> bool:
    """Grant to the next `chunk` members of the job's segment. Returns True when the job is finished."""
    return job_step(kind=GRANT, shop=shop, job=job, chunk=chunk)


def grant_fail(*, shop: Shop, job: GrantJob, error: str) -> None:
    job_fail(kind=GRANT, shop=shop, job=job, error=error)
