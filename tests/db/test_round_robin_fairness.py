"""Round robin over time: weights, priority, the CRM owner, weight 0, cancellations.

Every meeting goes through booking.service.book on the standalone store (SQLite), with
the services' clock moved forward day by day, as visitors would book over weeks."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from meetings_addon.booking import service

from .support import add_link, add_user, booking_payload, fresh_database, local

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DAY = date(2030, 1, 8)
MEETINGS = 1000


class NoJobs:
    """The jobs port without side effects: these tests look at who is assigned, and 1,000
    calendar writes and emails would only slow them down."""

    def enqueue(self, method, *, job_id=None, **kwargs):
        pass

    def drain(self, timeout=None):
        pass


@pytest.fixture(scope="module")
def sqlite_url():
    """SQLite in memory-backed storage where there is one (/dev/shm): 1,000 bookings are
    1,000 commits, and the disk's fsync would be most of the test's time."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="meetings-rr-", dir=shm if shm.is_dir() else None))
    with fresh_database("sqlite", folder) as url:
        yield url
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def services(sqlite_services, monkeypatch):
    monkeypatch.setattr(sqlite_services, "jobs", NoJobs())
    return sqlite_services


@pytest.fixture
def store(services):
    return services.store


def team_link(store, weights, *, priorities=None, slug="team", **extra):
    """A round robin link open every day 08:00-20:00 in 15-minute meetings."""
    users = [add_user(store, f"rep{i}@example.com", f"Rep {i}") for i in range(len(weights))]
    link = add_link(
        store, slug, users[0], meeting_type="Round Robin", durations="15",
        availability=[{"weekday": day, "start_time": "08:00", "end_time": "20:00"} for day in DAYS], **extra,
    )
    store.update("Meeting Link", slug, {"hosts": [
        {"user": user, "weight": weight, "priority": (priorities or [0] * len(users))[i]}
        for i, (user, weight) in enumerate(zip(users, weights))
    ]})
    return users


def day_slots(day: date):
    start = local(day, 8)
    return [start + timedelta(minutes=15 * i) for i in range(48)]


def book(services, start: datetime, email: str, slug="team"):
    answer = service.book(services, booking_payload(slug, start, email))
    return services.store.get_value("Booking", {"name": answer["booking"]}, "host")


def book_over_days(services, clock, meetings: int, slug="team", first=FIRST_DAY):
    """`meetings` bookings, one per 15-minute slot, the clock at each day's midnight."""
    hosts = []
    day = first
    while len(hosts) < meetings:
        clock._now = local(day, 0)
        for start in day_slots(day):
            if len(hosts) == meetings:
                break
            hosts.append(book(services, start, f"guest{len(hosts)}@client.example", slug))
        day += timedelta(days=1)
    return hosts, day


def test_1000_meetings_over_weeks_split_1_2_3_by_weight(services, store, clock):
    reps = team_link(store, [1, 2, 3])
    hosts, last_day = book_over_days(services, clock, MEETINGS)
    assert (last_day - FIRST_DAY).days >= 21  # three weeks of bookings, the clock moving on
    counts = Counter(hosts)
    # exact shares 166.7, 333.3, 500: each host within one meeting of its own
    assert abs(counts[reps[0]] - 1000 / 6) < 1
    assert abs(counts[reps[1]] - 2000 / 6) < 1
    assert abs(counts[reps[2]] - 3000 / 6) < 1
    # and at every point along the way, not only at the end
    for n in (10, 100, 333, 777):
        partial = Counter(hosts[:n])
        for rep, weight in zip(reps, (1, 2, 3)):
            assert abs(partial[rep] - n * weight / 6) < 1, (n, partial)


def test_a_priority_2_host_takes_every_meeting_while_free(services, store, clock):
    reps = team_link(store, [1, 1, 1], priorities=[0, 2, 0])
    clock._now = local(FIRST_DAY, 0)
    busy = day_slots(FIRST_DAY)[::3]  # rep1 is busy for every third slot
    for start in busy:
        store.insert("Local Calendar Event", {"user": reps[1], "summary": "Busy", "start": start, "end": start + timedelta(minutes=15)})
    hosts = {start: book(services, start, f"g{i}@client.example") for i, start in enumerate(day_slots(FIRST_DAY))}
    assert all(host == reps[1] for start, host in hosts.items() if start not in busy)
    others = Counter(host for start, host in hosts.items() if start in busy)
    assert others == {reps[0]: 8, reps[2]: 8}  # the others share what rep1 cannot take


def test_weight_0_hosts_only_take_meetings_no_one_else_is_free_for(services, store, clock):
    reps = team_link(store, [0, 1, 1])
    hosts, _ = book_over_days(services, clock, 20)
    assert reps[0] not in hosts
    # reps 1 and 2 busy at 18:00: rep0 takes it rather than no one
    day = FIRST_DAY + timedelta(days=3)
    clock._now = local(day, 0)
    start = local(day, 18)
    for rep in reps[1:]:
        store.insert("Local Calendar Event", {"user": rep, "summary": "Busy", "start": start, "end": start + timedelta(hours=1)})
    assert book(services, start, "late@client.example") == reps[0]


