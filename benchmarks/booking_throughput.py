"""Booking throughput: book() calls per second a standalone store sustains, per database.

    python benchmarks/booking_throughput.py                        # MariaDB, SQLite, PostgreSQL
    python benchmarks/booking_throughput.py --backends mariadb --threads 32 --seconds 20

For each backend it creates a fresh database (meetings_test_<random>, dropped afterwards),
makes H hosts with a one-on-one link each (every day 00:00-24:00 UTC, 15-minute meetings,
10 rolling weeks), and lets N worker threads call booking.service.book() for ~S seconds.
The workers book distinct free slots (a seeded shuffle of every host's starts, so runs are
reproducible) through the whole use-case: the check outside the lock, host lock, re-check,
insert, Contact, timeline Event, and the calendar job that copies each booking into the
host's Local calendar (running alongside, as in production). Then it checks the race
guarantees: no two confirmed bookings of a host overlap, every success is stored once,
and no request failed with anything but 409.

Servers as for the tests: MEETINGS_TEST_MARIADB_URL, MEETINGS_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy  # noqa: E402
from sqlalchemy import text  # noqa: E402

from meetings_addon.booking import service  # noqa: E402
from meetings_addon.errors import SlotUnavailable  # noqa: E402
from meetings_addon.hosts.standalone.services import build_services  # noqa: E402
from tests.db.support import BACKENDS, FixedClock, Unreachable, fresh_database  # noqa: E402

UTC = timezone.utc
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
DAYS = 60  # of the 70-day window
MINUTES = 15
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def setup(services, hosts: int) -> list[tuple[str, datetime]]:
    store = services.store
    first = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), UTC)
    starts = [first + k * timedelta(minutes=MINUTES) for k in range(DAYS * 24 * 60 // MINUTES)]
    slots = []
    for h in range(hosts):
        user = f"host{h}@example.com"
        store.insert("User", {"email": user, "full_name": f"Host {h}", "enabled": 1})
        store.insert("Meeting Link", {
            "slug": f"bench{h}", "title": f"Host {h}", "host": user, "published": 1, "timezone": "UTC",
            "durations": str(MINUTES), "window_type": "Rolling", "rolling_weeks": 10,
            "availability": [{"weekday": day, "start_time": "00:00", "end_time": "24:00"} for day in WEEKDAYS],
        })
        slots += [(f"bench{h}", start) for start in starts]
    random.Random(20300107).shuffle(slots)
    return slots


def run(backend: str, threads: int, seconds: float, hosts: int) -> dict:
    with fresh_database(backend) as url:
        services = build_services(url, redis_url="", clock=FixedClock(NOW), site_url="https://meet.example.com")
        try:
            with services.store.engine.connect() as connection:
                version = connection.execute(text({"sqlite": "select sqlite_version()", "postgresql": "show server_version"}.get(backend, "select version()"))).scalar()
            slots = setup(services, hosts)
            position = iter(range(len(slots)))
            take = threading.Lock()
            latencies: list[float] = []
            outcomes = {"ok": 0, "409": 0}
            errors: list[str] = []
            record = threading.Lock()
            start_together = threading.Barrier(threads)
            deadline = [0.0]

            def worker(w: int) -> None:
                start_together.wait()
                while time.perf_counter() < deadline[0]:
                    with take:
                        i = next(position, None)
                    if i is None:
                        return
                    link, start = slots[i]
                    payload = {"link": link, "start": start.isoformat(), "timezone": "UTC", "first_name": "Guest",
                               "last_name": str(i), "email": f"guest{i}@example.com", "answers": {}}
                    began = time.perf_counter()
                    try:
                        service.book(services, payload)
                        kind = "ok"
                    except SlotUnavailable:
                        kind = "409"
                    except Exception as error:  # noqa: BLE001 - counted and shown
                        kind = None
                        with record:
                            errors.append(repr(error)[:200])
                    took = time.perf_counter() - began
                    with record:
                        latencies.append(took)
                        if kind:
                            outcomes[kind] += 1

            pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
            began = time.perf_counter()
            deadline[0] = began + seconds
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
            elapsed = time.perf_counter() - began
            services.jobs.drain(timeout=300)

            # The guarantees, checked on what the database holds.
            store = services.store
            rows = store.list("Booking", {"status": "Confirmed"}, fields=("host", "start", "end"))
            overlaps = 0
            for h in range(hosts):
                mine = sorted((r for r in rows if r["host"] == f"host{h}@example.com"), key=lambda r: r["start"])
                overlaps += sum(1 for a, b in zip(mine, mine[1:]) if b["start"] < a["end"])
            stored = len(store.list("Booking"))
            ordered = sorted(latencies)
            return {
                "backend": backend, "version": str(version).split("-")[0].split(" (")[0], "threads": threads,
                "hosts": hosts, "seconds": elapsed, "ok": outcomes["ok"], "409": outcomes["409"], "errors": errors,
                "rate": outcomes["ok"] / elapsed,
                "p50": statistics.median(ordered) * 1000 if ordered else 0.0,
                "p95": ordered[int(0.95 * (len(ordered) - 1))] * 1000 if ordered else 0.0,
                "p99": ordered[int(0.99 * (len(ordered) - 1))] * 1000 if ordered else 0.0,
                "overlaps": overlaps, "stored": stored, "confirmed": len(rows),
                "verified": overlaps == 0 and stored == len(rows) == outcomes["ok"] and not errors,
            }
        finally:
            services.jobs.drain(timeout=60)
            services.store.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="mariadb,sqlite,postgresql", help="comma-separated: " + ", ".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hosts", type=int, default=8)
    args = parser.parse_args()

    print("Booking throughput: book() through the standalone store, distinct free slots")
    print(f"  {args.threads} threads, {args.hosts} hosts (one-on-one links, {MINUTES}-minute meetings), ~{args.seconds:g} s per database")
    print(f"  {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}")
    print("  database servers on the same machine; calendar sync jobs running alongside")
    print()
    print(f"{'database':<22} {'bookings':>8} {'per s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'409':>5}  guarantees")
    failed = False
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        try:
            r = run(backend, args.threads, args.seconds, args.hosts)
        except Unreachable as error:
            print(f"{backend:<22} unreachable: {error}")
            failed = True
            continue
        verdict = "intact (no overlaps, every success stored once, only 409s)" if r["verified"] else (
            f"BROKEN: {r['overlaps']} overlaps, {r['stored']} stored / {r['ok']} ok, errors {r['errors'][:3]}"
        )
        failed |= not r["verified"]
        name = f"{backend} {r['version']}"
        print(f"{name:<22} {r['ok']:>8} {r['rate']:>7.1f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} {r['409']:>5}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
