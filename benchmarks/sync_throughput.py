"""Calendar sync at scale (issue 6): changed events from the Google emulator's pages to
the CRM timeline, matched against 100,000 contacts.

    python benchmarks/sync_throughput.py                     # SQLite (a fresh file)
    python benchmarks/sync_throughput.py --db mariadb        # a fresh MariaDB database
    python benchmarks/sync_throughput.py --events 1000,10000 --contacts 100000 --page 250

Setup (not timed): a fresh database (tests/db/support.fresh_database) with --contacts
Contacts, each with one Contact Email row (bulk-loaded), a few system users on an outside
domain, the host connected to the Google emulator (tests/emulators/google.py, started
in-process on 127.0.0.1 over HTTPS with a throw-away CA) through the real OAuth flow and
its first (empty) sync done. Then, for each count in --events, that many new events
are added to the emulator's calendar (created after the connection; 0-5 attendees each
besides the organiser: known contacts, strangers, colleagues on the internal domain,
users of the system; seeded) and ONE `sync_calendar` pass (incremental, from the sync
token) brings them to the timeline: every events.list page fetched over HTTPS, parsed,
matched (set-based) and logged as Bookings + Events + participants.

Reported per pass: events per second from emulator page to timeline; SQL statements
the store's engine sends (SQLAlchemy before_cursor_execute), per event and split into
reads (SELECT) per page and writes per logged event; peak memory (tracemalloc, over the
pass, with tracing on: pages are streamed, so it stays flat as the count grows); the
time spent inside the emulator (serving pages), to show whether it is the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event as sa_event  # noqa: E402

from benchmarks.contact_matching import load_contacts  # noqa: E402
from tests.db.support import Unreachable, fresh_database  # noqa: E402
from tests.emulators.base import make_test_ca  # noqa: E402

HOST = "host@team.example"
INTERNAL = "team.example"
USERS = 20  # system users on an outside domain: never matched


def add_events(google, count: int, contacts: int, rng: random.Random, offset: int) -> int:
    """`count` new events in the host's calendar; returns how many attendees they have."""
    base = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    attendees_total = 0
    for n in range(count):
        attendees = []
        for _ in range(rng.randint(0, 5)):
            kind = rng.random()
            if kind < 0.5:
                i = rng.randrange(contacts)
                attendees.append(f"person{i}@client{i % 997}.example")
            elif kind < 0.75:
                attendees.append(f"stranger{rng.randrange(10**9)}@elsewhere.example")
            elif kind < 0.9:
                attendees.append(f"colleague{rng.randrange(50)}@{INTERNAL}")
            else:
                attendees.append(f"user{rng.randrange(USERS)}@partner.example")
        attendees_total += len(attendees)
        start = base + timedelta(minutes=30 * ((offset + n) % 2000))
        google.add_event(HOST, HOST, start, start + timedelta(minutes=30), summary=f"Meeting {offset + n}",
                         attendees=list(dict.fromkeys(attendees)), description="Agenda")
    return attendees_total


@contextmanager
def timed_emulator(google):
    """Time spent in the emulator's events.list handler (serving pages)."""
    spent = [0.0]
    routes = google.server.routes
    index = next(i for i, (method, pattern, handler) in enumerate(routes)
                 if method == "GET" and handler == google.events_list)
    method, pattern, original = routes[index]

    def events_list(request, calendar_id):
        t0 = time.perf_counter()
        try:
            return original(request, calendar_id)
        finally:
            spent[0] += time.perf_counter() - t0

    routes[index] = (method, pattern, events_list)
    try:
        yield spent
    finally:
        routes[index] = (method, pattern, original)


