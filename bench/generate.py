"""Load one shop with a million members and five million orders, for the scale benchmarks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/generate.py --members 1000000 --orders 5000000 [--shop bench-big] [--seed 1]

The shop is created through shops.services.shop_create (an existing shop of that slug is deleted first, with every
row it owns). The rows are generated inside PostgreSQL (generate_series + INSERT ... SELECT) from a seeded hash of
each row's number, so a run is reproducible and needs no round trips:

- members: Chinese names drawn by gender from weighted surname and given-name pools, E.164 +86 mobile numbers
  (unique: a bijection of the member's number), gender, birthdays (year for most), regions ("广东省 深圳市"),
  emails, platform buyer ids, WeChat openids, join channels, referrers, SMS/push/email consents (with their
  consent-change evidence rows), joined over three years with accelerating growth (ids follow joining order);
- orders: 12% without a member, the rest spread over loyal (5% of members, 30% of orders), regular and occasional
  buyers, 20% of members never ordered; paid over two years skewed to recent (about 65% in the last 12 months) and
  never before the member joined; 1-4 items each from a 240-product catalogue (母婴/美妆/食品/服饰/数码/家居) with
  popularity skew; the amount is the items' total; 3% cancelled, 1.5% refunded, 1.5% partially refunded (with
  their refund records), older orders completed;
- member aggregates (lifetime spend and count, first/last order, spend and orders in the last 365 days) in the
  same INSERT ... SELECT as the members, aggregated from the orders as orders.services keeps them: spend and count
  over paid, completed and partially refunded orders, spend = amount - refunded_amount, first/last order over the
  same counted orders;
- tags: manual "VIP候选" (20% of members) and "门店活动" (5%), rule tags "高消费" and "沉睡会员" filled by
  members.tags.tag_refresh (the app's own set-based refresh).

Orders and items load on two connections at once (the machine has two cores). Foreign-key triggers are off for
the load's sessions (session_replication_role = replica, which needs a superuser): every reference is generated
consistent and checked by one anti-join at the end. Then VACUUM ANALYZE, so that the planner has statistics and
index-only scans see an all-visible map, as autovacuum would leave a production table.

Prints one JSON line: timings in seconds and row counts.
"""

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path

from harness import setup_django

NON_MEMBER_SHARE = 0.12
# Buyers by rank (a permutation of the members): loyal, regular, occasional; the rest never ordered.
SEGMENTS = ((0.05, 0.30), (0.30, 0.45), (0.45, 0.25))
WINDOW_DAYS = 365
ORDER_YEARS = 2
MEMBER_YEARS = 3
QUANTITIES = "ARRAY[" + ", ".join(["1"] * 75 + ["2"] * 18 + ["3"] * 5 + ["5"] * 2) + "]::int[]"


class Rand:
    """SQL for a uniform number in [0, 1) from (key, salt), reproducible for a seed: PostgreSQL's 64-bit hash."""

    def __init__(self, seed: int):
        self.seed = seed

    def __call__(self, key: str, salt: int) -> str:
        return f"((hashint8extended(({key}) * 64 + {salt}, {self.seed}) & 2147483647)::float8 / 2147483648.0)"


def coprime(n: int, start: int) -> int:
    """The first number from `start` up that is coprime with n: k -> (k * a + b) mod n is then a bijection."""
    a = start
    while math.gcd(a, n) != 1:
        a += 1
    return a


def pick(array_param: str, length: int, u: str) -> str:
    return f"(%({array_param})s::text[])[1 + floor({u} * {length})::int]"


def conninfo() -> dict:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }


def session(conn) -> None:
    """Settings for a bulk-load session (this session only)."""
    conn.execute("SET session_replication_role = replica")  # no FK triggers: references are generated consistent
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET work_mem = '512MB'")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET jit = off")
    conn.execute(
        "SET max_parallel_maintenance_workers = 0"
    )  # two index builds at once, one per core  # compiling these long expressions costs more than it saves


def shop_tables(cur) -> list[str]:
    """Every table with a shop_id column that references shops_shop (the shop-owned tables of all apps)."""
    cur.execute(
        """SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
           WHERE c.contype = 'f' AND c.confrelid = 'shops_shop'::regclass AND a.attname = 'shop_id'"""
    )
    return sorted(r[0] for r in cur.fetchall())


