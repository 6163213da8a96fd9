"""Scheduling engine speed: median time to compute every slot, growth, peak memory.

    python benchmarks/scheduling.py            # full run (about a minute)
    python benchmarks/scheduling.py --quick    # fewer repeats

Setup, as issue #2 states it: a 10-week rolling window, weekly hours Mon-Fri 09:00-12:00
and 13:00-17:30 (Europe/Paris), 30-minute meetings every 15 minutes, busy intervals
spread over the window (random, overlapping, unsorted, seeded; 15-60 minutes,
1% all-day). Busy times arrive as
aware datetimes, as a calendar adapter hands them over; their conversion is timed.
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import random
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meetings_addon.scheduling import (  # noqa: E402
    ONE_ON_ONE,
    ROUND_ROBIN,
    HostSchedule,
    Rules,
    WeeklyWindow,
    compute_slots,
)

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
WEEKS = 10
RULES = Rules(
    timezone="Europe/Paris",
    availability=[WeeklyWindow(day, "09:00", "12:00") for day in range(5)]
    + [WeeklyWindow(day, "13:00", "17:30") for day in range(5)],
    durations=(30,),
    start_increment=15,
    buffer_before=0,
    buffer_after=10,
    minimum_notice=120,
    window_type="Rolling",
    rolling_weeks=WEEKS,
)
RANGE_END = NOW + timedelta(weeks=WEEKS + 1)


def busy_intervals(count: int, seed: int) -> list[tuple[datetime, datetime]]:
    rng = random.Random(seed)
    span = WEEKS * 7 * 86400
    out = []
    for index in range(count):
        start = NOW + timedelta(seconds=rng.randrange(0, span, 300))
        minutes = 24 * 60 if index % 100 == 99 else rng.choice((15, 30, 45, 60))  # 1% all-day
        out.append((start, start + timedelta(minutes=minutes)))
    return out


def median_ms(run, repeats: int) -> tuple[float, float]:
    run()  # warm-up: imports, zone cache
    times = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()  # as timeit does: the cyclic collector's pauses are not the engine's
        try:
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        finally:
            gc.enable()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def one_host(busy):
    hosts = [HostSchedule("host@example.com", busy=busy)]
    return lambda: compute_slots(RULES, hosts, now=NOW, range_start=NOW, range_end=RANGE_END, meeting_type=ONE_ON_ONE)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 15 if args.quick else 101

    print(f"python {platform.python_version()} on {platform.machine()}, {repeats} repeats, median (p95)")

    busy = busy_intervals(2000, 1)
    slots = one_host(busy)()
    med, p95 = median_ms(one_host(busy), repeats)
    print(f"one host, 10 weeks, 30-min every 15 min, 2,000 busy: {med:.2f} ms ({p95:.2f}) -> {len(slots)} slots")

    team = [HostSchedule(f"host{i}@example.com", busy=busy_intervals(2000, 100 + i)) for i in range(10)]
    run_team = lambda: compute_slots(  # noqa: E731
        RULES, team, now=NOW, range_start=NOW, range_end=RANGE_END, meeting_type=ROUND_ROBIN
    )
    slots = run_team()
    med, p95 = median_ms(run_team, max(5, repeats // 3))
    print(f"round robin, 10 hosts x 2,000 busy: {med:.2f} ms ({p95:.2f}) -> {len(slots)} slots")

    print("growth (one host):")
    previous = None
    for count in (100, 1_000, 10_000, 100_000):
        busy = busy_intervals(count, 7)
        med, _ = median_ms(one_host(busy), max(3, repeats // (10 if count >= 100_000 else 3)))
        note = ""
        if previous:
            prev_count, prev_ms = previous
            nlogn = (count * math.log(count)) / (prev_count * math.log(prev_count))
            note = f"  x{med / prev_ms:.1f} time for x{count // prev_count} busy (n log n: x{nlogn:.1f})"
        print(f"  {count:>7,} busy: {med:8.2f} ms{note}")
        previous = (count, med)

    busy = busy_intervals(100_000, 7)
    gc.collect()
    tracemalloc.start()
    one_host(busy)()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory allocated by one computation at 100,000 busy: {peak / 1e6:.1f} MB")
    try:
        import resource

        print(f"process peak RSS (input included): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