def run(backend: str, contacts: int, event_counts: list[int], page: int, trace: bool) -> list[dict]:
    from meetings_addon.connections import google_oauth
    from meetings_addon.hosts.standalone.auth import create_user
    from meetings_addon.hosts.standalone.services import build_services
    from meetings_addon.sync.service import sync_calendar
    from tests.calendars.conftest import MemorySecrets, consent
    from tests.emulators.google import GoogleEmulator

    results = []
    folder = Path(tempfile.mkdtemp(prefix="meetings-sync-bench-"))
    ca, cert, key = make_test_ca(folder)
    from cryptography.fernet import Fernet

    os.environ.setdefault("MEETINGS_SECRET_KEY", Fernet.generate_key().decode())
    os.environ.pop("REDIS_URL", None)
    google = GoogleEmulator(cert, key).start()
    os.environ.update({
        "MEETINGS_CA_BUNDLE": str(ca), "MEETINGS_GOOGLE_OAUTH_URL": google.url, "MEETINGS_GOOGLE_API_URL": google.url,
        "MEETINGS_GOOGLE_CLIENT_ID": google.client_id, "MEETINGS_GOOGLE_CLIENT_SECRET": google.client_secret,
    })
    try:
        with fresh_database(backend) as url:
            services = build_services(url, redis_url="")
            if services.secrets is None:
                services.secrets = MemorySecrets()
            try:
                started = time.perf_counter()
                load_contacts(services, contacts)
                services.store.update("Meetings Settings", "Meetings Settings", {"internal_domains": INTERNAL})
                for i in range(USERS):
                    create_user(services, f"user{i}@partner.example")
                google.add_account(HOST)
                create_user(services, HOST, full_name="Hana Host", time_zone="America/New_York")
                connection = google_oauth.callback(services, consent(google_oauth.start(services, HOST), str(ca)))
                sync_calendar(services, connection["name"], HOST, page_size=page)  # first, empty pass
                print(f"  {backend}: {contacts:,} contacts, {USERS} users loaded, host connected in "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
                time.sleep(1.1)  # events are created after the connection (providers stamp to the second)

                counter = {"all": 0, "select": 0}

                def count(conn, cursor, statement, parameters, context, executemany):
                    counter["all"] += 1
                    if statement.lstrip()[:6].upper() == "SELECT":
                        counter["select"] += 1

                sa_event.listen(services.store.engine, "before_cursor_execute", count)
                rng = random.Random(7)
                offset = 0
                for events in event_counts:
                    attendees = add_events(google, events, contacts, rng, offset)
                    offset += events
                    counter.update(all=0, select=0)
                    with timed_emulator(google) as in_emulator:
                        if trace:
                            tracemalloc.start()
                        t0 = time.perf_counter()
                        result = sync_calendar(services, connection["name"], HOST, page_size=page)
                        elapsed = time.perf_counter() - t0
                        peak = tracemalloc.get_traced_memory()[1] if trace else 0
                        if trace:
                            tracemalloc.stop()
                    c = result.counts
                    seen = sum(c.values())
                    writes = counter["all"] - counter["select"]
                    row = {
                        "backend": backend, "events": events, "seen": seen, "attendees": attendees, "pages": result.pages,
                        **c, "seconds": elapsed, "events_per_second": events / elapsed,
                        "queries": counter["all"], "queries_per_event": counter["all"] / events,
                        "selects_per_page": counter["select"] / max(1, result.pages),
                        "writes_per_logged": writes / max(1, c["logged"]),
                        "emulator_seconds": in_emulator[0], "peak_mib": peak / 2**20,
                    }
                    results.append(row)
                    print(
                        f"  {backend}: {events:>6,} events ({attendees:,} attendees) in {result.pages} pages of {page}: "
                        f"{c['logged']:,} logged, {c['skipped']:,} skipped; {row['events_per_second']:,.0f} events/s "
                        f"({elapsed:.1f} s, of which {in_emulator[0]:.1f} s serving pages in the emulator)",
                        flush=True,
                    )
                    print(
                        f"  {backend}: {events:>6,} events: {row['queries']:,} queries = {row['queries_per_event']:.2f}/event "
                        f"({row['selects_per_page']:.1f} reads/page, {row['writes_per_logged']:.2f} writes/logged event); "
                        + (f"peak memory {row['peak_mib']:.1f} MiB" if trace else "memory not traced"),
                        flush=True,
                    )
                    assert seen == events, (seen, events)
                sa_event.remove(services.store.engine, "before_cursor_execute", count)
            finally:
                services.jobs.drain(5)
                services.store.engine.dispose()
    finally:
        google.stop()
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    if len(results) >= 2 and trace:
        small, big = results[0], results[-1]
        print(f"  memory: {small['events']:,} -> {big['events']:,} events: peak {small['peak_mib']:.1f} -> "
              f"{big['peak_mib']:.1f} MiB ({big['peak_mib'] / max(small['peak_mib'], 1e-9):.2f}x for "
              f"{big['events'] / small['events']:.0f}x the events)")
    share = sum(r["emulator_seconds"] for r in results) / max(1e-9, sum(r["seconds"] for r in results))
    print(f"  bottleneck: the emulator served pages for {share:.0%} of the sync time"
          + (" (the emulator is the bottleneck)" if share > 0.5 else " (the sync itself, not the emulator, dominates)"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite", help="sqlite (default), mariadb or postgresql")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", default="1000,10000")
    parser.add_argument("--page", type=int, default=250, help="events.list maxResults (Google's default 250)")
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc (faster; no memory figure)")
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}; {args.contacts:,} contacts, "
          f"Google emulator pages of {args.page}")
    try:
        run(args.db, args.contacts, [int(n) for n in args.events.split(",")], args.page, not args.no_trace)
    except Unreachable as error:
        print(f"  {args.db}: skipped ({error})")


if __name__ == "__main__":
    main()
