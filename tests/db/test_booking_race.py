"""The proof of "no double booking, ever", on every supported database.

Many threads call booking.service.book() at the same moment (a Barrier releases them
together) through the standalone store, exactly as concurrent HTTP requests would. The
only acceptable outcomes are a booking or SlotUnavailable (HTTP 409, with a message);
anything else (a deadlock error, "database is locked", a pool timeout) is a bug.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlparse

import pytest

from meetings_addon.booking import service
from meetings_addon.errors import InvalidBooking, SlotUnavailable

from .support import TUESDAY, WEDNESDAY, add_link, add_user, assert_no_overlap, booking_payload, count, local, overlaps


def race(services, payloads: list[dict]) -> tuple[list[dict], list[tuple[dict, BaseException]]]:
    """Run book() for every payload in its own thread, all released at once."""
    barrier = threading.Barrier(len(payloads))
    won: list[dict] = []
    lost: list[tuple[dict, BaseException]] = []
    guard = threading.Lock()

    def attempt(payload: dict) -> None:
        barrier.wait()
        try:
            answer = service.book(services, payload)
        except BaseException as error:  # noqa: BLE001 - every outcome is judged below
            with guard:
                lost.append((payload, error))
        else:
            with guard:
                won.append(answer)

    threads = [threading.Thread(target=attempt, args=(payload,)) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a booking thread hung"
    assert len(won) + len(lost) == len(payloads)
    return won, lost


def assert_only_409(lost) -> None:
    unexpected = [(payload["email"], repr(error)) for payload, error in lost if not isinstance(error, SlotUnavailable)]
    assert not unexpected, f"{len(unexpected)} attempts failed with something other than SlotUnavailable: {unexpected[:5]}"
    for _, error in lost:
        assert error.http_status == 409
        assert error.message and "taken" in error.message


def test_hundred_visitors_one_slot(services, backend):
    store = services.store
    host = add_user(store, "host@example.com", "Grace Hopper")
    add_link(store, "intro", host, durations="30")
    slot = local(TUESDAY, 10)
    payloads = [booking_payload("intro", slot, f"guest{i}@example.com", first_name=f"Guest{i}") for i in range(100)]

    began = time.perf_counter()
    won, lost = race(services, payloads)
    elapsed = time.perf_counter() - began

    assert len(won) == 1, f"{len(won)} bookings for one slot on {backend}"
    assert len(lost) == 99
    assert_only_409(lost)
    assert won[0]["status"] == "Confirmed"
    confirmed = store.list("Booking", {"status": "Confirmed", "start": slot}, fields=("name", "email", "event", "contact"))
    assert len(confirmed) == 1
    assert confirmed[0]["name"] == won[0]["booking"]
    # Nothing of the 99 losers was kept: one booking, one Event, one Contact in the database.
    assert count(store, "Booking") == 1
    assert count(store, "Event") == 1
    assert confirmed[0]["event"] == store.list("Event")[0]["name"]
    assert count(store, "Contact") == 1
    print(f"\n{backend}: 100 concurrent attempts at one slot in {elapsed:.2f}s")


def test_fifty_overlapping_starts(services, backend):
    """50 starts 15 minutes apart, 60-minute meetings: whatever wins, nothing overlaps,
    and every refusal was justified by a booking that did win."""
    store = services.store
    host = add_user(store, "host@example.com")
    add_link(store, "hour", host, durations="60", start_increment=15)
    offered = [
        slot["start"]
        for day in (TUESDAY, WEDNESDAY)
        for slot in service.get_slots(
            services, {"link": "hour", "start": day.isoformat(), "end": day.isoformat(), "timezone": "Europe/Paris"}
        )["slots"]
    ]
    assert len(offered) >= 50
    payloads = [
        {**booking_payload("hour", local(TUESDAY, 9), f"guest{i}@example.com"), "start": start}
        for i, start in enumerate(offered[:50])
    ]

    won, lost = race(services, payloads)

    assert won, "nobody could book"
    assert_only_409(lost)
    rows = store.list("Booking", {"status": "Confirmed"}, fields=("name", "start", "end", "host"))
    assert len(rows) == len(won) == count(store, "Booking")
    assert_no_overlap(rows)
    for payload, _ in lost:
        start = datetime.fromisoformat(payload["start"])
        end = start + timedelta(minutes=60)
        assert any(overlaps(start, end, row["start"], row["end"]) for row in rows), f"{start} was refused but is free"
    # Two days of 09:00-17:00: at most 8 one-hour meetings a day fit.
    assert len(rows) <= 16


def test_round_robin_three_hosts_thirty_visitors(services, backend):
    store = services.store
    hosts = [add_user(store, f"host{i}@example.com") for i in range(3)]
    add_link(store, "team", hosts[0], meeting_type="Round Robin", hosts=tuple(hosts), durations="30")
    slot = local(TUESDAY, 11)
    payloads = [booking_payload("team", slot, f"guest{i}@example.com") for i in range(30)]

    won, lost = race(services, payloads)

    assert len(won) == 3, f"{len(won)} bookings for 3 hosts on {backend}"
    assert len(lost) == 27
    assert_only_409(lost)
    rows = store.list("Booking", {"status": "Confirmed", "start": slot}, fields=("host", "other_hosts"))
    assert sorted(row["host"] for row in rows) == sorted(hosts)
    assert count(store, "Booking") == 3
    assert count(store, "Event") == 3


def test_round_robin_stays_fair_when_visitors_book_at_once(services, backend):
    """Twelve visitors book twelve different times at the same moment: the counts are
    read under the hosts' lock, so each sees the bookings committed before it and the
    split is exact (4 each), as if they had come one after another."""
    store = services.store
    hosts = [add_user(store, f"fair{i}@example.com") for i in range(3)]
    add_link(store, "fair", hosts[0], meeting_type="Round Robin", hosts=tuple(hosts), durations="30")
    starts = [local(TUESDAY, 9) + timedelta(minutes=30 * i) for i in range(12)]
    won, lost = race(services, [booking_payload("fair", start, f"f{i}@example.com") for i, start in enumerate(starts)])
    assert len(won) == 12 and not lost, lost
    rows = store.list("Booking", {"meeting_link": "fair", "status": "Confirmed"}, fields=("host",))
    assert sorted(Counter(row["host"] for row in rows).values()) == [4, 4, 4], backend


@pytest.mark.parametrize("hosts", [1, 4])
def test_reschedules_racing_new_bookings(services, backend, hosts):
    """Guests move their meetings onto the times new visitors are booking, all at once:
    each contested time goes to exactly one of them. Moving a meeting locks the host, then
    the booking, as booking does, so one host's moves never deadlock; moves of different
    hosts may still deadlock inside MariaDB's unique token index, and are retried."""
    store = services.store
    per_host = 10 if hosts == 1 else 5
    moves = []  # (link, token, target)
    for h in range(hosts):
        host = add_user(store, f"host{h}@example.com")
        add_link(store, f"move{h}", host, durations="30")
        for i in range(per_host):
            answer = service.book(services, booking_payload(f"move{h}", local(TUESDAY, 9) + i * timedelta(minutes=30), f"old{h}.{i}@example.com"))
            moves.append((f"move{h}", urlparse(answer["manage_url"]).path.rsplit("/", 1)[1], local(WEDNESDAY, 9) + i * timedelta(minutes=30)))
    services.jobs.drain()

    barrier = threading.Barrier(2 * len(moves))
    outcomes: list[tuple[str, int, object]] = []
    guard = threading.Lock()

    def attempt(kind: str, i: int) -> None:
        link, token, target = moves[i]
        barrier.wait()
        try:
            if kind == "move":
                result = service.reschedule(services, {"token": token, "start": target.isoformat(), "timezone": "Europe/Paris"})
            else:
                result = service.book(services, booking_payload(link, target, f"new{i}@example.com"))
        except BaseException as error:  # noqa: BLE001
            result = error
        with guard:
            outcomes.append((kind, i, result))

    threads = [threading.Thread(target=attempt, args=(kind, i)) for i in range(len(moves)) for kind in ("move", "book")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    errors = [(kind, i, repr(r)) for kind, i, r in outcomes if isinstance(r, BaseException) and not isinstance(r, SlotUnavailable)]
    assert not errors, errors
    for i, (link, token, target) in enumerate(moves):
        winners = [kind for kind, j, r in outcomes if j == i and not isinstance(r, BaseException)]
        assert len(winners) == 1, f"{target}: {winners}"
        assert count(store, "Booking", {"status": "Confirmed", "start": target, "meeting_link": link}) == 1
        # A guest whose move lost still has the meeting they had, and the token still manages it.
        assert service.manage_view(services, token)["status"] == "Confirmed"
    for h in range(hosts):
        assert_no_overlap(store.list("Booking", {"status": "Confirmed", "host": f"host{h}@example.com"}, fields=("start", "end")))


def test_cancel_and_reschedule_racing_on_one_token(services, backend):
    """The guest clicks "cancel" and "move" at once (or twice "move"): one request wins, the
    other is refused naming the token, and the meeting's records agree with each other."""
    store = services.store
    rounds = 6
    host = add_user(store, "host@example.com")
    add_link(store, "move", host, durations="30")
    for round_ in range(rounds):
        first = service.book(services, booking_payload("move", local(TUESDAY, 9) + round_ * timedelta(hours=1), f"g{round_}@example.com"))
        token = urlparse(first["manage_url"]).path.rsplit("/", 1)[1]
        services.jobs.drain()
        kinds = ("cancel", "move") if round_ % 2 == 0 else ("move", "move")
        barrier = threading.Barrier(2)
        outcomes: dict[int, object] = {}

        def attempt(i: int, kind: str) -> None:
            barrier.wait()
            try:
                if kind == "cancel":
                    outcomes[i] = service.cancel(services, {"token": token})
                else:
                    target = local(WEDNESDAY, 9) + (2 * round_ + i) * timedelta(minutes=30)
                    outcomes[i] = service.reschedule(services, {"token": token, "start": target.isoformat(), "timezone": "Europe/Paris"})
            except BaseException as error:  # noqa: BLE001
                outcomes[i] = error

        threads = [threading.Thread(target=attempt, args=(i, kind)) for i, kind in enumerate(kinds)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        services.jobs.drain()
        failed = [o for o in outcomes.values() if isinstance(o, BaseException)]
        assert len(failed) == 1, outcomes
        assert isinstance(failed[0], InvalidBooking) and failed[0].field == "token", repr(failed[0])
        rows = store.list("Booking", {"email": f"g{round_}@example.com"}, fields=("name", "status", "event", "manage_token"))
        live = [row for row in rows if row["status"] == "Confirmed"]
        event = store.get("Event", rows[0]["event"])
        if live:  # a move won: one live booking, its event open, the token on it alone
            assert len(live) == 1 and event["status"] == "Open"
            assert [row["manage_token"] is not None for row in rows].count(True) == 1
            assert service.manage_view(services, token)["booking"] == live[0]["name"]
        else:  # the cancel won: nothing was moved
            assert [row["status"] for row in rows] == ["Cancelled"] and event["status"] == "Cancelled"
