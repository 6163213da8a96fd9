"""Round robin assignment: how fair, and what it costs as a link's meetings pile up.

    python benchmarks/round_robin.py                 # SQLite and MariaDB
    python benchmarks/round_robin.py --backends sqlite --meetings 1000

1. Fairness: N meetings booked one after another through booking.service.book() on a
   round robin link of three hosts weighted 1:2:3 (every slot free for all), the clock
   moving a day every 48 meetings; prints the split, the largest gap from the exact
   weighted share seen at any step, and the median book() time.
2. Cost: the assignment's own work (booking/assignment.read_counts + order: one query,
   one row per counted meeting) with 0, 1,000 and 10,000 Confirmed meetings of the link
   in its 90-day lookback, median of 51 runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meetings_addon.booking import assignment, service  # noqa: E402
from meetings_addon.hosts.standalone.services import build_services  # noqa: E402
from tests.db.support import FixedClock, Unreachable, add_link, add_user, booking_payload, fresh_database  # noqa: E402

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
START = datetime(2030, 1, 7, 8, 0, tzinfo=timezone.utc)
WEIGHTS = (1, 2, 3)


class NoJobs:
    def enqueue(self, method, *, job_id=None, **kwargs):
        pass

    def drain(self, timeout=None):
        pass


def team(store, slug="team"):
    users = [add_user(store, f"rep{i}@example.com", f"Rep {i}") for i in range(len(WEIGHTS))]
    add_link(store, slug, users[0], meeting_type="Round Robin", durations="15", timezone="UTC", rolling_weeks=10,
             availability=[{"weekday": day, "start_time": "08:00", "end_time": "20:00"} for day in DAYS])
    store.update("Meeting Link", slug, {"hosts": [{"user": u, "weight": w} for u, w in zip(users, WEIGHTS)]})
    return users


def fairness(url: str, meetings: int) -> None:
    clock = FixedClock(START - timedelta(days=1))
    services = build_services(url, redis_url="", clock=clock, site_url="https://meet.example.com")
    services.jobs = NoJobs()
    users = team(services.store)
    counts: Counter = Counter()
    worst = 0.0
    timings = []
    for i in range(meetings):
        day, slot = divmod(i, 48)
        clock._now = START + timedelta(days=day) - timedelta(hours=1)
        start = START + timedelta(days=day, minutes=15 * slot)
        began = time.perf_counter()
        answer = service.book(services, booking_payload("team", start, f"v{i}@client.example"))
        timings.append(time.perf_counter() - began)
        counts[services.store.get_value("Booking", {"name": answer["booking"]}, "host")] += 1
        done = i + 1
        worst = max(worst, max(abs(counts[u] - done * w / sum(WEIGHTS)) for u, w in zip(users, WEIGHTS)))
    split = " / ".join(str(counts[u]) for u in users)
    exact = " / ".join(f"{meetings * w / sum(WEIGHTS):.1f}" for w in WEIGHTS)
    print(f"  fairness: {meetings} meetings, weights 1:2:3 -> {split} (exact {exact}); "
          f"largest gap from the exact share at any step: {worst:.2f} meeting; "
          f"book() median {statistics.median(timings) * 1000:.1f} ms")


def cost(url: str) -> None:
    clock = FixedClock(START)
    services = build_services(url, redis_url="", clock=clock, site_url="https://meet.example.com")
    store = services.store
    users = team(store, "cost")
    link = store.get("Meeting Link", "cost")
    members = assignment.team(link)
    inserted = 0
    for target in (0, 1000, 10000):
        with store.atomic():
            while inserted < target:
                start = START + timedelta(minutes=15 * inserted)
                store.insert("Booking", {"meeting_link": "cost", "host": users[inserted % 3], "status": "Confirmed",
                                         "start": start, "end": start + timedelta(minutes=15), "duration": 15,
                                         "email": f"c{inserted}@client.example", "first_name": "C", "last_name": "V",
                                         "timezone": "UTC", "ical_uid": f"cost-{inserted}@bench"})
                inserted += 1
        runs = []
        for _ in range(51):
            began = time.perf_counter()
            tallies = assignment.read_counts(services, link, users, clock.now())
            assignment.order(users, members, tallies)
            runs.append(time.perf_counter() - began)
        print(f"  assignment with {target:>6,} counted meetings: {statistics.median(runs) * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,mariadb")
    parser.add_argument("--meetings", type=int, default=1000)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(f"{backend}:")
        try:
            with fresh_database(backend) as url:
                fairness(url, args.meetings)
            with fresh_database(backend) as url:
                cost(url)
        except Unreachable as error:
            print(f"  skipped: {error}")


if __name__ == "__main__":
    main()
