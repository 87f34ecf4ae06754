"""Automations (SPEC 13) at a million members: the daily pass, replenishment predictions, and the lag from an order's
commit to its order-care message queued, with a real worker.

Scenario `automations_daily_1m` (on --source, a 1M-member shop of bench/generate.py): the birthday, points-expiring
and coupon-expiring automations switched on (3 days ahead), after a set-up that is not timed: half the members get
a points lot expiring in 3 days (a yearly expiry's worst night), a tenth a coupon expiring then; birthdays are the
generator's. Timed: automations.daily.daily_day_run (the three triggers' members entered as journeys, set-based),
then, for information, the message steps of the birthday and coupon journeys (automation_advance: the
qualifying check, classification and one message row each). Baseline: raw SQL
selecting the same members of the three triggers into a temporary table. Target: the pass under 60 s and within 2x.
Afterwards everything the scenario wrote is deleted.

Scenario `automations_replenishment`: automations.replenishment.replenishment_refresh over the shop's orders
(5M in bench/generate.py's set), against a hand-written query computing the same per-member medians with
PostgreSQL's percentile_cont into a temporary table. Target: under 2 minutes.

Scenario `automations_event_lag` (needs CELERY_BROKER_URL): a real worker (prefork, 2 processes) and this process
recording orders of a small shop of its own with the order-received automation on, `--rate` a second for
`--seconds`: the time from each order's commit to its message row queued (p50, p95; target p95 < 5 s), beside the
baseline of a bare Celery task's trip from publish to start, sent at the same pace (bench/automations_worker).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench_a REDIS_URL=redis://127.0.0.1:6379/14 \\
        CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/automations.py \\
        [--only daily,replenishment,lag]
"""

import argparse
import datetime
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from harness import report, setup_django

ROOT = Path(__file__).resolve().parent.parent
LAG_SLUG = "bench-automations"


def lap(name: str, started: float) -> float:
    now = time.perf_counter()
    print(f"{name}: {now - started:.1f} s", file=sys.stderr, flush=True)
    return now


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def daily(shop) -> None:
    """The daily pass's scenario: set-up, timing, and the clean-up of everything it wrote, whatever happens."""
    from django.db import transaction

    from automations.models import Automation
    from shops.time import local_today

    keys = ("birthday", "points_expiring", "coupons_expiring")
    automations = list(Automation.objects.filter(shop=shop, key__in=keys))

    ids = [a.pk for a in automations]

    def clean() -> None:
        """Raw deletes, without the foreign-key triggers (the bench's own rows, nothing refers to them): the ORM's
        delete() collects every row in Python, and each deleted coupon's checks scan the unindexed references."""
        with transaction.atomic():
            _sql("SET LOCAL session_replication_role = replica", [])
            _clean_rows()

    def _clean_rows() -> None:
        for table, where, params in (
            ("campaigns_message", "campaign_id IN (SELECT campaign_id FROM automations_step WHERE shop_id = %s "
             "AND automation_id = ANY(%s))", [shop.pk, ids]),
            ("automations_journey", "automation_id = ANY(%s)", [ids]),
            ("campaigns_contactcount", "true", []),
            ("automations_dailyrun", "true", []),
            ("coupons_coupon", "idempotency_key LIKE 'bench:auto:%%'", []),
            ("points_pointslot", "entry_id IN (SELECT id FROM points_pointsentry WHERE shop_id = %s "
             "AND idempotency_key LIKE 'bench:auto:%%')", [shop.pk]),
            ("points_pointsentry", "idempotency_key LIKE 'bench:auto:%%'", []),
        ):  # fmt: skip
            _sql(f"DELETE FROM {table} WHERE shop_id = %s AND {where}", [shop.pk, *params])  # noqa: S608

    clean()
    Automation.objects.filter(pk__in=[a.pk for a in automations]).update(enabled=True, days=3, holdout_percent=5)
    try:
        _daily_set_up(shop, local_today(shop) + datetime.timedelta(days=3))
        _daily_timed(shop, automations, local_today(shop))
    finally:
        clean()
        Automation.objects.filter(pk__in=[a.pk for a in automations]).update(enabled=False)


