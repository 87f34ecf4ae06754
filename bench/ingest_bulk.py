"""Bulk order ingestion at 1,000 orders per batch, on one process.

Scenario: orders.services.orders_record (the service behind POST /api/v1/orders/bulk/) on batches of 1,000 new
orders (1-4 items each; 60% of buyers named by phone, 15% by member id, 10% by a phone that is no member's, 15%
anonymous), into bench/bench_fixtures.ingest_shop (200,000 generated members; the tables also hold bench-big's
million members and five million orders when it was generated). Each batch is one call: validation, buyer
resolution, the orders and items, their points, growth value and tier upgrades, the members' aggregates, in one
transaction.
Baseline: the same rows written with raw SQL, everything computed beforehand (buyers resolved, body hashes, each
order's points, growth value and the lines explaining them by points.rules, expiries): ids from the sequences,
then COPY of the orders, their items, the points entries of the orders that earn, their lots and the growth
entries, and the domain events (order.recorded per order, points.posted per earning order; ids and payloads made
beforehand), one transaction per batch: the floor of any recorder that writes what ours writes. (Not in it: the
members' aggregates and balances, one UPDATE of ours, and the few tier changes of buyers an order moves up.) The
JSON line also gives the baseline of issue 3's first measurement, before orders earned points (COPY of the orders
and items only), as `orders_items_baseline` and its ratio.
Also: the same batches recorded again (a client retrying them: all replays, `replays` in orders/s), and the whole
API path, POST /api/v1/orders/bulk/ with 1,000 orders through Django's test client (key auth, throttle lifted,
JSON parsing, per-order serializers, the service, the response), against the same baseline.

Rounds are interleaved (ours, raw, raw orders and items, API, three times) and each figure is its best round, so
that a busy machine affects them alike.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/ingest_bulk.py [--batches 5] [--api-batches 3] [--rounds 3]
"""

import argparse
import json
import os
import time

from harness import report, setup_django

