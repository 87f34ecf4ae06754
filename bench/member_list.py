"""The member list at a million members, as the dashboard runs it.

Scenario, per filter: members.selectors.member_page (members.filters.member_filter + the "-last_order_at" sort,
keyset pages of 50) for the first page, the next page and a deep page (anchored about 20,000 rows in), and the
count preview members.selectors.member_count (the filter's .count(), uncached, as the segment preview runs it), on
the bench-big shop of bench/generate.py. Filters: none, a tag (VIP候选, 20% of members), spend_12m_min, a region
prefix, a birthday month, a combination of them, and two tiers (VIP会员, and the joining tier: members without a
higher one), after a full tier evaluation (the generator assigns no tiers) in a transaction rolled back at the end.
Baseline: the same queries written by hand in raw SQL (row-value keyset condition, EXISTS for the tag), run in
the same process. Figures are the 95th percentile over `--runs` runs (after two warm-up runs), in ms; for these
the ratio (ours / baseline) above 1 means slower than the hand-written SQL.

Targets: page p95 < 200 ms, count p95 < 500 ms. With --explain, the plans (EXPLAIN ANALYZE, BUFFERS) of the
queries of every case that misses a target go to stderr.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/member_list.py [--shop bench-big] [--runs 20] [--explain]
"""

import argparse
import os
import statistics
import sys
import time

from harness import report, setup_django

