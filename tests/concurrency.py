"""Races on real PostgreSQL connections: each thread has its own connection and transaction."""

import threading

from django.db import connection

from shops.tenancy import shop_scope


def race(workers: list) -> list:
    """Start every worker at the same moment; return what each returned or raised."""
    barrier = threading.Barrier(len(workers))
    results: list = [None] * len(workers)

    def run(i, work):
        try:
            barrier.wait()
            results[i] = work()
        except Exception as exc:  # noqa: BLE001 - the race's outcome is what we assert on
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def in_scope(shop, work):
    """`work` run inside the shop's scope, as each racing thread must (the scope is per thread)."""

    def run():
        with shop_scope(shop):
            return work()

    return run