def shop_delete(conn, shop_id: int) -> None:
    """Delete a shop and every row it owns. A table holding only this shop's rows is truncated (instant); the
    others are deleted from. Foreign-key triggers are off in this session, so the order does not matter."""
    with conn.cursor() as cur:
        tables = shop_tables(cur)
        alone = []
        for table in tables:
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE shop_id <> %s)", [shop_id])  # noqa: S608
            if not cur.fetchone()[0]:
                alone.append(table)
        try:
            with conn.transaction():
                if alone:
                    cur.execute(f"TRUNCATE {', '.join(alone)}")
        except Exception:  # a table referenced from one that keeps rows cannot be truncated: delete instead
            alone = []
        with conn.transaction():
            for table in tables:
                if table not in alone:
                    cur.execute(f"DELETE FROM {table} WHERE shop_id = %s", [shop_id])  # noqa: S608
            cur.execute("DELETE FROM shops_shop WHERE id = %s", [shop_id])


def reserve_ids(conn, table: str, count: int) -> int:
    """Take `count` consecutive ids from the table's identity sequence; returns the first."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")  # nobody inserts while we take the block
        cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
        top = cur.fetchone()[0]
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        seq = cur.fetchone()[0]
        cur.execute(f"SELECT last_value, is_called FROM {seq}")  # noqa: S608
        last, called = cur.fetchone()
        first = max(top, last if called else last - 1) + 1
        cur.execute("SELECT setval(%s, %s)", [seq, first + count - 1])
        return first


LOADED_TABLES = (
    "members_member",
    "orders_order",
    "orders_orderitem",
    "members_consentchange",
    "orders_refund",
    "members_membertag",
)


def state_file() -> Path:
    from django.conf import settings

    return Path(tempfile.gettempdir()) / f"huiyuan-generate-{settings.DATABASES['default']['NAME']}-indexes.json"


def indexes_drop(conn) -> list[tuple[str, str]]:
    """Drop the loaded tables' indexes that back no constraint (they are rebuilt after the load: a sorted build is
    several times faster than millions of random insertions). Their definitions go to a state file first, so an
    interrupted run restores them on the next start."""
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = ANY (%s::regclass[]) AND NOT i.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
           ORDER BY 1""",
        [list(LOADED_TABLES)],
    ).fetchall()
    state_file().write_text(json.dumps(rows))
    for name, _definition in rows:
        conn.execute(f"DROP INDEX {name}")
    return rows


def indexes_restore(conns, rows: list[tuple[str, str]] | None = None, *, table: str = "") -> None:
    """Create the dropped indexes that are missing (all of `rows`, or those of the state file), on the given
    connections at once (one build per core), largest tables first."""
    path = state_file()
    if rows is None:
        if not path.exists():
            return
        rows = json.loads(path.read_text())
    order = {t: i for i, t in enumerate(("orders_orderitem", "orders_order", "members_member"))}

    def table_of(definition: str) -> str:
        return definition.split(" ON ")[1].split()[0].removeprefix("public.")

    todo = [d for name, d in rows if conns[0].execute("SELECT to_regclass(%s)", [name]).fetchone()[0] is None]
    todo = [d for d in todo if not table or table_of(d) == table]
    todo.sort(key=lambda d: order.get(table_of(d), 9), reverse=True)
    errors: list[BaseException] = []

    def build(conn):
        try:
            while todo:
                conn.execute(todo.pop())  # list.pop is atomic: each definition is built once
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(conn,)) for conn in conns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    if not table:
        path.unlink(missing_ok=True)


