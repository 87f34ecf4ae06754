"""Granting a coupon template to a segment of a million members, set-based.

Set-up (not timed): in bench-big (bench/generate.py), a segment "bench: every member" (the empty definition: every
live member, active and frozen) saved through members.segments.segment_save, and one coupon template per scenario
made through coupons.services.template_create (amount off, valid 30 days, one per member):

- `coupons_grant_1m`: unlimited stock: every active member of the segment gets one coupon (frozen ones are
  skipped by the service);
- `coupons_grant_1m_stock`: a stock of `--stock` (below the segment's size): exactly that many coupons, to the
  lowest member ids, the rest counted as out of stock.

Ours: coupons.grants.grant_create (dispatch off) and then grant_run_chunk in a loop to the end, as the Celery task
coupons.tasks.grant_run does (chunks of grants.CHUNK members, each one transaction: job lock, the chunk's member
ids, template lock, classification of the chunk, INSERT of the coupons, issued counter). Timed: the chunk loop;
grant_create (which counts the segment) is reported beside it.
Baseline: the same rows (same columns, keys "grant#<job>#<member id>", codes from md5(gen_random_uuid()::text), the
same use window) written by hand as one `INSERT INTO coupons_coupon ... SELECT ... FROM members_member` over the
shop's active members (ORDER BY id LIMIT stock for the stock scenario) and one UPDATE of the template's counter.

After each run (ours and baseline alike) the coupons are checked: their count is the expected one, no member holds
more than the template's per-member limit, and template.issued equals the count; then they are deleted, the table
vacuumed (or truncated when it holds nothing else) and a checkpoint taken, so that each run starts alike. Rounds
alternate which side runs first. Figures: coupons/s of the best round; ratio = ours / baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/coupons_grant.py [--shop bench-big] [--rounds 3] [--stock 600000] [--chunk 10000]
            [--only unlimited|stock] [--profile]

--profile times every statement of our runs by kind (through a database execute wrapper) and prints the split.
"""

import argparse
import os
import sys
import time
from collections import defaultdict
from decimal import Decimal

from harness import report, setup_django

