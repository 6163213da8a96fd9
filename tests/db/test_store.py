"""The standalone Store (ports.Store) behaves the same on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import threading
import time as clock
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from meetings_addon.errors import DuplicateEntry, InvalidInput, NotFound, TransactionConflict

from .support import add_user, count

UTC = timezone.utc


def link_doc(slug="intro", **changes):
    doc = {
        "slug": slug,
        "title": "Intro call",
        "host": "host@example.com",
        "timezone": "Europe/Paris",
        "durations": "15,30",
        "availability": [
            {"weekday": "Wednesday", "start_time": "13:00", "end_time": "17:30"},
            {"weekday": "Monday", "start_time": "09:00:00", "end_time": "12:00"},
            {"weekday": "Friday", "start_time": time(8, 15), "end_time": "24:00"},
        ],
        "hosts": [{"user": "b@example.com"}, {"user": "a@example.com"}],
        "range_start": date(2030, 1, 1),
        "range_end": "2030-02-15",
    }
    doc.update(changes)
    return doc


def booking_doc(**changes):
    doc = {
        "meeting_link": "intro",
        "host": "host@example.com",
        "status": "Confirmed",
        "start": datetime(2030, 1, 8, 9, 0, tzinfo=UTC),
        "end": datetime(2030, 1, 8, 9, 30, tzinfo=UTC),
        "duration": 30,
        "email": "guest@example.com",
    }
    doc.update(changes)
    return doc


# --- Documents and child tables --------------------------------------------------------


def test_insert_and_get_with_child_tables_in_their_order(store):
    stored = store.insert("Meeting Link", link_doc())
    assert stored["name"] == "intro"  # autoname field:slug
    doc = store.get("Meeting Link", "intro")
    assert doc["doctype"] == "Meeting Link"
    assert doc["title"] == "Intro call"
    assert [row["weekday"] for row in doc["availability"]] == ["Wednesday", "Monday", "Friday"]
    assert [row["idx"] for row in doc["availability"]] == [1, 2, 3]
    assert doc["availability"][0]["start_time"] == time(13, 0)
    assert doc["availability"][1]["start_time"] == time(9, 0)
    assert doc["availability"][2]["start_time"] == time(8, 15)
    assert doc["availability"][0]["end_time"] == time(17, 30)
    assert doc["availability"][2]["end_time"] == time(0, 0)  # 24:00: the next midnight, as Frappe's Time
    assert all(row["parent"] == "intro" and row["parenttype"] == "Meeting Link" for row in doc["availability"])
    assert {row["parentfield"] for row in doc["availability"]} == {"availability"}
    assert [row["user"] for row in doc["hosts"]] == ["b@example.com", "a@example.com"]
    assert doc["questions"] == [] and doc["date_overrides"] == []
    assert doc["range_start"] == date(2030, 1, 1) and doc["range_end"] == date(2030, 2, 15)
    assert store.get("Meeting Link", "missing") is None


def test_insert_applies_doctype_defaults_like_frappe(store):
    store.insert("Meeting Link", {"slug": "bare", "title": "Bare", "host": "h@example.com", "timezone": "UTC"})
    doc = store.get("Meeting Link", "bare")
    assert doc["published"] == 1  # default 1: a link made without saying so is live, as in Frappe
    assert doc["meeting_type"] == "One-on-one"
    assert doc["durations"] == "30"
    assert doc["rolling_weeks"] == 4
    assert doc["minimum_notice"] == 0  # Int columns hold 0, never NULL
    store.update("Meeting Link", "bare", {"hosts": [{"user": "x@example.com"}], "minimum_notice": None})
    doc = store.get("Meeting Link", "bare")
    assert doc["hosts"][0]["weight"] == 1  # child defaults too
    assert doc["minimum_notice"] == 0
    booking = store.insert("Booking", booking_doc(status=None))
    assert store.get("Booking", booking["name"])["status"] == "Confirmed"
    assert store.get("Booking", booking["name"])["sequence"] == 0


def test_update_replaces_a_child_table_and_keeps_the_others(store):
    store.insert("Meeting Link", link_doc())
    store.update(
        "Meeting Link",
        "intro",
        {"title": "New title", "availability": [{"weekday": "Tuesday", "start_time": "10:00", "end_time": "11:00"}]},
    )
    doc = store.get("Meeting Link", "intro")
    assert doc["title"] == "New title"
    assert [(row["weekday"], row["idx"]) for row in doc["availability"]] == [("Tuesday", 1)]
    assert [row["user"] for row in doc["hosts"]] == ["b@example.com", "a@example.com"]
    store.update("Meeting Link", "intro", {"hosts": []})
    assert store.get("Meeting Link", "intro")["hosts"] == []
    assert count(store, "Meeting Link Host") == 0
    store.update("Meeting Link", "intro", {"durations": "60"})  # parent fields only: tables untouched
    assert len(store.get("Meeting Link", "intro")["availability"]) == 1
    with pytest.raises(NotFound):
        store.update("Meeting Link", "missing", {"title": "x"})


def test_delete_removes_children(store):
    store.insert("Meeting Link", link_doc())
    store.delete("Meeting Link", "intro")
    assert store.get("Meeting Link", "intro") is None
    assert count(store, "Meeting Link Availability") == 0
    assert count(store, "Meeting Link Host") == 0


# --- Filters, order, limit -------------------------------------------------------------


@pytest.fixture
def bookings(store):
    """Five bookings; names b1..b5."""
    rows = [
        ("b1", 15, "ann@example.com", "Confirmed", "C-1", datetime(2030, 1, 8, 9, 0, tzinfo=UTC)),
        ("b2", 30, "bob@example.org", "Cancelled", None, datetime(2030, 1, 8, 10, 0, tzinfo=UTC)),
        ("b3", 45, "cy@example.com", "Confirmed", "", datetime(2030, 1, 9, 9, 0, tzinfo=UTC)),
        ("b4", 60, "Dee@Example.com", "Rescheduled", "C-4", datetime(2030, 1, 10, 9, 0, tzinfo=UTC)),
        ("b5", 30, "eve@example.net", "Requested", None, datetime(2030, 1, 11, 9, 0, tzinfo=UTC)),
    ]
    for name, duration, email, status, contact, start in rows:
        store.insert(
            "Booking",
            booking_doc(name=name, duration=duration, email=email, status=status, contact=contact, start=start,
                        end=start + timedelta(minutes=duration)),
        )
    return [row[0] for row in rows]


def names(store, filters, **kwargs):
    return sorted(row["name"] for row in store.list("Booking", filters, **kwargs))


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"status": "Confirmed"}, ["b1", "b3"]),
        ({"status": ["=", "Confirmed"]}, ["b1", "b3"]),
        ({"status": ["!=", "Confirmed"]}, ["b2", "b4", "b5"]),
        ({"duration": ["<", 30]}, ["b1"]),
        ({"duration": ["<=", 30]}, ["b1", "b2", "b5"]),
        ({"duration": [">", 30]}, ["b3", "b4"]),
        ({"duration": [">=", 45]}, ["b3", "b4"]),
        ({"status": ["in", ["Confirmed", "Requested"]]}, ["b1", "b3", "b5"]),
        ({"status": ["in", "Confirmed,Requested"]}, ["b1", "b3", "b5"]),  # Frappe also takes a comma list
        ({"status": ["not in", ["Confirmed", "Requested"]]}, ["b2", "b4"]),
        ({"email": ["like", "%@example.com"]}, ["b1", "b3", "b4"]),  # case-insensitive everywhere
        ({"email": ["not like", "%@example.com"]}, ["b2", "b5"]),
        ({"contact": ["is", "set"]}, ["b1", "b4"]),
        ({"contact": ["is", "not set"]}, ["b2", "b3", "b5"]),  # empty text is "not set", as in Frappe
        # Frappe's != / not in also match rows where the field is not set (ifnull):
        ({"contact": ["!=", "C-1"]}, ["b2", "b3", "b4", "b5"]),
        ({"contact": ["not in", ["C-1"]]}, ["b2", "b3", "b4", "b5"]),
        ({"start": [">=", datetime(2030, 1, 9, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))]}, ["b3", "b4", "b5"]),
        ({"start": ["<", "2030-01-09T00:00:00+00:00"]}, ["b1", "b2"]),
        ({"status": "Confirmed", "duration": [">", 15]}, ["b3"]),  # filters combine with AND
        ([["status", "=", "Confirmed"], ["duration", ">", 15]], ["b3"]),  # Frappe's list form
        ({}, ["b1", "b2", "b3", "b4", "b5"]),
    ],
)
def test_list_filter_operators(store, bookings, filters, expected):
    assert names(store, filters) == expected


def test_list_order_by_limit_and_fields(store, bookings):
    rows = store.list("Booking", fields=("name", "start"), order_by="start desc", limit=2)
    assert [row["name"] for row in rows] == ["b5", "b4"]
    assert set(rows[0]) == {"name", "start"}
    rows = store.list("Booking", fields=("name",), order_by="duration asc, name desc")
    assert [row["name"] for row in rows] == ["b1", "b5", "b2", "b3", "b4"]
    assert [row["name"] for row in store.list("Booking", order_by="`start` asc", limit=1)] == ["b1"]
    assert store.get_value("Booking", {"duration": 60}, "email") == "Dee@Example.com"
    assert store.get_value("Booking", {"duration": 99}, "email") is None
    with pytest.raises(InvalidInput) as error:
        store.list("Booking", {"nope": 1})
    assert error.value.field == "filters"
    with pytest.raises(InvalidInput):
        store.list("Booking", order_by="start; drop table x")
    with pytest.raises(InvalidInput) as error:
        store.list("Booking", fields=("name", "secret"))
    assert error.value.field == "fields"


# --- Types -----------------------------------------------------------------------------


def test_update_may_change_the_owner_and_no_other_standard_field(store):
    store.insert("Booking", booking_doc(name="own1", owner="a@example.com"))
    created = store.get("Booking", "own1")["creation"]
    store.update("Booking", "own1", {"owner": "b@example.com", "creation": datetime(2000, 1, 1, tzinfo=UTC)})
    doc = store.get("Booking", "own1")
    assert doc["owner"] == "b@example.com" and doc["creation"] == created


def test_count_by_groups_matching_rows_with_their_latest_value(store):
    starts = [datetime(2030, 1, 8, 9, 0, tzinfo=UTC) + timedelta(hours=i) for i in range(5)]
    hosts = ["a@example.com", "b@example.com", "a@example.com", "a@example.com", "b@example.com"]
    statuses = ["Confirmed", "Confirmed", "Confirmed", "Cancelled", "Confirmed"]
    for i, (start, host, status) in enumerate(zip(starts, hosts, statuses)):
        store.insert("Booking", booking_doc(name=f"g{i}", host=host, status=status, start=start,
                                            end=start + timedelta(minutes=30)))
    counted = store.count_by("Booking", {"status": "Confirmed", "start": [">=", starts[1]]}, "host", latest="start")
    assert counted == {"a@example.com": (1, starts[2]), "b@example.com": (2, starts[4])}
    assert counted["a@example.com"][1].tzinfo is not None  # aware UTC, as every read
    assert store.count_by("Booking", {"host": "nobody@example.com"}, "host") == {}
    with pytest.raises(InvalidInput):
        store.count_by("Booking", None, "no_such_field")


def test_datetimes_round_trip_as_aware_utc(store):
    new_york = datetime(2030, 3, 10, 1, 59, 30, 123456, tzinfo=ZoneInfo("America/New_York"))
    tokyo = datetime(2030, 3, 10, 23, 0, tzinfo=ZoneInfo("Asia/Kolkata"))  # +05:30
    booking = store.insert("Booking", booking_doc(start=new_york, end=tokyo, consent_time="2030-01-01T12:00:00+02:00"))
    doc = store.get("Booking", booking["name"])
    assert doc["start"] == new_york and doc["start"].tzinfo == UTC
    assert doc["start"] == datetime(2030, 3, 10, 6, 59, 30, 123456, tzinfo=UTC)  # microseconds kept
    assert doc["end"] == datetime(2030, 3, 10, 17, 30, tzinfo=UTC) and doc["end"].tzinfo == UTC
    assert doc["consent_time"] == datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    assert doc["creation"].tzinfo == UTC and doc["modified"].tzinfo == UTC
    # Filters take aware datetimes in any zone and compare instants.
    assert names(store, {"start": new_york.astimezone(ZoneInfo("Asia/Tokyo"))}) == [booking["name"]]
    listed = store.list("Booking", {"name": booking["name"]}, fields=("start",))[0]["start"]
    assert listed == new_york and listed.tzinfo == UTC
    with pytest.raises(InvalidInput) as error:
        store.insert("Booking", booking_doc(start="next tuesday"))
    assert error.value.field == "start"
    with pytest.raises(InvalidInput) as error:
        store.insert("Meeting Link", link_doc(availability=[{"weekday": "Monday", "start_time": "9h", "end_time": "10:00"}]))
    assert error.value.field == "start_time"


def test_json_fields_round_trip(store):
    answers = {"company": "Ada & Co <b>", "seats": 3, "tags": ["a", "ü", "✓"], "nested": {"ok": True, "none": None}}
    booking = store.insert("Booking", booking_doc(answers=answers))
    assert store.get("Booking", booking["name"])["answers"] == answers
    store.update("Booking", booking["name"], {"answers": []})
    assert store.get("Booking", booking["name"])["answers"] == []


def test_text_longer_than_its_column_names_the_field(store):
    with pytest.raises(InvalidInput) as error:
        store.insert("Booking", booking_doc(first_name="x" * 141))
    assert error.value.field == "first_name"
    store.insert("Booking", booking_doc(first_name="é" * 140, name="fits"))  # characters, not bytes
    assert store.get("Booking", "fits")["first_name"] == "é" * 140
    long_text = "y" * 100_000
    store.update("Booking", "fits", {"cancel_reason": long_text})  # Small Text is a text column
    assert store.get("Booking", "fits")["cancel_reason"] == long_text
    assert count(store, "Booking") == 1


def test_single_doctype_get_and_update(store):
    settings = store.get("Meetings Settings", "Meetings Settings")
    assert settings["name"] == "Meetings Settings"
    assert settings["default_duration"] == 30 and settings["internal_domains"] is None
    store.update("Meetings Settings", "Meetings Settings", {"internal_domains": "example.org\nacme.com", "default_duration": 45})
    settings = store.get("Meetings Settings", "Meetings Settings")
    assert settings["internal_domains"] == "example.org\nacme.com"
    assert settings["default_duration"] == 45
    assert settings["consent_enabled_by_default"] == 0
    store.update("Meetings Settings", "Meetings Settings", {"internal_domains": None, "consent_enabled_by_default": True})
    settings = store.get("Meetings Settings", "Meetings Settings")
    assert settings["internal_domains"] is None and settings["consent_enabled_by_default"] == 1
    assert settings["default_duration"] == 45


def test_passwords_are_kept_apart(store):
    add_user(store, "u@example.com")
    store.update("User", "u@example.com", {"api_secret": "s3cret"})
    store.set_password("User", "u@example.com", "api_secret", "s3cret")
    assert store.get("User", "u@example.com")["api_secret"] != "s3cret"
    assert store.get_password("User", "u@example.com", "api_secret") == "s3cret"


# --- Uniqueness and transactions -------------------------------------------------------


def test_unique_slug_raises_duplicate_entry(store):
    store.insert("Meeting Link", link_doc())
    with pytest.raises(DuplicateEntry) as error:
        store.insert("Meeting Link", link_doc(title="Another"))
    assert error.value.http_status == 409
    assert store.get("Meeting Link", "intro")["title"] == "Intro call"
    assert count(store, "Meeting Link Availability") == 3  # the failed insert left no children
    store.insert("Booking", booking_doc(name="k1", manage_token="t" * 64))
    store.insert("Booking", booking_doc(name="k2"))
    with pytest.raises(DuplicateEntry):
        store.update("Booking", "k2", {"manage_token": "t" * 64})


def test_duplicate_entry_inside_a_transaction_leaves_it_usable(store):
    """A caught DuplicateEntry must not poison the transaction (PostgreSQL aborts a whole
    transaction on a failed statement unless it ran in a savepoint)."""
    store.insert("Meeting Link", link_doc())
    with store.atomic():
        store.insert("Meeting Link", link_doc("second"))
        with pytest.raises(DuplicateEntry):
            store.insert("Meeting Link", link_doc())
        store.insert("Meeting Link", link_doc("third"))
    assert sorted(row["name"] for row in store.list("Meeting Link")) == ["intro", "second", "third"]


def test_atomic_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.insert("Meeting Link", link_doc())
            store.insert("Booking", booking_doc(name="b"))
            assert store.get("Meeting Link", "intro") is not None  # visible inside
            raise RuntimeError("boom")
    assert store.get("Meeting Link", "intro") is None
    assert count(store, "Meeting Link") == count(store, "Meeting Link Availability") == count(store, "Booking") == 0


def test_nested_atomic_is_a_savepoint(store):
    with store.atomic():
        store.insert("Booking", booking_doc(name="outer"))
        with pytest.raises(ValueError):
            with store.atomic():
                store.insert("Booking", booking_doc(name="inner"))
                raise ValueError("undo the inner block only")
        with store.atomic():
            store.insert("Booking", booking_doc(name="kept"))
    assert names(store, {}) == ["kept", "outer"]

    with pytest.raises(ValueError):
        with store.atomic():
            with store.atomic():
                store.insert("Booking", booking_doc(name="released"))
            raise ValueError("the outer failure undoes a released savepoint too")
    assert names(store, {}) == ["kept", "outer"]


def test_after_commit_runs_only_on_commit(store):
    ran: list[str] = []
    assert store.after_commit(lambda: ran.append("no transaction")) is False
    assert ran == []

    with store.atomic():
        assert store.after_commit(lambda: ran.append("committed")) is True
        store.insert("Booking", booking_doc(name="a"))
        assert ran == []  # not before the commit
    assert ran == ["committed"]

    with pytest.raises(KeyError):
        with store.atomic():
            store.after_commit(lambda: ran.append("rolled back"))
            raise KeyError("x")
    assert ran == ["committed"]

    with store.atomic():
        store.after_commit(lambda: ran.append("outer"))
        with pytest.raises(KeyError):
            with store.atomic():
                store.after_commit(lambda: ran.append("undone savepoint"))
                raise KeyError("y")
        with store.atomic():
            store.after_commit(lambda: ran.append("released savepoint"))
    assert ran == ["committed", "outer", "released savepoint"]


def test_lock_needs_a_transaction_and_an_existing_row(store):
    add_user(store, "host@example.com")
    with pytest.raises(RuntimeError):
        store.lock("User", ["host@example.com"])
    with pytest.raises(NotFound) as error:
        with store.atomic():
            store.lock("User", ["host@example.com", "ghost@example.com"])
    assert "ghost@example.com" in error.value.message
    with store.atomic():
        store.lock("User", ["host@example.com", "host@example.com"])
        store.lock("User", [])


def test_lock_serializes_two_transactions(services):
    """What makes a reservation atomic: the second locker waits for the first to end and
    then reads what it committed."""
    store = services.store
    add_user(store, "host@example.com")
    events: list[tuple[str, float]] = []
    first_has_lock = threading.Event()
    seen: list[int] = []

    def first():
        with store.atomic():
            store.lock("User", ["host@example.com"])
            first_has_lock.set()
            clock.sleep(0.4)
            store.insert("Booking", booking_doc(name="first"))
            events.append(("first commits", clock.monotonic()))

    def second():
        first_has_lock.wait(10)
        with store.atomic():
            store.lock("User", ["host@example.com"])
            events.append(("second locked", clock.monotonic()))
            seen.append(len(store.list("Booking", {"status": "Confirmed"}, for_update=True)))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [name for name, _ in events] == ["first commits", "second locked"]
    assert seen == [1]


def test_for_update_read_sees_commits_made_after_the_transaction_began(services, backend):
    """The re-check after the lock must see bookings committed while this transaction
    waited, even though it read before (REPEATABLE READ would hide them)."""
    store = services.store
    inserted = threading.Event()

    def other():
        store.insert("Booking", booking_doc(name="late"))
        inserted.set()

    with store.atomic():
        assert store.list("Booking", {}, for_update=True) == []  # an early read
        thread = threading.Thread(target=other)
        thread.start()
        if backend != "sqlite":  # SQLite: our BEGIN IMMEDIATE makes the other writer wait for us
            assert inserted.wait(10)
            assert [row["name"] for row in store.list("Booking", {}, for_update=True)] == ["late"]
    thread.join(30)
    assert inserted.is_set()
    assert names(store, {}) == ["late"]


def test_a_deadlock_leaves_atomic_as_a_transaction_conflict(services, backend):
    """Two transactions locking two rows in opposite orders: the database undoes one, which
    leaves atomic() as TransactionConflict (409, safe to retry) with nothing stored."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time (BEGIN IMMEDIATE): it cannot deadlock")
    store = services.store
    add_user(store, "a@example.com")
    add_user(store, "b@example.com")
    both_hold_one = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(first: str, second: str) -> None:
        try:
            with store.atomic():
                store.insert("Booking", booking_doc(name=f"by-{first}"))
                store.lock("User", [first])
                both_hold_one.wait(10)
                store.lock("User", [second])
            outcomes[first] = "committed"
        except Exception as error:  # noqa: BLE001
            outcomes[first] = error

    threads = [threading.Thread(target=run, args=pair) for pair in (("a@example.com", "b@example.com"), ("b@example.com", "a@example.com"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    results = sorted(outcomes.values(), key=lambda outcome: outcome == "committed")
    assert isinstance(results[0], TransactionConflict), repr(results[0])
    assert results[0].http_status == 409 and "try again" in results[0].message
    assert results[1] == "committed"
    assert count(store, "Booking") == 1
