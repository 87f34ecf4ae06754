"""Data for the benchmarks, made through the services like production data. (The members issue adds the bulk
generator that loads a million members with COPY.)"""

from django.core.management import call_command

from shops.models import Shop
from shops.selectors import shop_by_slug
from shops.services import SYSTEM, apikey_create, shop_create, user_ensure
from shops.tenancy import shop_scope


def bench_shop_with_key() -> tuple[Shop, str]:
    call_command("migrate", verbosity=0)
    try:
        shop = shop_by_slug(slug="bench")
    except Shop.DoesNotExist:
        shop = shop_create(name="Bench", slug="bench", owner=user_ensure(email="bench@example.com"))
    with shop_scope(shop):
        _api_key, secret = apikey_create(shop=shop, actor=SYSTEM, name="bench")
    return shop, secret


INGEST_SLUG = "bench-ingest"


def ingest_shop(*, members: int = 200_000, orders: int = 1_000_000, seed: int = 2) -> Shop:
    """The shop the ingestion benchmarks write orders into: an established shop of `members` members and `orders`
    orders of history (bench/generate.py, made once), with the tiers their figures earn, so that its statistics and
    indexes are those of a shop in use. Each call removes the orders the benchmarks added (their external ids have
    a "-", generated ones never) with their ledger rows, recomputes the figures and balances of the members who had
    them and gives them back their tiers, so each run starts from the same state. (bench-big stays untouched for
    the list benchmark; the indexes written into are the tables' own, with every shop's rows.)"""
    import psycopg
    from generate import conninfo, generate, session

    call_command("migrate", verbosity=0)
    try:
        shop = shop_by_slug(slug=INGEST_SLUG)
    except Shop.DoesNotExist:
        shop = None
    with psycopg.connect(**conninfo(), autocommit=True) as conn:
        session(conn)
        have = (
            conn.execute(
                "SELECT (SELECT count(*) FROM members_member WHERE shop_id = %s), "
                "(SELECT count(*) FROM orders_order WHERE shop_id = %s AND external_id NOT LIKE '%%-%%')",
                [shop.pk, shop.pk],
            ).fetchone()
            if shop
            else None
        )
        settled = conn.execute("SELECT to_regclass('bench_ingest_tiers')").fetchone()[0] is not None
        if have != (members, orders):
            generate(slug=INGEST_SLUG, members=members, orders=orders, seed=seed)
            shop, settled = shop_by_slug(slug=INGEST_SLUG), False
        else:
            _ingest_reset(conn, shop, tiers=settled)
        if not settled:
            _tiers_settle(conn, shop)
    return shop


def _ingest_reset(conn, shop: Shop, *, tiers: bool) -> None:
    with conn.transaction():
        touched = conn.execute(
            """WITH gone AS (DELETE FROM orders_order WHERE shop_id = %s AND external_id LIKE '%%-%%'
                             RETURNING id, member_id),
                    items AS (DELETE FROM orders_orderitem WHERE order_id IN (SELECT id FROM gone))
               SELECT DISTINCT member_id FROM gone WHERE member_id IS NOT NULL""",
            [shop.pk],
        ).fetchall()
        touched = [r[0] for r in touched]
        # Those orders' ledger rows (the generator writes none; the raw baseline writes some without balances).
        conn.execute(
            """DELETE FROM points_pointslot AS l USING points_pointsentry AS e
               WHERE l.entry_id = e.id AND e.shop_id = %s AND e.order_external_id LIKE '%%-%%'""",
            [shop.pk],
        )
        # The events those runs wrote (the generator writes none), and the stream and cursors that counted them.
        for table in ("events_event", "events_cursor", "events_stream"):
            conn.execute(f"DELETE FROM {table} WHERE shop_id = %s", [shop.pk])  # noqa: S608 - names from code
        for table in ("points_pointsentry", "tiers_growthentry"):
            ledger = conn.execute(
                f"DELETE FROM {table} WHERE shop_id = %s AND order_external_id LIKE '%%-%%' RETURNING member_id",
                [shop.pk],
            )
            touched = sorted(set(touched).union(r[0] for r in ledger.fetchall()))
        # The members' figures again from their remaining orders, as generate.py computes them, and their balances
        # from their remaining ledger entries.
        conn.execute(
            """UPDATE members_member AS m SET lifetime_spend = coalesce(a.spend, 0),
                   order_count = coalesce(a.cnt, 0), first_order_at = a.first_at, last_order_at = a.last_at,
                   spend_12m = coalesce(a.spend_12m, 0), orders_12m = coalesce(a.cnt_12m, 0),
                   points_balance = (SELECT coalesce(sum(e.points), 0) FROM points_pointsentry e
                                     WHERE e.shop_id = m.shop_id AND e.member_id = m.id),
                   growth_value = (SELECT coalesce(sum(g.value), 0) FROM tiers_growthentry g
                                   WHERE g.shop_id = m.shop_id AND g.member_id = m.id)
               FROM unnest(%s::bigint[]) AS t(id) LEFT JOIN LATERAL (
                   SELECT sum(o.amount - o.refunded_amount) FILTER (WHERE o.status <> ALL (%s)) AS spend,
                       count(*) FILTER (WHERE o.status <> ALL (%s)) AS cnt,
                       min(o.paid_at) FILTER (WHERE o.status <> 'cancelled') AS first_at,
                       max(o.paid_at) FILTER (WHERE o.status <> 'cancelled') AS last_at,
                       sum(o.amount - o.refunded_amount) FILTER (WHERE o.status <> ALL (%s)
                           AND o.paid_at >= now() - interval '365 days') AS spend_12m,
                       count(*) FILTER (WHERE o.status <> ALL (%s)
                           AND o.paid_at >= now() - interval '365 days') AS cnt_12m
                   FROM orders_order o WHERE o.shop_id = %s AND o.member_id = t.id) AS a ON true
               WHERE m.id = t.id""",
            [touched, *[["cancelled", "refunded"]] * 4, shop.pk],
        )
        if not tiers:
            return
        # Their tiers as they were before the run's orders upgraded some of them.
        conn.execute(
            """UPDATE members_member AS m SET tier_id = t.tier_id, tier_until = t.tier_until
               FROM bench_ingest_tiers t WHERE m.id = t.member_id AND m.id = ANY(%s)
               AND (m.tier_id IS DISTINCT FROM t.tier_id OR m.tier_until IS DISTINCT FROM t.tier_until)""",
            [touched],
        )
        conn.execute(
            "DELETE FROM tiers_tierchange WHERE shop_id = %s AND id > (SELECT last_change FROM bench_ingest_state)",
            [shop.pk],
        )


