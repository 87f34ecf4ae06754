"""Sending a campaign through the file backend with two worker processes (SPEC 12, issue 18).

Set-up (not timed), in bench-big (bench/generate.py): one SMS campaign "bench send" over the members with SMS
consent, holdout 0, due at the last noon on the shop's clock (outside quiet hours, in the past: every row is due);
its first --messages members snapshotted through campaigns.snapshot.snapshot_chunk (one chunk; the campaign is then
marked as snapshotted, the rest of its audience left out) after the shop's contact counts are cleared (a previous
run's would cap everyone), so that about that many rows are `queued` (the frozen members suppressed). Before each
run the rows the previous run claimed are put back to `queued`, the table vacuumed, a checkpoint taken, and the
backend's directory emptied.

(a) `campaigns_send_2w`: SMS_RATE_LIMIT=0 (no bucket), SMS_BACKEND=file. Ours: two processes, each looping as the
    task campaigns.tasks.campaign_send does (campaign_get, then campaigns.sending.send_batch: claim 200 rows FOR
    UPDATE SKIP LOCKED, consent again, render, mark `sending`, the file backend's send_many with its O_EXCL id
    markers, mark `sent`) until nothing is due. Baseline: two processes writing the same messages (the same
    phones, the same composed texts, the same ids, loaded before the start) through the same file backend in
    batches of 200, with no database work. Figures: messages/s from the start signal to the last process's end,
    best of --rounds. Checked: every queued row `sent`, as many files as rows, no id twice.
(b) `campaigns_send_2w_null_provider`: ours as in (a) with a provider that takes each batch at once and writes
    nothing (NullBackend below): what our own path (claim, consent, render, marks) sustains, without the file
    backend's cost, which the baseline of (a) shows to be of the same order as ours on this machine's disk.
(c) `campaigns_send_rate`: SMS_RATE_LIMIT=--rate with the bucket in Redis (REDIS_URL), the same two processes
    sending for --seconds (a process starts no batch after that); the bucket is emptied before the run, so it
    starts with its one-second burst. Figure: messages sent / seconds from the start signal to the last send,
    against the limit; also the rate after the first two seconds (from the files' time stamps).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyuan_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/campaigns_send.py [--shop bench-big] [--messages 100000] [--rounds 2]
            [--rate 500] [--seconds 30] [--only throughput|null|rate] [--dir /tmp/huiyuan-bench-sms]
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness import report, setup_django


class NullBackend:
    """A provider that takes every message at once and keeps nothing (SMS_BACKEND=campaigns_send.NullBackend): our
    own path alone, without the file backend's two files per message."""

    def send_many(self, messages):
        from shops.messaging import SendResult

        return [SendResult.sent(m.message_id) for m in messages]

    def query(self, message_ids):
        return dict.fromkeys(message_ids, "unknown")


CAMPAIGN_NAME = "bench send"
WORKERS = 2
BATCH = 200


