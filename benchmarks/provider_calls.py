"""Provider calls and server time per booking-page view (a month), with the free/busy
cache per calendar.

    python benchmarks/provider_calls.py [--runs 20] [--latency-ms 0]

A page view is what the booking page asks when it opens: get_link, then get_slots for
the month from today (in the visitor's zone), measured in-process on the standalone host
(SQLite in a temporary folder), so the time is the server's own. Two calendar setups,
each with three calendars checked for availability:
1. a counting fake provider (each busy() call answered from memory after --latency-ms),
   so only the application's work and its calls are measured;
2. a real Radicale CalDAV server on 127.0.0.1 (started here), through the caldav library:
   HTTP requests counted at the client.
For each, four views:
- cold: no cache at all (as after a booking, a calendar change or a minute without views);
- warm: the same view again (the month view itself is cached);
- warm, another visitor: another time zone, so the month is computed again from the
  per-calendar free/busy cache;
- next month: the following month's view after the first (a visitor paging on).
Target: at most one free/busy call per calendar per month view, none when warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meetings_addon.booking import service, slot_cache  # noqa: E402
from meetings_addon.connections import manage, registry  # noqa: E402
from meetings_addon.hosts.standalone.auth import create_user  # noqa: E402
from meetings_addon.hosts.standalone.secrets import new_key  # noqa: E402
from meetings_addon.hosts.standalone.services import build_services  # noqa: E402

UTC = timezone.utc
HOST = "alex@bench.example"
CALENDARS = ("work", "team", "family")


class CountingProvider:
    """Three calendars with a realistic week of busy times, repeated; counts busy() calls."""

    calls = 0
    calendars_asked = 0
    latency = 0.0

    def __init__(self, services, connection):
        pass

    def list_calendars(self):
        return [{"calendar_id": c, "calendar_name": c.title(), "access_role": "owner", "is_default": int(i == 0)}
                for i, c in enumerate(CALENDARS)]

    def busy(self, calendar_ids, start, end):
        CountingProvider.calls += 1
        CountingProvider.calendars_asked += len(calendar_ids)
        if self.latency:
            time.sleep(self.latency)
        found = {}
        for index, calendar_id in enumerate(calendar_ids):
            intervals, day = [], start.replace(hour=0, minute=0, second=0, microsecond=0)
            while day < end:
                if day.weekday() < 5:
                    for hour in (8 + index, 11 + index, 15):
                        intervals.append((day + timedelta(hours=hour), day + timedelta(hours=hour, minutes=45)))
                day += timedelta(days=1)
            found[calendar_id] = [(a, b) for a, b in intervals if a < end and b > start]
        return found

    def create_event(self, calendar_id, event):
        return {"id": event["uid"], "uid": event["uid"]}

    update_event = cancel_event = None


def site(folder: Path):
    services = build_services(f"sqlite:///{folder / 'bench.sqlite'}", redis_url="")
    create_user(services, HOST, full_name="Alex Morgan", time_zone="Europe/Paris")
    services.store.insert("Meeting Link", {
        "name": "alex-30", "slug": "alex-30", "title": "Intro call", "host": HOST, "owner": HOST, "published": 1,
        "durations": "30", "timezone": "Europe/Paris", "window_type": "Rolling", "rolling_weeks": 8,
        "start_increment": 15,
        "availability": [{"weekday": d, "start_time": "09:00", "end_time": "17:30"}
                         for d in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")],
    })
    return services


def month(first: date, zone: str) -> dict:
    return {"link": "alex-30", "start": first.isoformat(), "end": (first + timedelta(days=30)).isoformat(), "timezone": zone}


def page_view(services, first: date, zone: str, with_link: bool = True) -> float:
    started = time.perf_counter()
    if with_link:
        service.get_link(services, "alex-30")
    answer = service.get_slots(services, month(first, zone))
    elapsed = time.perf_counter() - started
    assert answer["mode"] == "book" and answer["slots"], answer["mode"]
    return elapsed


def measure(services, counter, runs: int) -> list[tuple[str, float, float, float]]:
    """(view, calls per view, calendars asked per view, median ms)."""
    today = datetime.now(UTC).date()
    rows = []
    cases = {
        "cold (get_link + month)": lambda: (slot_cache.invalidate(services), ("Europe/Paris", today, True)),
        "warm, same view": lambda: (None, ("Europe/Paris", today, True)),
        "warm, another visitor": lambda: (None, (f"Etc/GMT+{next(zones)}", today, True)),
        "next month (after the first)": lambda: (None, ("Europe/Paris", today + timedelta(days=31), False)),
    }
    import itertools

    zones = itertools.cycle(range(1, 12))
    for label, prepare in cases.items():
        calls, asked, times = [], [], []
        for _ in range(runs):
            if label.startswith("next month"):
                slot_cache.invalidate(services)
                page_view(services, today, "Europe/Paris")  # the first month, not measured
            elif label.startswith("warm"):
                page_view(services, today, "Europe/Paris")  # make it warm, not measured
            zone, first, with_link = prepare()[1]
            before = counter()
            times.append(page_view(services, first, zone, with_link))
            after = counter()
            calls.append(after[0] - before[0])
            asked.append(after[1] - before[1])
        rows.append((label, statistics.mean(calls), statistics.mean(asked), statistics.median(times) * 1000))
    return rows


def show(title: str, rows, unit: str) -> None:
    print(f"\n{title}")
    print(f"| view | free/busy calls | calendars asked | {unit} | server time (median) |")
    print("|---|---|---|---|---|")
    for label, calls, asked, ms, extra in rows:
        print(f"| {label} | {calls:g} | {asked:g} | {extra} | {ms:.1f} ms |")


def fake_provider(runs: int, latency_ms: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        services = site(Path(folder))
        registry.FACTORIES["Google"] = CountingProvider
        CountingProvider.latency = latency_ms / 1000
        rows = [{"calendar_id": c, "calendar_name": c.title(), "check_availability": 1, "is_default": int(i == 0),
                 "access_role": "owner", "status": "OK"} for i, c in enumerate(CALENDARS)]
        services.store.insert("Calendar Connection", {"user": HOST, "owner": HOST, "provider": "Google",
                                                      "account": HOST, "status": "Connected", "calendars": rows})
        found = measure(services, lambda: (CountingProvider.calls, CountingProvider.calendars_asked), runs)
        show(f"Counting fake provider, 3 calendars, {latency_ms:g} ms per call ({runs} runs each)",
             [(label, calls, asked, ms, "-") for label, calls, asked, ms in found], "HTTP requests")


def radicale(runs: int) -> None:
    import caldav
    from caldav.davclient import DAVClient

    sys.path.insert(0, str(ROOT))
    from tests.calendars.caldav_servers import ics_event, start_server

    with tempfile.TemporaryDirectory() as folder:
        os.environ["MEETINGS_SECRET_KEY"] = os.environ.get("MEETINGS_SECRET_KEY") or new_key()
        server = start_server("radicale", Path(folder) / "radicale")
        try:
            services = site(Path(folder))
            ids = [server.make_calendar(name.title()) for name in CALENDARS]
            monday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            monday -= timedelta(days=monday.weekday())
            for index, calendar_id in enumerate(ids):
                for hour in (8 + index, 11 + index, 15):  # weekly recurring meetings
                    start = monday + timedelta(hours=hour)
                    server.put_event(calendar_id, ics_event(f"weekly-{index}-{hour}", start, start + timedelta(minutes=45),
                                                            extra="RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=200"))
                for day in range(0, 60, 3):  # and one-off events
                    start = monday + timedelta(days=day, hours=13)
                    server.put_event(calendar_id, ics_event(f"once-{index}-{day}", start, start + timedelta(hours=1)))
            connection = manage.add_caldav(services, HOST, {"caldav_url": server.url, "caldav_username": "alice",
                                                            "caldav_password": server.users["alice"]})
            manage.set_calendars(services, HOST, {"connection": connection["name"], "calendars": ids, "default_calendar": ids[0]})

            counts = {"http": 0, "busy": 0, "asked": 0}
            real_request = DAVClient.request

            def counting_request(self, *args, **kwargs):
                counts["http"] += 1
                return real_request(self, *args, **kwargs)

            from meetings_addon.calendars.caldav import CalDAVCalendar

            real_busy = CalDAVCalendar.busy

            def counting_busy(self, calendar_ids, start, end):
                counts["busy"] += 1
                counts["asked"] += len(calendar_ids)
                return real_busy(self, calendar_ids, start, end)

            DAVClient.request = counting_request
            CalDAVCalendar.busy = counting_busy
            http = []

            def counter():
                http.append(counts["http"])
                return counts["busy"], counts["asked"]

            found = measure(services, counter, runs)
            per_view = [http[i + 1] - http[i] for i in range(0, len(http), 2)]
            per_case = [statistics.mean(per_view[k * runs:(k + 1) * runs]) for k in range(len(found))]
            show(f"Radicale {getattr(__import__('radicale'), 'VERSION', '')} over HTTP on 127.0.0.1, 3 calendars "
                 f"(caldav {caldav.__version__}; {runs} runs each)",
                 [(label, calls, asked, ms, f"{requests:g}") for (label, calls, asked, ms), requests in zip(found, per_case)],
                 "HTTP requests")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    os.environ.setdefault("MEETINGS_OUTBOX", tempfile.mkdtemp(prefix="bench-outbox-"))
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; a view = get_link + get_slots for 30 days "
          "(the next month: get_slots only); 8-week rolling window, 30-minute slots every 15 minutes.")
    fake_provider(args.runs, args.latency_ms)
    radicale(args.runs)


if __name__ == "__main__":
    main()