PAGE_TARGET_MS = 200
COUNT_TARGET_MS = 500
DEEP_ROWS = 20_000


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def timed(work, runs: int) -> list[float]:
    for _ in range(2):
        work()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args()

    setup_django()
    from django.db import connection, transaction
    from django.utils import timezone

    from members.models import Member, Tag
    from members.selectors import member_count, member_page
    from shops.selectors import shop_by_slug
    from shops.tenancy import shop_scope
    from tiers.evaluation import tiers_evaluate
    from tiers.models import EvaluationMode, Tier

    shop = shop_by_slug(slug=args.shop)
    with shop_scope(shop):
        vip = Tag.objects.get(shop=shop, name="VIP候选").pk
        size = Member.objects.filter(shop=shop).count()
    month = timezone.localtime().month
    columns = ", ".join(f"m.{f.column}" for f in Member._meta.concrete_fields)

    # name: (definition, hand-written condition, its parameters)
    tag_sql = "EXISTS (SELECT 1 FROM members_membertag t WHERE t.shop_id = m.shop_id AND t.member_id = m.id AND t.tag_id = %s)"  # noqa: E501
    cases = {
        "none": ({}, "true", []),
        "tag": ({"tags_any": [vip]}, tag_sql, [vip]),
        "spend_12m_min": ({"spend_12m_min": "2000"}, "m.spend_12m >= 2000", []),
        "region": ({"regions": ["广东"]}, "m.region LIKE %s", ["广东%"]),
        "birthday_month": ({"birthday_month": [month]}, "m.birthday_month = %s", [month]),
        "combination": (
            {"tags_any": [vip], "spend_12m_min": "500", "regions": ["广东"], "genders": ["female"]},
            f"{tag_sql} AND m.spend_12m >= 500 AND m.region LIKE %s AND m.gender = 'female'",
            [vip, "广东%"],
        ),
    }
    with shop_scope(shop):
        vip_tier, base_tier = (Tier.objects.get(shop=shop, name=name).pk for name in ("VIP会员", "普通会员"))
    tier_cases = {
        "tier_vip": ({"tiers": [vip_tier]}, "m.tier_id = %s", [vip_tier]),
        "tier_joining": ({"tiers": [base_tier]}, "m.tier_id IS NULL", []),
    }
    if args.only:
        cases = {k: v for k, v in cases.items() if k in args.only.split(",")}
        tier_cases = {k: v for k, v in tier_cases.items() if k in args.only.split(",")}

    def raw(sql: str, params: list) -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    base = "FROM members_member m WHERE m.shop_id = %s AND m.status IN ('active', 'frozen') AND "

    def run(name: str, definition: dict, condition: str, cparams: list) -> None:
        where, params = base + condition, [shop.pk, *cparams]

        def raw_page(after: tuple | None = None, where=where, params=params) -> list:
            """Members who ordered, newest last order first; then (if the page is not full) those who never did."""
            keyset = " AND (m.last_order_at, m.id) < (%s, %s)" if after else ""
            rows = raw(
                f"SELECT {columns} {where} AND m.last_order_at IS NOT NULL{keyset} "  # noqa: S608
                "ORDER BY m.last_order_at DESC, m.id DESC LIMIT 51",
                [*params, *(after or ())],
            )
            if len(rows) < 51:
                rows += raw(
                    f"SELECT {columns} {where} AND m.last_order_at IS NULL ORDER BY m.id DESC LIMIT %s",  # noqa: S608
                    [*params, 51 - len(rows)],
                )
            return rows

        # Anchors for the next and the deep page (outside the timing).
        anchor = raw(
            f"SELECT m.id, m.last_order_at {where} AND m.last_order_at IS NOT NULL "  # noqa: S608
            "ORDER BY m.last_order_at DESC, m.id DESC OFFSET %s LIMIT 1",
            [*params, DEEP_ROWS],
        )
        with shop_scope(shop):
            first = member_page(shop=shop, definition=definition, sort="-last_order_at", limit=50)
            second_after = first.next_after
            deep_after = anchor[0][0] if anchor else second_after
            second_anchor = raw("SELECT id, last_order_at FROM members_member WHERE id = %s", [second_after])[0]
            deep_anchor = anchor[0] if anchor else second_anchor
            ours = {
                "page": timed(
                    lambda d=definition: member_page(shop=shop, definition=d, sort="-last_order_at"), args.runs
                ),
                "next": timed(
                    lambda d=definition, a=second_after: member_page(
                        shop=shop, definition=d, sort="-last_order_at", after=a
                    ),
                    args.runs,
                ),
                "deep": timed(
                    lambda d=definition, a=deep_after: member_page(
                        shop=shop, definition=d, sort="-last_order_at", after=a
                    ),
                    args.runs,
                ),
                "count": timed(lambda d=definition: member_count(shop=shop, definition=d), args.runs),
            }
            count = member_count(shop=shop, definition=definition)
        hand = {
            "page": timed(raw_page, args.runs),
            "next": timed(lambda a=(second_anchor[1], second_anchor[0]): raw_page(a), args.runs),
            "deep": timed(lambda a=(deep_anchor[1], deep_anchor[0]): raw_page(a), args.runs),
            "count": timed(lambda w=where, p=params: raw(f"SELECT count(*) {w}", p), args.runs),  # noqa: S608
        }
        assert raw(f"SELECT count(*) {where}", params)[0][0] == count  # noqa: S608 - same semantics as ours
        figures = {k: round(p95(v), 1) for k, v in ours.items()}
        baselines = {k: round(p95(v), 1) for k, v in hand.items()}
        page_worst = max(figures["page"], figures["next"], figures["deep"])
        met = {"page": page_worst < PAGE_TARGET_MS, "count": figures["count"] < COUNT_TARGET_MS}
        report(
            f"member_list_{name}",
            figure=figures["page"],
            baseline=baselines["page"],
            unit="ms p95 (first page)",
            p95_ms=figures,
            baseline_p95_ms=baselines,
            median_ms={k: round(statistics.median(v), 1) for k, v in ours.items()},
            matches=count,
            members=size,
            targets_met=met,
            definition=definition,
            runs=args.runs,
            load_avg=[round(x, 2) for x in os.getloadavg()],
        )
        if args.explain and not all(met.values()):
            explain(shop, definition, second_after, deep_after, missed=[k for k, v in met.items() if not v])

    for name, case in cases.items():
        run(name, *case)
    if not tier_cases:
        return
    # bench-big's members hold no tier as generated: a full evaluation gives them the default ladder's tiers, in a
    # transaction rolled back at the end, so the tier filters are timed right after it (before any vacuum).
    with transaction.atomic():
        with shop_scope(shop):
            if not Member.objects.filter(shop=shop, tier__isnull=False).exists():
                tiers_evaluate(shop=shop, mode=EvaluationMode.FULL)
        for name, case in tier_cases.items():
            run(name, *case)
        transaction.set_rollback(True)


def explain(shop, definition: dict, second_after: int, deep_after: int, *, missed: list[str]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the SQL our code sends for the missed figure (page: all three pages)."""
    from django.db import connection

    from members.selectors import member_count, member_page
    from shops.tenancy import shop_scope

    captured: list[tuple[str, tuple]] = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with shop_scope(shop), connection.execute_wrapper(capture):
        if "page" in missed:
            for after in (None, second_after, deep_after):
                member_page(shop=shop, definition=definition, sort="-last_order_at", after=after)
        if "count" in missed:
            member_count(shop=shop, definition=definition)
    with connection.cursor() as cursor:
        for sql, params in captured:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"--- {definition}\n{connection.ops.compose_sql(sql, params)[:700]}\n{plan}\n", file=sys.stderr)


if __name__ == "__main__":
    main()