def _sql(statement: str, params: list) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _daily_set_up(shop, target: datetime.date) -> None:
    """Half the members with a points lot expiring on `target`, a tenth with a coupon expiring then."""
    from django.db import transaction
    from django.db.models.functions import Mod

    from coupons.issuance import coupons_issue_bulk
    from coupons.models import Coupon, CouponTemplate, Source
    from coupons.services import template_create
    from members.models import Member
    from shops.services import SYSTEM
    from shops.time import day_bounds

    started = time.perf_counter()
    start, _end = day_bounds(shop, target)
    expiry = start + datetime.timedelta(hours=12)
    with transaction.atomic():
        _sql(
            "INSERT INTO points_pointsentry (shop_id, member_id, kind, points, reason, order_external_id, "
            "idempotency_key, body_hash, actor, created_at, details) SELECT shop_id, id, 'earn', 100, '', '', "
            "'bench:auto:' || id::text, md5(id::text), 'system', %s, '{}' FROM members_member "
            "WHERE shop_id = %s AND id %% 2 = 0",
            [start - datetime.timedelta(days=365), shop.pk],
        )
        _sql(
            "INSERT INTO points_pointslot (shop_id, entry_id, member_id, remaining, earned_at, expires_at) "
            "SELECT shop_id, id, member_id, 100, created_at, %s FROM points_pointsentry "
            "WHERE shop_id = %s AND idempotency_key LIKE 'bench:auto:%%'",
            [expiry, shop.pk],
        )
    template = CouponTemplate.objects.filter(shop=shop, name="Bench automations").first() or template_create(
        shop=shop,
        actor=SYSTEM,
        data={"name": "Bench automations", "kind": "amount_off", "value": Decimal("20"), "min_spend": Decimal("100"),
              "valid_days": 30},
    )  # fmt: skip
    tenth = Member.objects.filter(shop=shop).annotate(r=Mod("pk", 10)).filter(r=0)
    member_ids = list(tenth.order_by("pk").values_list("pk", flat=True))
    for chunk in range(0, len(member_ids), 10_000):
        with transaction.atomic():
            coupons_issue_bulk(
                shop=shop,
                template=template,
                member_ids=member_ids[chunk : chunk + 10_000],
                key_prefix="bench:auto:",
                source=Source.GRANT,
            )
    Coupon.objects.filter(shop=shop, idempotency_key__startswith="bench:auto:").update(valid_until=expiry)
    for table in ("points_pointslot", "coupons_coupon"):
        _sql(f"ANALYZE {table}", [])  # noqa: S608 - our table names
    lap("set-up", started)