class Plan:
    """The SQL of one load, from the sizes and the seed."""

    def __init__(self, *, shop_id: int, members: int, orders: int, seed: int, now: datetime):
        from pools import (
            GIVEN_ANY,
            GIVEN_FEMALE,
            GIVEN_MALE,
            JOIN_CHANNELS,
            MOBILE_PREFIXES,
            ORDER_PREFIXES,
            REGIONS,
            SURNAMES,
            catalogue,
        )

        self.shop_id, self.members, self.orders, self.seed, self.now = shop_id, members, orders, seed, now
        self.r = Rand(seed)
        self.catalogue = catalogue(seed)
        self.params = {
            "now": now,
            "surnames": SURNAMES,
            "given_f": GIVEN_FEMALE + GIVEN_ANY,
            "given_m": GIVEN_MALE + GIVEN_ANY,
            "given_a": GIVEN_FEMALE + GIVEN_MALE + GIVEN_ANY,
            "regions": REGIONS,
            "prefixes": MOBILE_PREFIXES,
            "channels": JOIN_CHANNELS,
            "order_prefixes": ORDER_PREFIXES,
            "domains": ["qq.com"] * 6 + ["163.com"] * 2 + ["126.com", "sina.com", "foxmail.com", "outlook.com"],
            "prices": [fen for _sku, _name, _cat, fen in self.catalogue],
        }
        self.sizes = {key: len(value) for key, value in self.params.items() if isinstance(value, list)}
        # Bijections: member number -> phone (prefix index and 8 digits), -> platform id; buyer rank -> member.
        self.phone_space = len(MOBILE_PREFIXES) * 10**8
        self.phone_a = coprime(self.phone_space, 2_654_435_761 % self.phone_space)
        self.phone_b = (seed * 7_919_993) % self.phone_space
        self.ext_a = coprime(10**10, 3_141_592_653)
        self.rank_a = coprime(members, members // 2 + 7_777 + seed)

    def joined_secs(self, k: str) -> str:
        """Seconds between member number k's joining and now: cumulative members grow as t^1.5 over 3 years."""
        return (
            f"((1 - power(({k} + 0.5::float8) / {self.members}::float8, 2::float8 / 3)) * {MEMBER_YEARS * 365 * 86400})"
        )

    def members_sql(self, m0: int) -> str:
        r, n, sz = self.r, self.members, self.sizes
        window = f"%(now)s::timestamptz - interval '{WINDOW_DAYS} days'"
        counted = "o.status IN ('paid', 'completed', 'partially_refunded')"
        return f"""
        INSERT INTO members_member (id, shop_id, phone, name, gender, birthday_month, birthday_day, birth_year,
            region, email, external_id, wechat_openid, status, join_channel, referrer_id, joined_at, consent_sms,
            consent_push, consent_email, lifetime_spend, order_count, first_order_at, last_order_at, spend_12m,
            orders_12m, points_balance, points_pending, growth_value, bucket, updated_at)
        SELECT {m0} + g.k, {self.shop_id},
            '+86' || (%(prefixes)s::text[])[1 + (g.ph / 100000000)::int] || lpad(mod(g.ph, 100000000)::text, 8, '0'),
            CASE WHEN {r("g.k", 1)} < 0.03 THEN '' ELSE
                {pick("surnames", sz["surnames"], r("g.k", 2))} ||
                CASE g.gender WHEN 'female' THEN {pick("given_f", sz["given_f"], r("g.k", 3))}
                    WHEN 'male' THEN {pick("given_m", sz["given_m"], r("g.k", 3))}
                    ELSE {pick("given_a", sz["given_a"], r("g.k", 3))} END ||
                CASE WHEN {r("g.k", 4)} < 0.3 THEN '' WHEN g.gender = 'female'
                    THEN {pick("given_f", sz["given_f"], r("g.k", 5))}
                    ELSE {pick("given_a", sz["given_a"], r("g.k", 5))} END
            END,
            g.gender,
            CASE WHEN g.bday THEN g.month END,
            CASE WHEN g.bday THEN 1 + floor({r("g.k", 8)}
                * (ARRAY[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[g.month])::int END,
            CASE WHEN g.bday AND {r("g.k", 9)} < 0.7 THEN 1966 + floor(20 * ({r("g.k", 10)} + {r("g.k", 11)}))::int END,
            CASE WHEN {r("g.k", 12)} < 0.08 THEN '' ELSE {pick("regions", sz["regions"], r("g.k", 13))} END,
            CASE WHEN g.email THEN (10000000 + floor({r("g.k", 15)} * 2000000000))::bigint::text || '@'
                || {pick("domains", sz["domains"], r("g.k", 16))} ELSE '' END,
            CASE WHEN {r("g.k", 17)} < 0.45
                THEN 'tb_' || lpad(mod(g.k * {self.ext_a} + {self.seed}, 10000000000)::text, 10, '0') ELSE '' END,
            CASE WHEN {r("g.k", 18)} < 0.5 THEN 'o' || substr(md5(g.k::text || '-{self.seed}'), 1, 27) ELSE '' END,
            CASE WHEN {r("g.k", 19)} < 0.005 THEN 'frozen' ELSE 'active' END,
            g.channel,
            CASE WHEN g.channel = 'referral' AND g.k > 0 THEN {m0} + floor({r("g.k", 20)} * g.k)::bigint END,
            %(now)s::timestamptz - make_interval(secs => {self.joined_secs("g.k")}),
            {r("g.k", 21)} < 0.55, {r("g.k", 22)} < 0.35, g.email AND {r("g.k", 23)} < 0.6,
            coalesce(a.spend, 0), coalesce(a.cnt, 0), a.first_at, a.last_at, coalesce(a.spend_12m, 0),
            coalesce(a.cnt_12m, 0), 0, 0, 0, floor({r("g.k", 25)} * 10000)::int, %(now)s
        FROM (
            SELECT k, mod(k * {self.phone_a} + {self.phone_b}, {self.phone_space}) AS ph,
                CASE WHEN {r("k", 0)} < 0.58 THEN 'female' WHEN {r("k", 0)} < 0.93 THEN 'male' ELSE 'unknown' END
                    AS gender,
                {r("k", 6)} < 0.85 AS bday, 1 + floor({r("k", 7)} * 12)::int AS month,
                {r("k", 14)} < 0.12 AS email,
                {pick("channels", sz["channels"], r("k", 24))} AS channel
            FROM generate_series(0::bigint, {n - 1}) AS k OFFSET 0
        ) AS g
        LEFT JOIN (
            SELECT o.member_id,
                sum(o.amount - o.refunded_amount) FILTER (WHERE {counted}) AS spend,
                count(*) FILTER (WHERE {counted}) AS cnt,
                min(o.paid_at) FILTER (WHERE {counted}) AS first_at,
                max(o.paid_at) FILTER (WHERE {counted}) AS last_at,
                sum(o.amount - o.refunded_amount) FILTER (WHERE {counted} AND o.paid_at >= {window}) AS spend_12m,
                count(*) FILTER (WHERE {counted} AND o.paid_at >= {window}) AS cnt_12m
            FROM orders_order o WHERE o.shop_id = {self.shop_id} AND o.member_id IS NOT NULL
            GROUP BY o.member_id
        ) AS a ON a.member_id = {m0} + g.k"""  # noqa: S608 - numbers from code, values as parameters

    def _order_stage(self, *, buyer: bool = True) -> str:
        """Per order number j: the buyer's member number k (NULL: no member), the item count n, and the draws for
        the paid time and the status (each hash is evaluated once here and passed up)."""
        r, n = self.r, self.members
        items = f"1 + floor(power({r('j', 4)}, 1.8) * 4)::int AS n"
        if not buyer:
            return f"SELECT j, {items} FROM generate_series(0::bigint, {self.orders - 1}) AS j OFFSET 0"
        bounds, ranks, start = [], [], 0.0
        for share_members, share_orders in SEGMENTS:
            bounds.append(start + share_orders)
            ranks.append((int(n * sum(s for s, _o in SEGMENTS[: len(ranks)])), max(1, int(n * share_members))))
            start += share_orders
        (l1_at, l1), (l2_at, l2), (l3_at, l3) = ranks
        rank = (
            f"CASE WHEN u.seg < {bounds[0]} THEN {l1_at} + floor(u.pos * {l1}) "
            f"WHEN u.seg < {bounds[1]} THEN {l2_at} + floor(u.pos * {l2}) "
            f"ELSE {l3_at} + floor(u.pos * {l3}) END::bigint"
        )
        return f"""
            SELECT u.j, CASE WHEN u.mem >= {NON_MEMBER_SHARE} THEN mod({rank} * {self.rank_a} + {self.seed}, {n})
                END AS k, u.n, u.paid, u.status
            FROM (
                SELECT j, {r("j", 1)} AS mem, {r("j", 2)} AS seg, {r("j", 3)} AS pos, {items},
                    {r("j", 5)} AS paid, {r("j", 6)} AS status
                FROM generate_series(0::bigint, {self.orders - 1}) AS j OFFSET 0
            ) AS u OFFSET 0"""

    def _sku(self, j: str, t: int | str) -> str:
        return f"floor({len(self.catalogue)} * power({self.r(f'{j} * 8 + {t}', 30)}, 1.7))::int"

    def _qty(self, j: str, t: int | str) -> str:
        # 75% one, 18% two, 5% three, 2% five: one draw, looked up in a constant array
        return f"({QUANTITIES})[1 + floor({self.r(f'{j} * 8 + {t}', 31)} * 100)::int]"

    def orders_sql(self, o0: int, m0: int) -> str:
        r = self.r
        span = ORDER_YEARS * 365 * 86400
        amount = " + ".join(
            f"CASE WHEN s.n >= {t} THEN {self._qty('s.j', t)} * (%(prices)s::int[])[1 + {self._sku('s.j', t)}] "
            "ELSE 0 END"
            for t in range(1, 5)
        )
        prefix = pick("order_prefixes", self.sizes["order_prefixes"], r("q.j", 9))
        return f"""
        INSERT INTO orders_order (id, shop_id, external_id, member_id, amount, refunded_amount, paid_at,
            completed_at, status, points_earned, body_hash, created_at)
        SELECT {o0} + p.j, {self.shop_id}, p.ext, {m0} + p.k, p.fen / 100.0,
            CASE p.status WHEN 'refunded' THEN p.fen / 100.0
                WHEN 'partially_refunded' THEN floor(p.fen * (0.1 + 0.6 * {r("p.j", 7)})) / 100.0 ELSE 0 END,
            p.paid_at,
            CASE WHEN p.status = 'completed'
                THEN least(%(now)s::timestamptz, p.paid_at + make_interval(secs => 86400 + {r("p.j", 8)} * 777600))
                END,
            p.status, 0, encode(sha256(p.ext::bytea), 'hex'),
            least(%(now)s::timestamptz, p.paid_at + make_interval(secs => 1 + {r("p.j", 10)} * 60))
        FROM (
            SELECT q.j, q.k, q.fen, q.paid_at,
                {prefix} || lpad(q.j::text, 12, '0') AS ext,
                CASE WHEN q.status < 0.03 THEN 'cancelled' WHEN q.status < 0.045 THEN 'refunded'
                    WHEN q.status < 0.06 THEN 'partially_refunded'
                    WHEN q.paid_at < %(now)s::timestamptz - interval '15 days' AND q.status < 0.97
                    THEN 'completed' ELSE 'paid' END AS status
            FROM (
                SELECT s.j, s.k, s.status, {amount} AS fen,
                    %(now)s::timestamptz - make_interval(secs => power(s.paid, 1.6)
                        * CASE WHEN s.k IS NULL THEN {span} ELSE least({span}, {self.joined_secs("s.k")}) END)
                        AS paid_at
                FROM ({self._order_stage()}) AS s OFFSET 0
            ) AS q OFFSET 0
        ) AS p"""  # noqa: S608

    def items_sql(self, o0: int) -> str:
        return f"""
        INSERT INTO orders_orderitem (shop_id, order_id, sku, name, category, quantity, unit_price)
        SELECT {self.shop_id}, {o0} + i.j, c.sku, c.name, c.category, i.qty, c.price
        FROM (
            SELECT s.j, {self._sku("s.j", "t")} AS idx, {self._qty("s.j", "t")} AS qty
            FROM ({self._order_stage(buyer=False)}) AS s, generate_series(1, s.n) AS t OFFSET 0
        ) AS i JOIN pg_temp.bench_catalogue c ON c.idx = i.idx"""  # noqa: S608

    def refunds_sql(self) -> str:
        body = "o.external_id || '|RF' || o.external_id || '|' || o.refunded_amount::text"
        return f"""
        INSERT INTO orders_refund (shop_id, order_id, external_id, amount, refunded_at, body_hash, created_at)
        SELECT o.shop_id, o.id, 'RF' || o.external_id, o.refunded_amount, t.at,
            encode(sha256(convert_to({body}, 'UTF8')), 'hex'), t.at
        FROM orders_order o,
            LATERAL (SELECT least(%(now)s::timestamptz, o.paid_at + interval '3 days') AS at) AS t
        WHERE o.shop_id = {self.shop_id} AND o.status IN ('refunded', 'partially_refunded')"""  # noqa: S608

    def consents_sql(self) -> str:
        return f"""
        INSERT INTO members_consentchange (shop_id, member_id, channel, granted, source, changed_at)
        SELECT m.shop_id, m.id, c.channel, true, 'import', m.joined_at
        FROM members_member m, LATERAL (VALUES ('sms', m.consent_sms), ('push', m.consent_push),
            ('email', m.consent_email)) AS c(channel, granted)
        WHERE m.shop_id = {self.shop_id} AND c.granted"""  # noqa: S608

    def manual_tag_sql(self, tag_id: int, share: float, salt: int) -> str:
        return f"""
        INSERT INTO members_membertag (shop_id, tag_id, member_id, created_at)
        SELECT m.shop_id, {tag_id}, m.id, m.joined_at FROM members_member m
        WHERE m.shop_id = {self.shop_id} AND m.status <> 'erased' AND {self.r("m.id", salt)} < {share}"""  # noqa: S608


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    setup_django()
    print(json.dumps(generate(slug=args.shop, members=args.members, orders=args.orders, seed=args.seed)), flush=True)


def generate(*, slug: str, members: int, orders: int, seed: int, rebuild_indexes: bool | None = None) -> dict:
    """Replace shop `slug` with generated data (see the module docstring). Indexes without a constraint are
    dropped for the load and rebuilt after it when `rebuild_indexes` (by default: from two million orders up,
    where sorted builds beat millions of random insertions)."""
    if rebuild_indexes is None:
        rebuild_indexes = orders >= 2_000_000
    import psycopg
    from pools import TAGS

    from members.filters import member_filter
    from members.models import Tag
    from members.tags import tag_create
    from shops.models import Shop
    from shops.services import SYSTEM, shop_create, user_ensure
    from shops.tenancy import all_shops, shop_scope

    timings: dict[str, float] = {}
    started = mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name] = round(now - mark, 1)
        mark = now
        print(f"{name}: {timings[name]} s", file=sys.stderr, flush=True)

    with (
        psycopg.connect(**conninfo(), autocommit=True) as conn,
        psycopg.connect(**conninfo(), autocommit=True) as conn2,
    ):
        for c in (conn, conn2):
            session(c)
        with all_shops():  # the generator replaces a shop whatever it is
            old = Shop.objects.filter(slug=slug).values_list("pk", flat=True).first()
        if old:
            shop_delete(conn, old)
        indexes_restore([conn, conn2])  # left dropped by an interrupted run
        lap("delete_old")
        owner = user_ensure(email=f"{slug}@example.com")
        shop = shop_create(name=f"Bench {members:,} members", slug=slug, owner=owner)
        now = datetime.now(UTC).replace(microsecond=0)
        plan = Plan(shop_id=shop.pk, members=members, orders=orders, seed=seed, now=now)
        m0 = reserve_ids(conn, "members_member", members)
        o0 = reserve_ids(conn, "orders_order", orders)
        dropped = indexes_drop(conn) if rebuild_indexes else []
        lap("setup")

        # Items on the second connection while the first loads orders and members (they share the per-order draws).
        items_error: list[BaseException] = []
        item_timing: dict[str, float] = {}

        def load_items() -> None:
            try:
                t = time.perf_counter()
                conn2.execute(
                    "CREATE TEMP TABLE bench_catalogue (idx int PRIMARY KEY, sku text, name text, category text, "
                    "price numeric(12, 2))"
                )
                with conn2.cursor().copy("COPY bench_catalogue FROM STDIN") as copy:
                    for idx, (sku, name, category, fen) in enumerate(plan.catalogue):
                        copy.write_row((idx, sku, name, category, Decimal(fen) / 100))
                item_timing["rows"] = conn2.execute(plan.items_sql(o0), plan.params).rowcount
                conn2.execute("DROP TABLE pg_temp.bench_catalogue")
                item_timing["items"] = round(time.perf_counter() - t, 1)
                t = time.perf_counter()
                indexes_restore([conn2], dropped, table="orders_orderitem")  # while the other loads members
                item_timing["item_indexes"] = round(time.perf_counter() - t, 1)
            except BaseException as exc:  # reported by the main thread
                items_error.append(exc)

        items_thread = threading.Thread(target=load_items)
        items_thread.start()
        counts = {}
        try:
            counts["orders_order"] = conn.execute(plan.orders_sql(o0, m0), plan.params).rowcount
            lap("orders")
            counts["members_member"] = conn.execute(plan.members_sql(m0), plan.params).rowcount
            lap("members_with_aggregates")
            counts["orders_refund"] = conn.execute(plan.refunds_sql(), plan.params).rowcount
            counts["members_consentchange"] = conn.execute(plan.consents_sql()).rowcount
            lap("refunds_consents")
            with shop_scope(shop):
                for i, (name, _kind, rule, _how) in enumerate(TAGS):
                    tag = tag_create(shop=shop, actor=SYSTEM, name=name, rule=rule or None)
                    if rule:
                        # What members.tags.tag_refresh inserts for a new rule tag: the members the rule matches,
                        # compiled by members.filters, in one INSERT ... SELECT (on this session: no FK triggers).
                        # (Its second statement, deleting leavers, has nothing to do for a new tag; at this scale
                        # its NOT IN plan is quadratic, see docs/benchmarks.md.)
                        members_qs = member_filter(shop=shop, definition=rule).order_by().values_list("pk")
                        select_sql, params = members_qs.query.sql_with_params()
                        params = [p.value if isinstance(p, Enum) else p for p in params]
                        sql = f"""INSERT INTO members_membertag (shop_id, tag_id, member_id, created_at)
                                  SELECT %s, %s, q.id, %s FROM ({select_sql}) AS q(id)"""  # noqa: S608
                        tagged = conn.execute(sql, [shop.pk, tag.pk, now, *params]).rowcount
                    else:
                        tagged = conn.execute(plan.manual_tag_sql(tag.pk, 0.20 if i == 0 else 0.05, 40 + i)).rowcount
                    Tag.objects.filter(pk=tag.pk).update(member_count=tagged, refreshed_at=now)
                    counts[f"tag {name}"] = tagged
            lap("tags")
        finally:
            items_thread.join()
            lap("items_wait")
            timings["items_parallel"] = item_timing.get("items", -1)
            timings["item_indexes_parallel"] = item_timing.get("item_indexes", -1)
            indexes_restore([conn, conn2], dropped)
            lap("indexes")
        if items_error:
            raise items_error[0]
        counts["orders_orderitem"] = item_timing["rows"]

        # The foreign-key triggers were off: check the one generated reference that is not a plain range (items'
        # orders are o0 + j, j < orders, by construction) in the scan that ANALYZE does not replace.
        stray = conn.execute(
            f"""SELECT count(*) FROM orders_order WHERE shop_id = {shop.pk}
                AND (member_id < {m0} OR member_id >= {m0 + members})"""  # noqa: S608
        ).fetchone()[0]
        if stray:
            raise SystemExit(f"{stray} orders name a member outside the generated range")
        lap("check_references")

        for table in ("members_member", "members_membertag", "members_consentchange", "members_tag"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        for table in ("orders_order", "orders_orderitem", "orders_refund"):
            conn.execute(f"ANALYZE {table}")
        lap("vacuum_analyze")
    return {
        "scenario": "generate",
        "shop": slug,
        "shop_id": shop.pk,
        "seed": seed,
        "members": members,
        "orders": orders,
        "total_s": round(time.perf_counter() - started, 1),
        "timings_s": timings,
        "rows": counts,
    }


if __name__ == "__main__":
    main()
