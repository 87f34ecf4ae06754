"""Tag writers racing on real PostgreSQL connections: the stored member count matches the tagged rows."""

import pytest

from members.models import MemberTag, Tag
from members.services import Enrolment, member_enroll
from members.tags import member_tag_change, tag_create
from shops.services import SYSTEM
from shops.tenancy import shop_scope
from tests.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_taggings_of_one_tag_leave_its_count_exact(shop):
    members = [member_enroll(shop=shop, data=Enrolment(phone=f"138001380{i:02d}"))[0] for i in range(12)]
    tag = tag_create(shop=shop, actor=SYSTEM, name="VIP")

    def tag_one(member):
        def run():
            with shop_scope(shop):
                return member_tag_change(shop=shop, tag=tag, member=member, actor=SYSTEM)

        return run

    assert race([tag_one(m) for m in members]) == [True] * 12
    assert MemberTag.objects.filter(tag=tag).count() == 12
    assert Tag.objects.get(pk=tag.pk).member_count == 12