def _daily_timed(shop, automations, today: datetime.date) -> None:
    from django.db import transaction

    from automations.daily import daily_day_run
    from automations.steps import automation_advance
    from shops.time import day_bounds

    target = today + datetime.timedelta(days=3)
    start, end = day_bounds(shop, target)
    timed = time.perf_counter()
    entered = daily_day_run(shop=shop, day=today)
    ours = time.perf_counter() - timed
    # The message steps of the smaller triggers (birthdays, coupons): the points' half million would take minutes.
    timed = time.perf_counter()
    steps = sum(automation_advance(shop=shop, automation=a) for a in automations if a.key != "points_expiring")
    messages = time.perf_counter() - timed
    birthdays = (
        f"(m.birthday_month = {target.month} AND m.birthday_day = {target.day})"
        if (target.month, target.day) != (2, 28)
        else "(m.birthday_month = 2 AND m.birthday_day IN (28, 29))"
    )
    # The baselines, in one transaction rolled back: the same members selected by hand into a temporary table, then
    # the same journeys written from it by one INSERT ... SELECT (no holdout, re-entry, detail or conflict rules).
    with transaction.atomic():
        timed = time.perf_counter()
        selected = _sql(
            "CREATE TEMP TABLE bench_selected ON COMMIT DROP AS "  # noqa: S608 - our SQL
            f"SELECT m.id FROM members_member m WHERE m.shop_id = %s AND m.status = 'active' AND {birthdays} "
            "UNION ALL SELECT m.id FROM members_member m WHERE m.shop_id = %s AND m.status = 'active' AND EXISTS "
            "(SELECT 1 FROM points_pointslot l WHERE l.shop_id = m.shop_id AND l.member_id = m.id "
            "AND l.remaining > 0 AND l.expires_at >= %s AND l.expires_at < %s) "
            "UNION ALL SELECT DISTINCT c.member_id FROM coupons_coupon c JOIN members_member m "
            "ON m.shop_id = c.shop_id AND m.id = c.member_id WHERE c.shop_id = %s AND m.status = 'active' "
            "AND c.status = 'available' AND c.valid_until >= %s AND c.valid_until < %s",
            [shop.pk, shop.pk, start, end, shop.pk, start, end],
        )
        baseline = time.perf_counter() - timed
        timed = time.perf_counter()
        _sql(
            "INSERT INTO automations_journey (shop_id, automation_id, member_id, occurrence, subject, status, "
            "position, due_at, entered_at, detail) SELECT %s, %s, s.id, 'bench', '', 'done', 0, now(), now(), '{}' "
            "FROM bench_selected s ON CONFLICT DO NOTHING",
            [shop.pk, automations[0].pk],
        )
        written = time.perf_counter() - timed
        transaction.set_rollback(True)
    report(
        "automations_daily_1m",
        figure=ours,
        baseline=baseline,
        unit="s",
        journeys=sum(entered.values()),
        members_selected_by_baseline=selected,
        raw_insert_s=round(baseline + written, 1),
        message_steps_s=round(messages, 1),
        message_steps_run=steps,
    )


def replenishment(source) -> None:
    from django.db import connection, transaction

    from automations.replenishment import SHRINK, replenishment_refresh
    from shops.time import local_today

    shop = source
    today = local_today(shop)
    timed = time.perf_counter()
    rows = replenishment_refresh(shop=shop, today=today)
    ours = time.perf_counter() - timed
    zone = shop.time_zone
    timed = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_replenish ON COMMIT DROP AS "
            "WITH days AS (SELECT DISTINCT o.member_id, i.category, (o.paid_at AT TIME ZONE %s)::date AS day "
            "FROM orders_orderitem i JOIN orders_order o ON o.shop_id = i.shop_id AND o.id = i.order_id "
            "WHERE i.shop_id = %s AND o.member_id IS NOT NULL AND i.category <> '' "
            "AND o.status IN ('paid', 'shipped', 'delivered', 'completed', 'partially_refunded') "
            "AND o.paid_at >= %s), "
            "gaps AS (SELECT member_id, category, day, day - lag(day) OVER (PARTITION BY member_id, category "
            "ORDER BY day) AS gap FROM days), "
            "mm AS (SELECT member_id, category, percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median, "
            "count(*) AS n, max(day) AS last_on FROM gaps WHERE gap IS NOT NULL GROUP BY member_id, category), "
            "cm AS (SELECT category, percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median FROM gaps "
            "WHERE gap IS NOT NULL GROUP BY category) "
            f"SELECT mm.member_id, mm.category, mm.last_on, round((mm.n * mm.median + {SHRINK} * cm.median) "
            f"/ (mm.n + {SHRINK})) AS gap_days FROM mm JOIN cm USING (category)",
            [zone, shop.pk, datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=730)],
        )
        baseline_rows = cursor.rowcount
    baseline = time.perf_counter() - timed
    report(
        "automations_replenishment",
        figure=ours,
        baseline=baseline,
        unit="s",
        predictions=rows,
        baseline_rows=baseline_rows,
    )