def _tiers_settle(conn, shop: Shop) -> None:
    """Give the generated members the tiers their figures earn (the generator assigns none), as a shop in use has
    them: otherwise most buyers would qualify for an upgrade that every order of theirs then makes. Keeps the
    result in two tables of the benchmark database, which each reset restores the touched members from."""
    from tiers.evaluation import tiers_evaluate
    from tiers.models import EvaluationMode

    with shop_scope(shop):
        tiers_evaluate(shop=shop, mode=EvaluationMode.FULL)
    with conn.transaction():
        conn.execute("DROP TABLE IF EXISTS bench_ingest_tiers, bench_ingest_state")
        conn.execute(
            "CREATE TABLE bench_ingest_tiers AS SELECT id AS member_id, tier_id, tier_until FROM members_member "
            "WHERE shop_id = %s",
            [shop.pk],
        )
        conn.execute("ALTER TABLE bench_ingest_tiers ADD PRIMARY KEY (member_id)")
        conn.execute(
            "CREATE TABLE bench_ingest_state AS SELECT coalesce(max(id), 0) AS last_change FROM tiers_tierchange"
        )


def ingest_buyers(shop: Shop, *, sample: int = 20_000, seed: int = 3) -> list[tuple[int, str]]:
    """(member id, E.164 phone) of a random sample of the shop's members."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [1 / (seed + 1)])
        cursor.execute(
            "SELECT id, phone FROM members_member WHERE shop_id = %s AND status = 'active' ORDER BY random() LIMIT %s",
            [shop.pk, sample],
        )
        return cursor.fetchall()


def order_payloads(
    buyers: list[tuple[int, str]], *, count: int, prefix: str, seed: int = 4, catalogue_seed: int = 1
) -> list[dict]:
    """`count` new orders as an integration sends them to the API (JSON-ready): 60% name a member by phone
    (written as shoppers give it: national, spaced or +86), 15% by member id, 10% a phone that is not a member's,
    15% no buyer; paid in the last 30 days, 1-4 items from the benchmark catalogue, the amount their total."""
    import random
    from datetime import timedelta

    from django.utils import timezone
    from pools import MOBILE_PREFIXES, catalogue

    rng = random.Random(seed)
    products = catalogue(catalogue_seed)
    weights = [1 / (i + 1) ** 0.6 for i in range(len(products))]
    now = timezone.now()
    orders = []
    for n in range(count):
        items = []
        for sku, name, category, fen in rng.choices(products, weights, k=rng.choice((1, 1, 1, 2, 2, 3, 4))):
            quantity = rng.choice((1, 1, 1, 1, 2, 2, 3))
            items.append({"sku": sku, "name": name, "category": category, "quantity": quantity, "fen": fen})
        order = {
            "external_id": f"{prefix}{n:09d}",
            "amount": f"{sum(i['quantity'] * i['fen'] for i in items) / 100:.2f}",
            "paid_at": (now - timedelta(seconds=rng.randrange(30 * 86400))).isoformat(),
            "status": rng.choice(("paid", "paid", "paid", "completed")),
            "items": [
                {
                    "sku": i["sku"],
                    "name": i["name"],
                    "category": i["category"],
                    "quantity": i["quantity"],
                    "unit_price": f"{i['fen'] / 100:.2f}",
                }
                for i in items
            ],
        }
        u = rng.random()
        member_id, phone = rng.choice(buyers)
        if u < 0.60:
            national = phone.removeprefix("+86")
            order["phone"] = rng.choice((national, f"{national[:3]} {national[3:7]} {national[7:]}", phone))
        elif u < 0.75:
            order["member_id"] = member_id
        elif u < 0.85:
            order["phone"] = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"  # most likely nobody's
        orders.append(order)
    return orders


def order_input(payload: dict):
    """The services.OrderInput the API's serializer makes of `payload` (phone normalised to E.164)."""
    from datetime import datetime
    from decimal import Decimal

    from members.services import phone_normalize
    from orders import services

    return services.OrderInput(
        external_id=payload["external_id"],
        amount=Decimal(payload["amount"]),
        paid_at=datetime.fromisoformat(payload["paid_at"]),
        status=payload["status"],
        member_id=payload.get("member_id"),
        phone=phone_normalize(payload["phone"]) if payload.get("phone") else "",
        items=tuple(
            services.ItemInput(
                sku=i["sku"],
                quantity=i["quantity"],
                unit_price=Decimal(i["unit_price"]),
                name=i["name"],
                category=i["category"],
            )
            for i in payload["items"]
        ),
    )
