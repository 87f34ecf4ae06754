"""Does sending a one-time code take longer for a member's phone than for a new one? It must not (issue 6: answers
never reveal whether a phone is a member, in status, body or time).

In process, through Django's test client and the whole middleware stack: POST /m/<slug>/code/ for `--phones`
members' phones and as many new phones, interleaved (member, new, member, ...), each phone once and each from its
own address so that no sending limit is reached. Reports each group's median and p95 in ms and their difference;
the baseline is the member group (ratio = new / member: 1.0 means no difference). Also checks that the two groups
got the same status and the same body.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench_portal REDIS_URL=redis://127.0.0.1:6379/10 \\
        .venv/bin/python bench/portal_code_timing.py [--phones 400]
"""

import argparse
import os
import statistics
import time

from harness import report, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phones", type=int, default=400)
    args = parser.parse_args()
    os.environ["SMS_BACKEND"] = "locmem"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    setup_django()
    from django.conf import settings
    from django.test import Client
    from portal_pages import prepare

    from members.services import Enrolment, members_bulk_enroll
    from shops.sms import LocmemBackend
    from shops.tenancy import shop_scope

    settings.ALLOWED_HOSTS = ["testserver"]
    shop, _channel, _member, _session = prepare()
    members = [f"+86137{n:08d}" for n in range(args.phones)]
    new = [f"+86136{n:08d}" for n in range(args.phones)]
    with shop_scope(shop):
        members_bulk_enroll(shop=shop, enrolments=[Enrolment(phone=p) for p in members], source="bench")
    client = Client(HTTP_ACCEPT="application/json")
    path = f"/m/{shop.slug}/code/"
    times = {"member": [], "new": []}
    answers = {"member": set(), "new": set()}
    for n in range(-20, args.phones):  # 20 warm-up requests first, not counted
        for group, phones in (("member", members), ("new", new)):
            phone = phones[n] if n >= 0 else f"+86135{(n + 100) * 2 + (group == 'new'):08d}"
            started = time.perf_counter()
            response = client.post(path, {"phone": phone}, REMOTE_ADDR=f"10.{n % 250}.{n // 250 % 250}.{len(group)}")
            elapsed = (time.perf_counter() - started) * 1000
            if n >= 0:
                times[group].append(elapsed)
                answers[group].add((response.status_code, response.content))
        LocmemBackend.outbox.clear()

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[18]

    member, fresh = statistics.median(times["member"]), statistics.median(times["new"])
    report(
        "portal_code_member_vs_new",
        figure=fresh,
        baseline=member,
        unit="ms (median, new phones; baseline: members' phones)",
        difference_ms=round(fresh - member, 3),
        member_p95_ms=round(p95(times["member"]), 2),
        new_p95_ms=round(p95(times["new"]), 2),
        same_answers=answers["member"] == answers["new"] and len(answers["member"]) == 1,
        phones_each=args.phones,
    )


if __name__ == "__main__":
    main()
