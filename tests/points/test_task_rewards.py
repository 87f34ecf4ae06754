"""Task rewards: a profile that becomes complete (at enrolment or by an edit) earns the shop's points and growth
value once per member; a replay, a later edit or a changed amount pays nothing more; tasks the shop does not
reward pay nothing. The books reconcile after every test."""

import pytest

from members.models import Member
from members.services import Enrolment, member_enroll, member_update
from points.models import PointsEntry
from points.selectors import points_program_of, points_reconcile
from points.task_rewards import Task, task_reward
from tiers.models import GrowthEntry

pytestmark = pytest.mark.django_db
COMPLETE = {"name": "王芳", "gender": "female", "birthday_month": 5, "birthday_day": 20, "region": "上海"}


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def rewarded(shop):
    program = points_program_of(shop=shop)
    program.profile_completion_points = 50
    program.profile_completion_growth = 20
    program.save()
    yield
    assert points_reconcile(shop=shop) == []


def _figures(member) -> tuple[int, int]:
    m = Member.objects.get(pk=member.pk)
    return m.points_balance, m.growth_value


def test_completing_the_profile_pays_once_whatever_is_edited_later(shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000", name="王芳"))[0]
    assert _figures(member) == (0, 0)

    member_update(shop=shop, member=member, gender="female", birthday_month=5, birthday_day=20, region="上海")
    assert _figures(member) == (50, 20)
    entry = PointsEntry.objects.get(shop=shop, member=member)
    assert (entry.idempotency_key, entry.reason) == ("task#profile_completion", "Task reward: Completed profile")

    member_update(shop=shop, member=member, region="北京")
    member_update(shop=shop, member=member, region="")
    member_update(shop=shop, member=member, region="杭州")
    assert _figures(member) == (50, 20)


def test_enrolling_with_a_complete_profile_pays_at_once(shop, other_shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000", **COMPLETE))[0]
    theirs = member_enroll(shop=other_shop, data=Enrolment(phone="13800138000", **COMPLETE))[0]
    assert _figures(member) == (50, 20)
    assert _figures(theirs) == (0, 0)  # the other shop rewards nothing (its program's default)


def test_a_changed_amount_does_not_pay_again_nor_fail_the_edit(shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000", **COMPLETE))[0]
    program = points_program_of(shop=shop)
    program.profile_completion_points = 80
    program.save()

    member_update(shop=shop, member=member, name="王小芳")

    assert _figures(member) == (50, 20)
    assert Member.objects.get(pk=member.pk).name == "王小芳"


def test_tasks_without_an_amount_are_hooks_that_pay_nothing(shop):
    member = member_enroll(shop=shop, data=Enrolment(phone="13800138000"))[0]
    for task in (Task.CHECK_IN, Task.REVIEW, Task.SHARE):
        assert task_reward(shop=shop, member=member, task=task, occurrence="2026-11-23") == (0, 0)
    assert task_reward(shop=shop, member=member, task=Task.PROFILE_COMPLETION) == (50, 20)
    assert task_reward(shop=shop, member=member, task=Task.PROFILE_COMPLETION) == (0, 0)
    assert (PointsEntry.objects.filter(shop=shop).count(), GrowthEntry.objects.filter(shop=shop).count()) == (1, 1)