def lag(args) -> None:
    import redis
    from celery import Celery
    from django.db import transaction

    from automations.models import Automation, Step
    from campaigns.models import Message
    from config.celery import app
    from members.services import Enrolment, member_enroll
    from orders.models import Order
    from orders.services import OrderInput, order_record
    from shops.models import Shop
    from shops.services import shop_create, user_ensure
    from shops.tenancy import all_shops, shop_scope

    with all_shops():
        shop = Shop.objects.filter(slug=LAG_SLUG).first()
    if shop is None:
        shop = shop_create(name="Bench automations", slug=LAG_SLUG, owner=user_ensure(email=f"{LAG_SLUG}@example.com"))
    broker_url = os.environ["CELERY_BROKER_URL"]
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "BENCH_QUEUE": queue, "BENCH_REDIS_URL": broker_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench.automations_worker", "worker", "--concurrency=2", "-l", "WARNING",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    store = redis.Redis.from_url(broker_url)
    store.delete("bench:automations_hop")
    sender = Celery(broker=broker_url, set_as_current=False)
    try:
        with shop_scope(shop):
            received = Automation.objects.get(shop=shop, key="order_recorded")
            Automation.objects.filter(pk=received.pk).update(enabled=True, holdout_percent=0)
            campaign = Step.objects.get(shop=shop, automation=received, kind="message").campaign_id
            members = [
                member_enroll(shop=shop, data=Enrolment(phone=f"1390000{n:04d}"))[0] for n in range(args.members)
            ]
            time.sleep(5)  # the worker starts
            app.conf.task_default_queue = queue
            started, sent = time.perf_counter(), 0
            while time.perf_counter() - started < args.seconds:
                member = members[sent % len(members)]
                with transaction.atomic():
                    order_record(
                        shop=shop,
                        data=OrderInput(
                            external_id=f"L-{queue}-{sent}",
                            member_id=member.pk,
                            amount=Decimal("10.00"),
                            paid_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1),
                        ),
                    )
                sender.send_task("bench.automations_hop", args=[time.time()], queue=queue)
                sent += 1
                time.sleep(max(0.0, started + sent / args.rate - time.perf_counter()))
            deadline = time.monotonic() + 60
            orders = Order.objects.filter(shop=shop, external_id__startswith=f"L-{queue}-")
            while time.monotonic() < deadline:
                done = Message.objects.filter(shop=shop, campaign_id=campaign, occurrence__in=[
                    f"{pk}#recorded" for pk in orders.values_list("pk", flat=True)
                ]).count()  # fmt: skip
                if done >= sent:
                    break
                time.sleep(0.5)
            created = dict(orders.values_list("pk", "created_at"))
            lags = [
                (queued - created[int(occurrence.split("#")[0])]).total_seconds()
                for occurrence, queued in Message.objects.filter(shop=shop, campaign_id=campaign)
                .filter(occurrence__in=[f"{pk}#recorded" for pk in created])
                .values_list("occurrence", "due_at")
            ]
            hops = [float(v) for v in store.lrange("bench:automations_hop", 0, -1)]
            report(
                "automations_event_lag",
                figure=percentile(lags, 0.95) if lags else float("nan"),
                baseline=percentile(hops, 0.95) if hops else float("nan"),
                unit="s (p95)",
                p50=round(percentile(lags, 0.5), 2) if lags else None,
                orders=sent,
                queued=len(lags),
                rate=args.rate,
            )
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="bench-big")
    parser.add_argument("--only", default="daily,replenishment,lag")
    parser.add_argument("--rate", type=float, default=20.0, help="orders per second in the lag scenario")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args()
    setup_django()
    from shops.selectors import shop_by_slug
    from shops.tenancy import shop_scope

    only = set(args.only.split(","))
    source = shop_by_slug(slug=args.source)
    with shop_scope(source):
        if "daily" in only:
            daily(source)
        if "replenishment" in only:
            replenishment(source)
    if "lag" in only:
        lag(args)


if __name__ == "__main__":
    main()
