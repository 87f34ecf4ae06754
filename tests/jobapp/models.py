from django.db import models

from members.models import Member
from shops.distribution import ShopForeignKey
from shops.models import ShopOwned


class SampleJobBase(ShopOwned):
    """A chunked job (members.jobs) that marks members: the fields the helper needs, and counters."""

    status = models.CharField(max_length=8, default="pending")
    last_member_id = models.BigIntegerField(default=0)
    error = models.CharField(max_length=100, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    region = models.CharField(max_length=20, blank=True)  # the members it is for ("": all)
    members_done = models.IntegerField(default=0)
    marked = models.IntegerField(default=0)

    class Meta:
        abstract = True


class SampleJob(SampleJobBase):
    """Run in sequence."""


class ParallelJob(SampleJobBase):
    """Run in parallel chunks."""


class SlowJob(SampleJobBase):
    """Run in parallel chunks, one of which takes its time."""


class SampleMark(ShopOwned):
    """What a job does to a member, once: unique per (shop, key), the key naming the job and the member."""

    member = ShopForeignKey(Member, on_delete=models.CASCADE)
    key = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="sample_mark_unique_key")]