BATCH = 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=5, help="batches of 1,000 per round (service and raw SQL)")
    parser.add_argument("--api-batches", type=int, default=3, help="batches of 1,000 per round through the API")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    setup_django()
    from bench_fixtures import ingest_buyers, ingest_shop, order_input, order_payloads
    from django.db import connection, transaction
    from django.test import Client, override_settings
    from django.utils import timezone
    from psycopg.types.json import Jsonb

    from events.outbox import uuid7
    from orders.services import orders_record
    from points.rules import ItemFacts, OrderFacts, expiry_for, points_for_order
    from points.selectors import bonus_rules_of, points_program_of
    from shops.errors import ApplicationError
    from shops.services import SYSTEM, apikey_create
    from shops.tenancy import shop_scope

    shop = ingest_shop()
    buyers = ingest_buyers(shop)
    member_by_phone = {phone: pk for pk, phone in buyers}
    with shop_scope(shop):
        _key, secret = apikey_create(shop=shop, actor=SYSTEM, name="bench ingest")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    run = f"{int(time.time()) % 10**8:08d}"

    def batches(kind: str, n: int, r: int) -> list[list[dict]]:
        payloads = order_payloads(buyers, count=n * BATCH, prefix=f"{kind}{run}{r}-", seed=hash((kind, r)) % 1000)
        return [payloads[i : i + BATCH] for i in range(0, len(payloads), BATCH)]

    with connection.cursor() as cursor:
        sequences = {}
        for table in ("orders_order", "points_pointsentry"):
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequences[table] = cursor.fetchone()[0]

    with shop_scope(shop):
        program, rules = points_program_of(shop=shop), bonus_rules_of(shop=shop, active=True)

    def raw_rows(batch: list[dict]) -> tuple[list[tuple], list[list[tuple]], list[tuple | None], list[tuple]]:
        """The rows the baseline writes, prepared outside the timing: per order its row, its items' rows and, for an
        order that earns, (points, growth, details, expiry) of its entries; and the events of the batch."""
        now = timezone.now()
        orders, items, earns, events = [], [], [], []
        for payload in batch:
            data = order_input(payload)
            member = data.member_id or member_by_phone.get(data.phone)
            completed = data.paid_at if data.status == "completed" else None
            facts = OrderFacts(
                data.amount,
                data.paid_at,
                tuple(ItemFacts(i.sku, i.category, i.quantity, i.unit_price) for i in data.items),
            )
            award = points_for_order(program=program, bonus_rules=rules, facts=facts, time_zone=shop.time_zone)
            earns.append(
                (
                    award.points,
                    award.growth,
                    Jsonb(award.as_details()),
                    expiry_for(program=program, time_zone=shop.time_zone, earned_at=data.paid_at),
                )
                if member and data.status in ("paid", "completed")
                else None
            )
            orders.append(
                (
                    shop.pk,
                    data.external_id,
                    member,
                    data.amount,
                    0,
                    data.paid_at,
                    completed,
                    data.status,
                    award.points if earns[-1] else 0,
                    data.body_hash,
                    now,
                )
            )
            items.append([(shop.pk, i.sku, i.name, i.category, i.quantity, i.unit_price) for i in data.items])
            recorded = {
                "order_id": None,
                "external_id": data.external_id,
                "amount": str(data.amount),
                "status": data.status,
                "paid_at": data.paid_at.isoformat(),
            }
            events.append((uuid7(), shop.pk, "order.recorded", member, now, Jsonb(recorded)))
            if earns[-1]:
                posted = {
                    "kind": "earn",
                    "points": award.points,
                    "key": f"order#{data.external_id}",
                    "order_external_id": data.external_id,
                }
                events.append((uuid7(), shop.pk, "points.posted", member, now, Jsonb(posted)))
        return orders, items, earns, events

    def copy_rows(cursor, table: str, columns: str, rows) -> None:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def ids_from(cursor, sequence: str, n: int) -> list[int]:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, n])
        return [row[0] for row in cursor.fetchall()]

    def raw_write(orders: list[tuple], items: list[list[tuple]], earns: list, events: list, *, ledgers: bool) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            pg, now = cursor.cursor, timezone.now()
            ids = ids_from(pg, sequences["orders_order"], len(orders))
            copy_rows(
                pg,
                "orders_order",
                "id, shop_id, external_id, member_id, amount, refunded_amount, paid_at, "
                "completed_at, status, points_earned, body_hash, created_at",
                ((pk, *row) for pk, row in zip(ids, orders, strict=True)),
            )
            copy_rows(
                pg,
                "orders_orderitem",
                "order_id, shop_id, sku, name, category, quantity, unit_price",
                ((pk, *item) for pk, order_items in zip(ids, items, strict=True) for item in order_items),
            )
            if not ledgers:
                return
            earning = [(row, earn) for row, earn in zip(orders, earns, strict=True) if earn]
            entry_ids = ids_from(pg, sequences["points_pointsentry"], len(earning))
            copy_rows(
                pg,
                "points_pointsentry",
                "id, shop_id, member_id, kind, points, reason, order_external_id, "
                "idempotency_key, body_hash, actor, created_at, details",
                (
                    (pk, shop.pk, row[2], "earn", earn[0], "", row[1], f"order#{row[1]}", "", "system", now, earn[2])
                    for pk, (row, earn) in zip(entry_ids, earning, strict=True)
                ),
            )
            copy_rows(
                pg,
                "points_pointslot",
                "shop_id, entry_id, member_id, remaining, earned_at, expires_at",
                (
                    (shop.pk, pk, row[2], earn[0], row[5], earn[3])
                    for pk, (row, earn) in zip(entry_ids, earning, strict=True)
                ),
            )
            copy_rows(
                pg,
                "tiers_growthentry",
                "shop_id, member_id, kind, value, reason, order_external_id, idempotency_key, actor, created_at",
                (
                    (shop.pk, row[2], "earn", earn[1], "", row[1], f"order#{row[1]}", "system", now)
                    for row, earn in earning
                ),
            )
            copy_rows(pg, "events_event", "id, shop_id, type, member_id, occurred_at, payload", events)

    best = {"service": 0.0, "replays": 0.0, "raw": 0.0, "raw_orders_items": 0.0, "api": 0.0}
    outcome = {"created": 0, "replays": 0, "errors": 0}
    rounds = []
    with override_settings(API_THROTTLE_RATE=1e9, API_THROTTLE_BURST=10**9, ALLOWED_HOSTS=["*"]):
        for r in range(args.rounds):
            # Everything a batch needs is built before its timing starts.
            ours = [[order_input(p) for p in batch] for batch in batches("S", args.batches, r)]
            raw = [raw_rows(batch) for batch in batches("R", args.batches, r)]
            raw_orders_items = [raw_rows(batch) for batch in batches("O", args.batches, r)]
            api = [json.dumps({"orders": batch}) for batch in batches("A", args.api_batches, r)]
            timing = {}

            started = time.perf_counter()
            with shop_scope(shop):
                for batch in ours:
                    for result in orders_record(shop=shop, orders=batch):
                        if isinstance(result, ApplicationError):
                            outcome["errors"] += 1
                        elif result.created:
                            outcome["created"] += 1
                        else:
                            outcome["replays"] += 1
            timing["service"] = len(ours) * BATCH / (time.perf_counter() - started)

            started = time.perf_counter()  # the same batches again, as a client retrying them: every order a replay
            with shop_scope(shop):
                for batch in ours:
                    assert not any(getattr(r, "created", True) for r in orders_record(shop=shop, orders=batch))
            timing["replays"] = len(ours) * BATCH / (time.perf_counter() - started)

            started = time.perf_counter()
            for rows in raw:
                raw_write(*rows, ledgers=True)
            timing["raw"] = len(raw) * BATCH / (time.perf_counter() - started)

            started = time.perf_counter()
            for rows in raw_orders_items:
                raw_write(*rows, ledgers=False)
            timing["raw_orders_items"] = len(raw_orders_items) * BATCH / (time.perf_counter() - started)

            started = time.perf_counter()
            for body in api:
                response = client.post("/api/v1/orders/bulk/", data=body, content_type="application/json")
                assert response.status_code == 200, response.content[:500]
                result = response.json()
                assert result["created"] == BATCH, (result["created"], result["errors"][:3])
            timing["api"] = len(api) * BATCH / (time.perf_counter() - started)

            rounds.append({k: round(v) for k, v in timing.items()})
            best = {k: max(best[k], timing[k]) for k in best}

    common = {"batch": BATCH, "rounds": rounds, "load_avg": [round(x, 2) for x in os.getloadavg()]}
    report(
        "orders_bulk_service",
        figure=best["service"],
        baseline=best["raw"],
        unit="orders/s",
        outcome=outcome,
        replays=round(best["replays"], 1),
        orders_items_baseline=round(best["raw_orders_items"], 1),
        orders_items_ratio=round(best["service"] / best["raw_orders_items"], 3),
        batches_per_round=args.batches,
        **common,
    )
    report(
        "orders_bulk_api",
        figure=best["api"],
        baseline=best["raw"],
        unit="orders/s",
        batches_per_round=args.api_batches,
        **common,
    )


if __name__ == "__main__":
    main()