def worker(args) -> None:
    """One sender process: set up, say "ready", wait for "go" on stdin, send, print one JSON line."""
    setup_django()
    from django.db import connection

    from campaigns.models import CampaignStatus
    from campaigns.selectors import campaign_get
    from campaigns.sending import send_batch
    from shops.messaging import write_message_files
    from shops.selectors import shop_by_slug
    from shops.sms import SmsMessage
    from shops.tenancy import shop_scope

    shop = shop_by_slug(slug=args.shop)
    with shop_scope(shop):
        messages = []
        if args.worker == "baseline":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, address, text FROM bench_send_copy WHERE id %% %s = %s ORDER BY id",
                    [WORKERS, args.part],
                )
                messages = [
                    SmsMessage(shop_id=shop.pk, phone=phone, text=text, message_id=f"{shop.pk}-{i}")
                    for i, phone, text in cursor.fetchall()
                ]
        else:
            campaign_get(shop=shop, pk=args.campaign, standing=True)  # connect, warm the imports
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.time()
        claimed = batches = 0
        if args.worker == "baseline":
            directory = Path(os.environ["SMS_FILE_PATH"])
            for i in range(0, len(messages), BATCH):
                write_message_files(directory, messages[i : i + BATCH])
                claimed += len(messages[i : i + BATCH])
                batches += 1
        else:
            deadline = time.monotonic() + args.seconds if args.seconds else None
            while deadline is None or time.monotonic() < deadline:
                campaign = campaign_get(shop=shop, pk=args.campaign, standing=True)
                if campaign.status != CampaignStatus.SENDING:
                    break
                n = send_batch(shop=shop, campaign=campaign)
                if not n:
                    break
                claimed += n
                batches += 1
        print(json.dumps({"started": started, "ended": time.time(), "claimed": claimed, "batches": batches}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", default="bench-big")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--only", choices=("throughput", "null", "rate"), default=None)
    parser.add_argument("--dir", default="/tmp/huiyuan-bench-sms")
    parser.add_argument("--worker", choices=("ours", "baseline"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--campaign", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    setup_django()
    import psycopg
    import redis
    from django.conf import settings as django_settings
    from generate import conninfo

    from campaigns.models import Campaign, CampaignStatus, Channel
    from campaigns.services import CampaignInput, campaign_create
    from campaigns.snapshot import snapshot_chunk
    from shops.selectors import shop_by_slug
    from shops.services import SYSTEM
    from shops.tenancy import shop_scope
    from shops.time import local_date, shop_zone, wall_instant

    admin = psycopg.connect(**conninfo(), autocommit=True)
    shop = shop_by_slug(slug=args.shop)
    scope = shop_scope(shop)
    scope.__enter__()
    directory = Path(args.dir)

    def value(sql: str, params: list | None = None):
        return admin.execute(sql, params or []).fetchone()[0]

    now = datetime.datetime.now(datetime.UTC)
    today = local_date(shop, now)
    start = wall_instant(shop_zone(shop), today, datetime.time(12))
    if start > now:
        start = wall_instant(shop_zone(shop), today - datetime.timedelta(days=1), datetime.time(12))

    campaign = Campaign.objects.filter(shop=shop, name=CAMPAIGN_NAME).first()
    if campaign is None:
        campaign, _created = campaign_create(
            shop=shop,
            actor=SYSTEM,
            data=CampaignInput(
                name=CAMPAIGN_NAME,
                channel=Channel.SMS,
                audience={"filter": {"consent": ["sms"]}},
                text="{name}，会员日全场8折，积分{points_balance}",
                holdout_percent=0,
            ),
        )
    admin.execute("DELETE FROM campaigns_message WHERE campaign_id = %s", [campaign.pk])
    admin.execute("DELETE FROM campaigns_contactcount WHERE shop_id = %s", [shop.pk])  # a previous run's counts
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.SENDING, started_at=start, snapshot_cursor=0, snapshot_done=False
    )
    t0 = time.perf_counter()
    snapshot_chunk(shop=shop, campaign_id=campaign.pk, chunk=args.messages)
    Campaign.objects.filter(pk=campaign.pk).update(snapshot_done=True)
    admin.execute("VACUUM (ANALYZE) campaigns_message")
    queued = value(
        "SELECT count(*) FROM campaigns_message WHERE shop_id = %s AND campaign_id = %s AND status = 'queued'",
        [shop.pk, campaign.pk],
    )
    print(f"snapshot of {args.messages} members: {queued} queued ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    def reset() -> None:
        admin.execute(
            "UPDATE campaigns_message SET status = 'queued', reason = '', address = '', text = '', attempts = 0, "
            "claimed_at = NULL, sent_at = NULL, error = '' WHERE shop_id = %s AND campaign_id = %s "
            "AND claimed_at IS NOT NULL",
            [shop.pk, campaign.pk],
        )
        admin.execute("VACUUM (ANALYZE) campaigns_message")
        admin.execute("CHECKPOINT")
        shutil.rmtree(directory, ignore_errors=True)

    def run(kind: str, env: dict, seconds: float = 0) -> tuple[float, list[dict]]:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    kind,
                    "--shop",
                    args.shop,
                    "--campaign",
                    str(campaign.pk),
                    "--part",
                    str(part),
                    "--seconds",
                    str(seconds),
                ],  # fmt: skip
                env={**os.environ, "SMS_BACKEND": "file", "SMS_FILE_PATH": str(directory), **env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for part in range(WORKERS)
        ]
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise SystemExit("a worker did not start")
        go = time.time()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        return max(r["ended"] for r in results) - go, results

    def files() -> list[Path]:
        return list(directory.glob("*.json"))

    def verify(expected: int) -> dict:
        sent = value(
            "SELECT count(*) FROM campaigns_message WHERE shop_id = %s AND campaign_id = %s AND status = 'sent'",
            [shop.pk, campaign.pk],
        )
        written = files()
        ids = {p.name.split("-", 1)[1] for p in written}
        checks = {"sent_rows": sent, "files": len(written), "distinct_ids": len(ids), "expected": expected}
        checks["ok"] = sent == len(written) == len(ids) and (expected < 0 or sent == expected)
        return checks

    if args.only in (None, "throughput"):
        best = {"ours": None, "baseline": None}
        for r in range(args.rounds):
            for side in ("ours", "baseline") if r % 2 == 0 else ("baseline", "ours"):
                reset()
                if side == "baseline":
                    # The messages as ours hands them over: the same ids and phones, the text composed alike.
                    admin.execute("DROP TABLE IF EXISTS bench_send_copy")
                    admin.execute(
                        "CREATE UNLOGGED TABLE bench_send_copy AS SELECT g.id, m.phone AS address, "
                        "'【' || %s || '】' || m.name || '，会员日全场8折，积分' || m.points_balance || ' 回T退订' "
                        "AS text FROM campaigns_message g "
                        "JOIN members_member m ON m.shop_id = g.shop_id AND m.id = g.member_id "
                        "WHERE g.shop_id = %s AND g.campaign_id = %s AND g.status = 'queued'",
                        [shop.name, shop.pk, campaign.pk],
                    )
                load = os.getloadavg()
                elapsed, results = run(side, {"SMS_RATE_LIMIT": "0"})
                count = sum(x["claimed"] for x in results)
                checks = verify(queued if side == "ours" else -1)
                if side == "baseline":  # no rows change: every message written once
                    checks["ok"] = checks["files"] == checks["distinct_ids"] == count == queued
                line = {
                    "round": r,
                    "side": side,
                    "seconds": round(elapsed, 2),
                    "messages": count,
                    "per_s": round(count / elapsed),
                    "workers": results,
                    "load_avg_before": load,
                    **checks,
                }
                print(line, file=sys.stderr, flush=True)
                if checks["ok"] and (best[side] is None or line["per_s"] > best[side]["per_s"]):
                    best[side] = line
        admin.execute("DROP TABLE IF EXISTS bench_send_copy")
        if best["ours"] and best["baseline"]:
            report(
                "campaigns_send_2w",
                figure=best["ours"]["per_s"],
                baseline=best["baseline"]["per_s"],
                unit="messages/s",
                messages=best["ours"]["messages"],
                seconds=best["ours"]["seconds"],
                baseline_seconds=best["baseline"]["seconds"],
                workers=WORKERS,
                rounds=args.rounds,
                load_avg=[round(x, 2) for x in best["ours"]["load_avg_before"]],
            )
        else:
            print("throughput: no verified run", file=sys.stderr)

    if args.only in (None, "null"):
        best = None
        for r in range(args.rounds):
            reset()
            load = os.getloadavg()
            elapsed, results = run("ours", {"SMS_RATE_LIMIT": "0", "SMS_BACKEND": "campaigns_send.NullBackend"})
            count = sum(x["claimed"] for x in results)
            sent = value(
                "SELECT count(*) FROM campaigns_message WHERE shop_id = %s AND campaign_id = %s AND status = 'sent'",
                [shop.pk, campaign.pk],
            )
            line = {
                "round": r,
                "side": "ours, null provider",
                "seconds": round(elapsed, 2),
                "messages": count,
                "per_s": round(count / elapsed),
                "sent_rows": sent,
                "load_avg_before": load,
                "ok": sent == queued,
            }
            print(line, file=sys.stderr, flush=True)
            if line["ok"] and (best is None or line["per_s"] > best["per_s"]):
                best = line
        if best:
            report(
                "campaigns_send_2w_null_provider",
                figure=best["per_s"],
                baseline=0,
                unit="messages/s",
                messages=best["messages"],
                seconds=best["seconds"],
                workers=WORKERS,
                rounds=args.rounds,
                load_avg=[round(x, 2) for x in best["load_avg_before"]],
            )

    if args.only in (None, "rate"):
        if not django_settings.REDIS_URL:
            raise SystemExit("the rate run needs REDIS_URL (the shared bucket)")
        reset()
        prefix = django_settings.CACHES["default"].get("KEY_PREFIX", "huiyuan")
        redis.Redis.from_url(django_settings.REDIS_URL).delete(f"{prefix}:provider-rate:sms")
        load = os.getloadavg()
        elapsed, results = run("ours", {"SMS_RATE_LIMIT": str(args.rate)}, seconds=args.seconds)
        count = sum(x["claimed"] for x in results)
        checks = verify(-1)
        go = min(x["started"] for x in results)
        stamps = sorted(int(p.name.split("-", 1)[0]) / 1e9 for p in files())
        late = [s for s in stamps if s >= go + 2]
        steady = (len(late) - 1) / (late[-1] - late[0]) if len(late) > 1 else 0.0
        report(
            "campaigns_send_rate",
            figure=count / elapsed,
            baseline=args.rate,
            unit="messages/s",
            messages=count,
            seconds=round(elapsed, 2),
            steady_after_2s=round(steady, 1),
            deviation=round(count / elapsed / args.rate - 1, 4),
            workers=WORKERS,
            load_avg=[round(x, 2) for x in load],
            checks=checks,
        )
    reset()
    scope.__exit__(None, None, None)


if __name__ == "__main__":
    main()
