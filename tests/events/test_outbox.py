"""The outbox (SPEC 9): events written with their facts, numbered per shop after commit, fed to consumers at least
once and applied once, swept, pruned."""

import datetime
import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from events import dispatch
from events.consumers import Consumer, consumer_feed_chunk, register_consumer, unregister_consumer
from events.models import Cursor, Event, Stream
from events.outbox import NewEvent, batch, emit, emit_many, uuid7
from events.tasks import events_dispatch, events_sweep
from events.types import EventType
from tests.concurrency import in_scope, race


class Recorder:
    """A consumer that keeps what it was given; `fail` makes the next call raise after recording."""

    def __init__(self):
        self.seen: list = []
        self.fail = False

    def __call__(self, *, shop, events):
        self.seen.extend((shop.pk, e.seq, e.type) for e in events)
        if self.fail:
            self.fail = False
            raise RuntimeError("consumer failed")


@pytest.fixture
def recorder():
    handle = Recorder()
    register_consumer(Consumer("test.recorder", handle=handle, chunk=3))
    yield handle
    unregister_consumer("test.recorder")


def _emit(shop, n: int, type=EventType.MEMBER_UPDATED) -> None:
    with transaction.atomic():
        emit_many(shop_id=shop.pk, events=[NewEvent(type, None, {"n": i}) for i in range(n)])


def test_uuid7_is_version_7_ordered_and_unique():
    ids = [uuid7() for _ in range(5000)]  # more than a millisecond's counter
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    moment = timezone.now()
    assert uuid7(moment) < uuid7() and uuid7(moment - datetime.timedelta(days=1)) < uuid7(moment)


@pytest.mark.django_db
def test_an_event_exists_only_if_its_transaction_commits(shop):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(shop_id=shop.pk, type=EventType.MEMBER_ERASED, member_id=1)
        raise RuntimeError
    assert not Event.objects.filter(shop=shop).exists()


@pytest.mark.django_db
def test_a_batch_writes_its_events_in_one_statement(shop):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries, batch():
        emit(shop_id=shop.pk, type=EventType.MEMBER_JOINED, member_id=1)
        emit_many(shop_id=shop.pk, events=[NewEvent(EventType.POINTS_POSTED, 1, {"points": 5})] * 3)
        with batch():
            emit(shop_id=shop.pk, type=EventType.TIER_CHANGED, member_id=1)
        assert not Event.objects.filter(shop=shop).exists()  # collected, not written yet
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT INTO events_event")]
    assert len(inserts) == 1
    written = list(Event.objects.filter(shop=shop).order_by("id").values_list("type", flat=True))
    assert written == ["member.joined", "points.posted", "points.posted", "points.posted", "tier.changed"]


@pytest.mark.django_db
def test_sequence_numbers_each_shop_from_one_without_gaps(shop, other_shop):
    _emit(shop, 4)
    _emit(other_shop, 2)
    assert dispatch.sequence(shop_id=shop.pk) == 4
    assert dispatch.sequence(shop_id=other_shop.pk) == 2
    assert dispatch.sequence(shop_id=shop.pk) == 0
    _emit(shop, 3)
    dispatch.sequence(shop_id=shop.pk)
    seqs = list(Event.objects.filter(shop=shop).order_by("id").values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5, 6, 7]
    assert list(Event.objects.filter(shop=other_shop).order_by("seq").values_list("seq", flat=True)) == [1, 2]
    assert Stream.objects.get(shop=shop).head == 7


@pytest.mark.django_db
def test_an_event_committed_late_is_numbered_after_those_already_read(shop, recorder):
    """A transaction that started first (smaller id) but commits after a consumer read on gets a later number, so
    no consumer skips it."""
    early_id = uuid7()
    _emit(shop, 2)
    events_dispatch(shop.pk)
    assert [seq for _s, seq, _t in recorder.seen] == [1, 2]
    with transaction.atomic():  # the late transaction's row, with its early id
        Event.objects.create(id=early_id, shop=shop, type="member.updated", occurred_at=timezone.now())
    events_dispatch(shop.pk)
    assert Event.objects.get(id=early_id).seq == 3
    assert [seq for _s, seq, _t in recorder.seen] == [1, 2, 3]


