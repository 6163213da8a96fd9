"""Contact matching at sync scale: changed calendar events matched to Contacts by their
attendees' emails, set-based through the Contact Email index.

    python benchmarks/contact_matching.py                          # SQLite and MariaDB
    python benchmarks/contact_matching.py --backends sqlite --events 2000,10000

For each backend: a fresh database (meetings_test_<random>, dropped afterwards) with
--contacts Contacts (100,000), each with one Contact Email row (bulk-loaded, not timed).
Then --events changed events (10,000; also the smaller counts given, to show memory
stays flat) arrive in pages of --page (250, Google's default page size) from a generator,
as a provider's pages are streamed: 1-6 attendees each (the organiser, colleagues on the
internal domain, known contacts, strangers; seeded). Per page, the attendees' emails go
to booking.timeline.contacts_by_email (one query per 1,000 distinct emails) and each
event gets its matched Contacts. Timed: the matching only (page generation excluded);
counted: SQL statements the engine sends (SQLAlchemy cursor events), per event; peak
memory: tracemalloc's peak over the matching of all pages.

This measures the lookup the sync engine calls per page; the whole path from the
emulator's page to the timeline Event is the sync engine's own benchmark.
Servers as for the tests: MEETINGS_TEST_MARIADB_URL.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event as sa_event, insert  # noqa: E402

from meetings_addon.booking.timeline import contacts_by_email  # noqa: E402
from meetings_addon.hosts.standalone.services import build_services  # noqa: E402
from tests.db.support import Unreachable, fresh_database  # noqa: E402

INTERNAL = "team.example"


def load_contacts(services, count: int, batch: int = 5000) -> None:
    store = services.store
    contacts, emails = store._table("Contact"), store._table("Contact Email")
    with store.engine.begin() as connection:
        for start in range(0, count, batch):
            rows = range(start, min(count, start + batch))
            connection.execute(insert(contacts), [
                {"name": f"C{i:07d}", "first_name": f"First{i}", "last_name": f"Last{i}", "email_id": f"person{i}@client{i % 997}.example",
                 "docstatus": 0, "idx": 0} for i in rows
            ])
            connection.execute(insert(emails), [
                {"name": f"E{i:07d}", "parent": f"C{i:07d}", "parentfield": "email_ids", "parenttype": "Contact",
                 "email_id": f"person{i}@client{i % 997}.example", "is_primary": 1, "docstatus": 0, "idx": 1} for i in rows
            ])


def pages(events: int, contacts: int, page: int, seed: int = 7) -> Iterator[list[dict]]:
    """Changed events, a page at a time (nothing kept after a page is handed over)."""
    rng = random.Random(seed)
    batch: list[dict] = []
    for n in range(events):
        attendees = [f"owner@{INTERNAL}"]
        for _ in range(rng.randint(0, 5)):
            kind = rng.random()
            if kind < 0.55:
                i = rng.randrange(contacts)
                attendees.append(f"person{i}@client{i % 997}.example")
            elif kind < 0.8:
                attendees.append(f"stranger{rng.randrange(10**9)}@elsewhere.example")
            else:
                attendees.append(f"colleague{rng.randrange(50)}@{INTERNAL}")
        batch.append({"id": f"ev{n}", "attendees": attendees})
        if len(batch) == page:
            yield batch
            batch = []
    if batch:
        yield batch


def run(backend: str, contacts: int, event_counts: list[int], page: int) -> list[dict]:
    results = []
    with fresh_database(backend) as url:
        services = build_services(url, redis_url="")
        try:
            started = time.perf_counter()
            load_contacts(services, contacts)
            print(f"  {backend}: {contacts:,} contacts loaded in {time.perf_counter() - started:.1f} s", flush=True)
            statements = [0]

            def count(*args, **kwargs):
                statements[0] += 1

            sa_event.listen(services.store.engine, "before_cursor_execute", count)
            for events in event_counts:
                statements[0] = 0
                matched = attendees = 0
                elapsed = 0.0
                tracemalloc.start()
                for batch in pages(events, contacts, page):
                    t0 = time.perf_counter()
                    emails = {email for ev in batch for email in ev["attendees"] if not email.endswith("@" + INTERNAL)}
                    found = contacts_by_email(services, emails)
                    for ev in batch:
                        ev["contacts"] = [found[e] for e in ev["attendees"] if e in found]
                        matched += len(ev["contacts"])
                        attendees += len(ev["attendees"])
                    elapsed += time.perf_counter() - t0
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                result = {
                    "backend": backend, "events": events, "attendees": attendees, "matched": matched,
                    "seconds": elapsed, "events_per_second": events / elapsed, "queries_per_event": statements[0] / events,
                    "queries": statements[0], "peak_mib": peak / 2**20,
                }
                results.append(result)
                print(
                    f"  {backend}: {events:>6,} events ({attendees:,} attendees, {matched:,} matched): "
                    f"{result['events_per_second']:>9,.0f} events/s, {result['queries']} queries "
                    f"({result['queries_per_event']:.3f}/event), peak {result['peak_mib']:.2f} MiB",
                    flush=True,
                )
            sa_event.remove(services.store.engine, "before_cursor_execute", count)
        finally:
            services.jobs.drain(5)
            services.store.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,mariadb")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", default="1000,10000")
    parser.add_argument("--page", type=int, default=250)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}; {args.contacts:,} contacts, pages of {args.page}")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        try:
            run(backend, args.contacts, [int(n) for n in args.events.split(",")], args.page)
        except Unreachable as error:
            print(f"  {backend}: skipped ({error})")


if __name__ == "__main__":
    main()
