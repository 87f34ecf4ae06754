"""The provider rate bucket (shops.ratelimit): one bucket for every process, through Redis, at the configured
rate plus one second's burst; in process memory without Redis; no bucket at all when the rate is unlimited."""

import multiprocessing
import time
import uuid

import pytest
from django.conf import settings
from django.test import override_settings

from shops import ratelimit
from shops.ratelimit import provider_rate, provider_take, provider_wait

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")


@pytest.fixture(autouse=True)
def _empty_memory_buckets():
    ratelimit.memory_buckets.clear()


def test_an_unlimited_rate_answers_now_without_touching_redis(monkeypatch):
    def refuse():
        raise AssertionError("Redis called")

    monkeypatch.setattr(ratelimit, "_redis_script", refuse)
    with override_settings(REDIS_URL="redis://nowhere.invalid:1/0"):
        assert provider_take("sms", 10_000, rate=0) == 0.0
        assert provider_take("sms", 10_000, rate=-1) == 0.0
        assert provider_wait("sms", 10_000, rate=0) == 0.0


@override_settings(REDIS_URL="")
def test_in_memory_a_quiet_bucket_gives_one_second_at_once_then_the_rate():
    assert provider_take("sms", 200, rate=200) == 0.0
    assert provider_take("sms", 100, rate=200) == pytest.approx(0.5, abs=0.01)
    assert provider_take("sms", 100, rate=200) == pytest.approx(1.0, abs=0.01)
    assert provider_take("push", 500, rate=500) == 0.0  # each channel has its own bucket


@needs_redis
def test_in_redis_a_quiet_bucket_gives_one_second_at_once_then_the_rate():
    channel = f"test-{uuid.uuid4().hex}"
    assert provider_take(channel, 150, rate=200) == 0.0
    assert provider_take(channel, 50, rate=200) == 0.0
    assert provider_take(channel, 100, rate=200) == pytest.approx(0.5, abs=0.05)


def test_the_configured_rates():
    assert (provider_rate("sms"), provider_rate("push")) == (settings.SMS_RATE_LIMIT, settings.PUSH_RATE_LIMIT)


def _send_until(channel: str, deadline: float, start, sent) -> None:
    start.wait()
    count = 0
    while True:
        wait = provider_take(channel, 10, rate=200)
        if time.time() + wait > deadline:
            break
        time.sleep(wait)
        count += 10
    sent.put(count)


@needs_redis
def test_two_processes_share_one_bucket_at_the_rate():
    # given: two processes (separate Redis connections, separate clocks) taking 10 at a time for 3 s at 200/s
    channel = f"test-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("fork")  # forked: the children keep the test settings' key prefix
    start, sent = context.Barrier(3), context.Queue()
    deadline = time.time() + 3.3  # about 3 s once the processes have started
    workers = [context.Process(target=_send_until, args=(channel, deadline, start, sent)) for _ in range(2)]
    for worker in workers:
        worker.start()

    # when
    start.wait()
    began = time.time()
    total = sent.get(timeout=10) + sent.get(timeout=10)
    for worker in workers:
        worker.join(timeout=10)

    # then: the rate over the run plus the first second's burst, within 5%
    elapsed = deadline - began
    expected = 200 * elapsed + 200
    assert abs(total - expected) <= 0.05 * expected, (total, expected)