@pytest.mark.django_db
def test_a_consumer_gets_its_shops_events_in_chunks_and_only_its_types(shop, other_shop):
    tiers = Recorder()
    register_consumer(Consumer("test.tiers", handle=tiers, types=frozenset({EventType.TIER_CHANGED}), chunk=2))
    try:
        _emit(shop, 3, EventType.MEMBER_UPDATED)
        _emit(shop, 2, EventType.TIER_CHANGED)
        _emit(other_shop, 2, EventType.TIER_CHANGED)
        events_dispatch(shop.pk)
        assert tiers.seen == [(shop.pk, 4, "tier.changed"), (shop.pk, 5, "tier.changed")]
        assert Cursor.objects.get(shop=shop, consumer="test.tiers").position == 5
        assert not Cursor.objects.filter(shop=other_shop, consumer="test.tiers").exists()
    finally:
        unregister_consumer("test.tiers")


@pytest.mark.django_db
def test_a_failed_chunk_moves_no_cursor_and_is_read_again(shop, recorder):
    _emit(shop, 5)
    dispatch.sequence(shop_id=shop.pk)
    recorder.fail = True
    with pytest.raises(RuntimeError):
        consumer_feed_chunk(shop=shop, consumer=Consumer("test.recorder", handle=recorder, chunk=3))
    assert not Cursor.objects.filter(shop=shop, position__gt=0).exists()
    events_dispatch(shop.pk)
    assert [seq for _s, seq, _t in recorder.seen] == [1, 2, 3, 1, 2, 3, 4, 5]  # at least once
    assert Cursor.objects.get(shop=shop, consumer="test.recorder").position == 5


@pytest.mark.django_db(transaction=True)
def test_a_commit_nudges_the_dispatcher_and_the_consumer_runs(shop, recorder):
    """With eager tasks (as the embedded defaults run), the consumer has the events once the writer commits."""
    _emit(shop, 2)
    assert [seq for _s, seq, _t in recorder.seen] == [1, 2]
    _emit(shop, 1)
    assert [seq for _s, seq, _t in recorder.seen] == [1, 2, 3]


@pytest.mark.django_db
def test_one_nudge_per_transaction_and_shop(shop, other_shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for _ in range(3):
            emit(shop_id=shop.pk, type=EventType.MEMBER_UPDATED, member_id=None)
        emit(shop_id=other_shop.pk, type=EventType.MEMBER_UPDATED, member_id=None)
    assert sorted(cb.events_shop_id for cb in callbacks) == sorted([shop.pk, other_shop.pk])


@pytest.mark.django_db
def test_the_sweep_dispatches_shops_with_unnumbered_events_or_consumers_behind(shop, other_shop, recorder):
    _emit(shop, 2)  # never nudged: the on-commit callbacks of this test's transaction do not run
    with scopes_disabled():
        assert dispatch.shops_to_dispatch() == {shop.pk}
    assert events_sweep() == 1
    assert [seq for _s, seq, _t in recorder.seen] == [1, 2]
    with scopes_disabled():
        assert dispatch.shops_to_dispatch() == set()
        Cursor.objects.filter(shop=shop).update(position=1)  # as if a chunk had been lost
        assert dispatch.shops_to_dispatch() == {shop.pk}


@pytest.mark.django_db
def test_prune_deletes_events_past_the_retention(shop, other_shop, settings, monkeypatch):
    """Every shop's, a chunk at a time (two chunks of one here), and none within the retention."""
    settings.EVENTS_RETENTION_DAYS = 30
    monkeypatch.setattr(dispatch, "PRUNE_CHUNK", 1)
    with transaction.atomic():
        old = timezone.now() - datetime.timedelta(days=31)
        for i, owner in enumerate((shop, shop, other_shop)):
            at = old - datetime.timedelta(seconds=i)
            Event.objects.create(id=uuid7(at), shop=owner, type="member.updated", occurred_at=at)
        emit(shop_id=shop.pk, type=EventType.MEMBER_UPDATED, member_id=None)
    with scopes_disabled():
        assert dispatch.prune() == 3
        assert list(Event.objects.values_list("shop_id", "type")) == [(shop.pk, EventType.MEMBER_UPDATED)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sequencers_number_each_event_once(shop):
    for _ in range(20):
        _emit(shop, 50)
    Event.objects.filter(shop=shop).update(seq=None)  # the nudges numbered them: start again, all pending
    Stream.objects.filter(shop=shop).update(head=0)
    results = race([in_scope(shop, lambda: dispatch.sequence(shop_id=shop.pk)) for _ in range(4)])
    assert sum(results) == 1000
    seqs = sorted(Event.objects.filter(shop=shop).values_list("seq", flat=True))
    assert seqs == list(range(1, 1001))