SEGMENT_NAME = "bench: every member"
TEMPLATE_PREFIX = "bench grant"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stock", type=int, default=600_000)
    parser.add_argument("--chunk", type=int, default=0, help="members per chunk (0: coupons.grants.CHUNK)")
    parser.add_argument("--only", choices=("unlimited", "stock"), default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    setup_django()
    import psycopg
    from django.db import connection
    from generate import conninfo

    from coupons import grants
    from coupons.models import CouponTemplate, GrantJob
    from coupons.services import template_create
    from members.models import Segment
    from members.segments import segment_save
    from shops.selectors import shop_by_slug
    from shops.services import SYSTEM
    from shops.tenancy import shop_scope

    chunk = args.chunk or grants.CHUNK
    admin = psycopg.connect(**conninfo(), autocommit=True)
    shop = shop_by_slug(slug=args.shop)
    scope = shop_scope(shop)
    scope.__enter__()

    def value(sql: str, params: list):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    segment = Segment.objects.filter(shop=shop, name=SEGMENT_NAME).first()
    segment = segment_save(shop=shop, actor=SYSTEM, name=SEGMENT_NAME, definition={}, segment=segment)
    active = value("SELECT count(*) FROM members_member WHERE shop_id = %s AND status = 'active'", [shop.pk])
    print(f"segment: {segment.last_count} members, {active} active; chunk {chunk}", file=sys.stderr, flush=True)

    def template_for(kind: str, stock: int | None) -> CouponTemplate:
        name = f"{TEMPLATE_PREFIX} {kind}"
        template = CouponTemplate.objects.filter(shop=shop, name=name).first()
        if template is None:
            template = template_create(
                shop=shop,
                actor=SYSTEM,
                data={
                    "name": name,
                    "kind": "amount_off",
                    "value": Decimal("20"),
                    "min_spend": Decimal("100"),
                    "valid_days": 30,
                    "stock": stock,
                    "per_member_limit": 1,
                },
            )
        CouponTemplate.objects.filter(pk=template.pk).update(stock=stock)
        return template

    def referencing_tables() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND confrelid = 'coupons_coupon'::regclass"
            )
            return sorted(r[0] for r in cursor.fetchall())

    def clean(template: CouponTemplate) -> None:
        """Remove the template's coupons and jobs and reset its counter; vacuum or truncate, then checkpoint."""
        others = value("SELECT count(*) FROM coupons_coupon WHERE template_id <> %s", [template.pk])
        referring = referencing_tables()
        empty = all(not value(f"SELECT EXISTS (SELECT 1 FROM {t})", []) for t in referring)  # noqa: S608
        truncated = False
        if not others and empty:
            try:  # a referring table that is itself referenced stops it: delete then
                admin.execute(f"TRUNCATE {', '.join(['coupons_coupon', *referring])}")
                truncated = True
            except psycopg.errors.FeatureNotSupported:
                pass
        if not truncated:
            admin.execute("DELETE FROM coupons_coupon WHERE template_id = %s", [template.pk])
            admin.execute("VACUUM (ANALYZE) coupons_coupon")
        GrantJob.objects.filter(shop=shop, template=template).delete()
        CouponTemplate.objects.filter(pk=template.pk).update(issued=0)
        admin.execute("VACUUM (ANALYZE) coupons_coupontemplate")
        admin.execute("CHECKPOINT")

    def verify(template: CouponTemplate, expected: int) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(n), 0), coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM coupons_coupon "
                "WHERE shop_id = %s AND template_id = %s GROUP BY member_id) AS held",
                [shop.pk, template.pk],
            )
            count, most = map(int, cursor.fetchone())
        template.refresh_from_db()
        checks = {
            "coupons": count or 0,
            "expected": expected,
            "max_per_member": most or 0,
            "limit": template.per_member_limit,
            "template_issued": template.issued,
        }
        checks["ok"] = (
            checks["coupons"] == expected
            and checks["max_per_member"] <= template.per_member_limit
            and template.issued == checks["coupons"]
        )
        if not checks["ok"]:
            print(f"CHECK FAILED: {checks}", file=sys.stderr, flush=True)
        return checks

    split: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    profiled = [0.0]  # seconds of the profiled chunk loops

    def statement_kind(sql: str) -> str:
        s = " ".join(sql.split())
        if s.startswith(("INSERT INTO coupons_coupon", "WITH chosen")):
            return "insert coupons"
        if s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            return "savepoints"
        if "FOR UPDATE" in s:
            return "lock " + s.split(" FROM ", 1)[1].split()[0].strip('"')
        if s.startswith('SELECT "members_member"."id" AS "pk", "members_member"."status"'):
            return "classify chunk"
        if s.startswith('SELECT "members_member"."id" AS "pk" FROM'):
            return "chunk member ids"
        if s.startswith(("UPDATE", "SELECT")):
            verb = s.split()[0]
            table = s.split(" FROM " if verb == "SELECT" else " ", 2)[1].split()[0].strip('"')
            return f"{verb.lower()} {table}"
        return s[:40]

    def profiler(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = split[statement_kind(sql)]
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    def ours(template: CouponTemplate, key: str) -> tuple[float, float, GrantJob]:
        t0 = time.perf_counter()
        job = grants.grant_create(
            shop=shop, actor=SYSTEM, template=template, segment=segment, idempotency_key=key, dispatch=False
        )
        t1 = time.perf_counter()
        if args.profile:
            commit = connection.commit

            def timed_commit() -> None:  # the deferred foreign-key checks run here
                started = time.perf_counter()
                try:
                    commit()
                finally:
                    split["commit"][0] += time.perf_counter() - started
                    split["commit"][1] += 1

            connection.commit = timed_commit
            try:
                with connection.execute_wrapper(profiler):
                    while not grants.grant_run_chunk(shop=shop, job=job, chunk=chunk):
                        pass
            finally:
                del connection.commit
            profiled[0] += time.perf_counter() - t1
        else:
            while not grants.grant_run_chunk(shop=shop, job=job, chunk=chunk):
                pass
        t2 = time.perf_counter()
        job.refresh_from_db()
        return t2 - t1, t1 - t0, job

    def baseline(template: CouponTemplate, stock: int | None, key: str) -> float:
        from django.utils import timezone

        from coupons.issuance import use_window

        now = timezone.now()
        valid_from, valid_until = use_window(template, issued_at=now, time_zone=shop.time_zone)
        job = GrantJob.objects.create(shop=shop, template=template, segment=segment, idempotency_key=key)
        started = time.perf_counter()
        with admin.transaction():
            inserted = admin.execute(
                "INSERT INTO coupons_coupon (shop_id, template_id, member_id, code, status, source, issued_at, "
                "valid_from, valid_until, idempotency_key) "
                "SELECT m.shop_id, %s, m.id, upper(substr(md5(gen_random_uuid()::text), 1, 16)), 'available', "
                "'segment_grant', %s, %s, %s, %s || m.id::text FROM members_member m "
                "WHERE m.shop_id = %s AND m.status = 'active' ORDER BY m.id LIMIT %s",
                [template.pk, now, valid_from, valid_until, f"grant#{job.pk}#", shop.pk, stock],
            ).rowcount
            admin.execute(
                "UPDATE coupons_coupontemplate SET issued = issued + %s WHERE id = %s", [inserted, template.pk]
            )
        return time.perf_counter() - started

    scenarios = [("unlimited", None), ("stock", args.stock)]
    if args.only:
        scenarios = [s for s in scenarios if s[0] == args.only]
    run_id = int(time.time())
    for kind, stock in scenarios:
        template = template_for(kind, stock)
        expected = min(active, stock) if stock is not None else active
        clean(template)
        best = {"ours": None, "baseline": None}
        for r in range(args.rounds):
            order = ("ours", "baseline") if r % 2 == 0 else ("baseline", "ours")
            for side in order:
                load = os.getloadavg()
                key = f"bench-{kind}-{run_id}-{r}-{side}"
                extra = {}
                if side == "ours":
                    elapsed, create_s, job = ours(template, key)
                    extra = {
                        "create_s": round(create_s, 2),
                        "job_issued": job.issued,
                        "skipped_stock": job.skipped_stock,
                        "skipped_inactive_or_audience": job.skipped_audience,
                        "members_done": job.members_done,
                    }
                else:
                    elapsed = baseline(template, stock, key)
                checks = verify(template, expected)
                line = {
                    "round": r,
                    "side": side,
                    "seconds": round(elapsed, 2),
                    "coupons_per_s": round(checks["coupons"] / elapsed),
                    "load_avg_before": load,
                    "load_avg_after": os.getloadavg(),
                    **checks,
                    **extra,
                }
                print(line, file=sys.stderr, flush=True)
                if checks["ok"] and (best[side] is None or elapsed < best[side]["seconds"]):
                    best[side] = line
                clean(template)
        if args.profile and split:
            total = profiled[0]
            split["python, driver and the rest"] = [total - sum(v[0] for v in split.values()), 0]
            print("statement split of our runs (seconds, calls, share):", file=sys.stderr)
            for name, (seconds, calls) in sorted(split.items(), key=lambda kv: -kv[1][0]):
                print(f"  {name:32} {seconds:8.2f} s {calls:6d} {seconds / total:6.1%}", file=sys.stderr)
            split.clear()
            profiled[0] = 0.0
        ours_best, base_best = best["ours"], best["baseline"]
        if ours_best is None or base_best is None:
            print(f"{kind}: no verified run", file=sys.stderr)
            continue
        report(
            "coupons_grant_1m" if stock is None else "coupons_grant_1m_stock",
            figure=ours_best["coupons_per_s"],
            baseline=base_best["coupons_per_s"],
            unit="coupons/s",
            coupons=ours_best["coupons"],
            segment_members=segment.last_count,
            stock=stock,
            seconds=ours_best["seconds"],
            baseline_seconds=base_best["seconds"],
            create_s=ours_best["create_s"],
            chunk=chunk,
            rounds=args.rounds,
            load_avg=[round(x, 2) for x in ours_best["load_avg_before"]],
            baseline_load_avg=[round(x, 2) for x in base_best["load_avg_before"]],
        )
    scope.__exit__(None, None, None)


if __name__ == "__main__":
    main()