def test_a_cancelled_meeting_gives_the_share_back(services, store, clock):
    reps = team_link(store, [1, 1])
    clock._now = local(FIRST_DAY, 0)
    slots = day_slots(FIRST_DAY)
    first = service.book(services, booking_payload("team", slots[0], "a@client.example"))
    assert store.get_value("Booking", {"name": first["booking"]}, "host") == reps[0]
    service.cancel(services, {"token": first["manage_url"].rsplit("/", 1)[1]})
    # rep0 holds no meeting again: without the cancellation counting, rep1 would be next
    assert book(services, slots[1], "b@client.example") == reps[0]
    assert book(services, slots[2], "c@client.example") == reps[1]


def test_meetings_older_than_the_lookback_do_not_count(services, store, clock):
    reps = team_link(store, [1, 1])
    for i in range(5):  # rep0's meetings of four months ago
        start = local(FIRST_DAY - timedelta(days=120 + i), 10)
        store.insert("Booking", {"meeting_link": "team", "host": reps[0], "status": "Confirmed", "start": start,
                                 "end": start + timedelta(minutes=15), "duration": 15, "email": "old@client.example"})
    clock._now = local(FIRST_DAY, 0)
    assert book(services, day_slots(FIRST_DAY)[0], "new@client.example") == reps[0]


# --- the contact's owner in the CRM ----------------------------------------------------------


def contact(store, email, owner="Administrator"):
    return store.insert("Contact", {"first_name": "Vera", "email_id": email, "owner": owner,
                                    "email_ids": [{"email_id": email, "is_primary": 1}]})["name"]


@pytest.mark.parametrize("source", ["lead", "deal", "contact"])
def test_the_contacts_crm_owner_gets_the_meeting_while_free(services, store, clock, source):
    reps = team_link(store, [1, 1, 1], prefer_contact_owner=1)
    email = "vera@client.example"
    owner = reps[2]
    if source == "lead":
        store.insert("CRM Lead", {"first_name": "Vera", "email": email, "lead_owner": reps[1]})  # an older lead
        store.insert("CRM Lead", {"first_name": "Vera", "email": email, "lead_owner": owner})
    elif source == "deal":
        name = contact(store, email)
        store.insert("CRM Deal", {"deal_owner": owner, "contacts": [{"contact": name, "is_primary": 1}]})
    else:
        contact(store, email, owner=owner)
    clock._now = local(FIRST_DAY, 0)
    slots = day_slots(FIRST_DAY)
    assert book(services, slots[0], email) == owner
    assert book(services, slots[1], email) == owner  # again: the owner, not the next in turn
    assert book(services, slots[2], "someone@else.example") == reps[0]  # not theirs: the rule
    # the owner busy: the rule decides
    store.insert("Local Calendar Event", {"user": owner, "summary": "Busy", "start": slots[3], "end": slots[4]})
    assert book(services, slots[3], email) == reps[1]


def test_without_the_option_the_owner_is_not_preferred(services, store, clock):
    reps = team_link(store, [1, 1, 1])
    store.insert("CRM Lead", {"first_name": "Vera", "email": "vera@client.example", "lead_owner": reps[2]})
    clock._now = local(FIRST_DAY, 0)
    assert book(services, day_slots(FIRST_DAY)[0], "vera@client.example") == reps[0]


def test_an_owner_who_is_not_a_host_changes_nothing(services, store, clock):
    reps = team_link(store, [1, 1], prefer_contact_owner=1)
    outsider = add_user(store, "boss@example.com")
    store.insert("CRM Lead", {"first_name": "Vera", "email": "vera@client.example", "lead_owner": outsider})
    clock._now = local(FIRST_DAY, 0)
    assert book(services, day_slots(FIRST_DAY)[0], "vera@client.example") == reps[0]


def test_without_frappe_crm_the_option_falls_back_to_the_rule(services, store, clock, monkeypatch):
    """A Frappe site without CRM has no CRM Lead / CRM Deal: the store answers NotFound."""
    reps = team_link(store, [1, 1], prefer_contact_owner=1)
    for doctype in ("CRM Lead", "CRM Deal", "CRM Contacts"):
        monkeypatch.delitem(store.metas, doctype)
    clock._now = local(FIRST_DAY, 0)
    assert book(services, day_slots(FIRST_DAY)[0], "vera@client.example") == reps[0]
    contact(store, "owned@client.example", owner=reps[1])
    assert book(services, day_slots(FIRST_DAY)[1], "owned@client.example") == reps[1]  # the Contact's owner still counts
