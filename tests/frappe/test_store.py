"""FrappeStore: the Store port over Frappe's document API, with the semantics of the
standalone store."""

import time as clock
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.errors import DuplicateEntry, InvalidInput, NotFound, TransactionConflict  # noqa: E402
from meetings_addon.hosts.frappe.store import FrappeStore  # noqa: E402
from tests.frappe.conftest import link_values, make_user, unique  # noqa: E402

UTC = timezone.utc


@pytest.fixture
def host(site):
    return make_user(f"{unique('st')}@meetings-host.example.com", "Stella")


def local_event(store, user, start, end, **values):
    return store.insert("Local Calendar Event", {"user": user, "summary": "Busy", "start": start, "end": end, **values})


def test_system_time_zone_is_not_utc(site):
    """The round trips below mean something only when Frappe's naive times are not UTC."""
    from frappe.utils import get_system_timezone

    assert ZoneInfo(get_system_timezone()).utcoffset(datetime(2030, 1, 7)) != timedelta(0)


@pytest.fixture(params=["site", "Asia/Kolkata", "America/Los_Angeles"])
def system_zone(request, site, monkeypatch):
    """The site's own system time zone, and two others (set for this process only)."""
    frappe.get_system_settings("time_zone")
    if request.param != "site":
        monkeypatch.setattr(frappe.local.system_settings, "time_zone", request.param)
    return frappe.utils.get_system_timezone()


def test_datetime_round_trip_is_the_same_instant(site, host, system_zone):
    store = FrappeStore()
    assert str(store.zone) == system_zone
    start = datetime(2030, 1, 7, 14, 30, 15, 250000, tzinfo=UTC)
    end = datetime(2030, 7, 7, 15, 0, tzinfo=ZoneInfo("Europe/Paris"))  # summer time, non-UTC offset in
    doc = local_event(store, host, start, end)
    assert doc["start"] == start and doc["start"].tzinfo == UTC
    got = store.get("Local Calendar Event", doc["name"])
    assert got["start"] == start and got["start"].utcoffset() == timedelta(0)
    assert got["end"] == end and got["end"].tzinfo == UTC
    # Frappe's own stamps are in the system time zone too: they come back as UTC instants.
    assert got["creation"].tzinfo == UTC and abs(got["creation"] - datetime.now(UTC)) < timedelta(minutes=5)
    # Frappe's column holds the wall-clock time of the system time zone, naive.
    raw = frappe.db.get_value("Local Calendar Event", doc["name"], "start")
    assert raw == start.astimezone(ZoneInfo(system_zone)).replace(tzinfo=None)
    # Filters convert too: the range around the instant finds it, one beside it does not.
    found = store.list(
        "Local Calendar Event",
        {"user": host, "start": [">=", start], "end": ["<=", end]},
        fields=("name", "start", "end"),
    )
    assert found == [{"name": doc["name"], "start": start, "end": end}]
    assert not store.list("Local Calendar Event", {"user": host, "start": [">", start]})
    # An aware instant in another offset, and ISO 8601 text, are the same instant.
    moved = start.astimezone(ZoneInfo("Asia/Tokyo"))
    store.update("Local Calendar Event", doc["name"], {"start": moved, "end": (end + timedelta(hours=1)).isoformat()})
    got = store.get("Local Calendar Event", doc["name"])
    assert got["start"] == start and got["end"] == end + timedelta(hours=1)


def test_the_site_zone_is_frappes_system_time_zone(site, host):
    from frappe.utils import get_system_timezone

    store = FrappeStore()
    doc = local_event(store, host, datetime(2030, 3, 1, 12, tzinfo=UTC), datetime(2030, 3, 1, 13, tzinfo=UTC))
    raw = frappe.db.get_value("Local Calendar Event", doc["name"], "start")
    assert raw == datetime(2030, 3, 1, 12, tzinfo=UTC).astimezone(ZoneInfo(get_system_timezone())).replace(tzinfo=None)


def test_an_instant_in_the_repeated_fall_back_hour_reads_as_its_first_occurrence(site, host, monkeypatch):
    """Frappe's limit, documented in store.py: naive local times cannot tell the two
    occurrences of the hour the clocks go back apart."""
    frappe.get_system_settings("time_zone")
    monkeypatch.setattr(frappe.local.system_settings, "time_zone", "America/New_York")
    store = FrappeStore()
    first = datetime(2030, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2030, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST
    doc = local_event(store, host, second, second + timedelta(hours=2))
    assert store.get("Local Calendar Event", doc["name"])["start"] == first


def test_json_and_child_tables_round_trip(site, host, services):
    store = services.store
    slug = unique("st")
    store.insert("Meeting Link", {k: v for k, v in link_values(slug, host).items() if k != "doctype"})
    link = store.get("Meeting Link", slug)
    assert [row["weekday"] for row in link["availability"]][:2] == ["Monday", "Tuesday"]
    assert link["availability"][0]["start_time"] == time(9, 0)
    assert link["questions"][0]["fieldname"] == "company"
    start = datetime(2030, 1, 7, 9, tzinfo=UTC)
    booking = store.insert(
        "Booking",
        {
            "meeting_link": slug, "host": host, "status": "Confirmed", "email": "ann@example.org",
            "start": start, "end": start + timedelta(minutes=30), "duration": 30,
            "answers": {"company": "ACME", "size": 12, "nested": {"ok": True}},
        },
    )
    got = store.get("Booking", booking["name"])
    assert got["answers"] == {"company": "ACME", "size": 12, "nested": {"ok": True}}
    assert store.list("Booking", {"name": booking["name"]}, fields=("answers",)) == [{"answers": got["answers"]}]
    # A child table given to update() replaces the table; other fields stay.
    store.update("Meeting Link", slug, {"availability": [{"weekday": "Friday", "start_time": "10:00", "end_time": "12:00"}]})
    link = store.get("Meeting Link", slug)
    assert [(r["weekday"], r["start_time"], r["end_time"]) for r in link["availability"]] == [("Friday", time(10), time(12))]
    assert link["questions"][0]["fieldname"] == "company"


def test_singles_read_and_update(site, services):
    store = services.store
    settings = store.get("Meetings Settings", "Meetings Settings")
    assert settings["name"] == "Meetings Settings" and "internal_domains" in settings
    store.update("Meetings Settings", "Meetings Settings", {"default_duration": 45})
    assert store.get_value("Meetings Settings", {}, "default_duration") == 45


def test_missing_documents_and_fields(site, services):
    store = services.store
    assert store.get("Meeting Link", "no-such-link") is None
    assert store.get_value("User", {"name": "nobody@example.org"}, "name") is None
    with pytest.raises(NotFound):
        store.get("No Such DocType", "x")
    with pytest.raises(NotFound):
        store.update("Booking", "nope", {"status": "Cancelled"})
    with pytest.raises(InvalidInput) as bad:
        store.list("Booking", {"no_such_field": 1})
    assert bad.value.field == "filters"
    with pytest.raises(InvalidInput):
        store.list("Booking", fields=("name", "secret_column"))
    with pytest.raises(InvalidInput):
        store.list("Booking", order_by="start; drop table x")
    assert not frappe.local.message_log, "lookups must not leave messages for the response"


def test_exact_names_only(site, host, services):
    store = services.store
    slug = unique("st")
    store.insert("Meeting Link", {k: v for k, v in link_values(slug, host).items() if k != "doctype"})
    assert store.get("Meeting Link", slug)["name"] == slug
    assert store.get("Meeting Link", slug.upper()) is None  # MariaDB would match it


def test_duplicates_are_the_domain_error(site, host, services):
    store = services.store
    slug = unique("st")
    values = {k: v for k, v in link_values(slug, host).items() if k != "doctype"}
    store.insert("Meeting Link", values)
    with pytest.raises(DuplicateEntry):
        store.insert("Meeting Link", values)


def test_filters_operators_and_order(site, host, services):
    store = services.store
    base = datetime(2030, 2, 4, 9, tzinfo=UTC)
    names = [local_event(store, host, base + timedelta(hours=i), base + timedelta(hours=i, minutes=30),
                         status=status)["name"]
             for i, status in enumerate(["Confirmed", "Cancelled", "Tentative"])]
    rows = store.list("Local Calendar Event", {"user": host}, fields=("name",), order_by="start desc")
    assert [r["name"] for r in rows] == names[::-1]
    rows = store.list("Local Calendar Event", {"user": host, "status": ["!=", "Cancelled"]}, order_by="start asc")
    assert [r["name"] for r in rows] == [names[0], names[2]]
    rows = store.list("Local Calendar Event", {"user": host, "status": ["in", ["Cancelled", "Tentative"]]}, order_by="start")
    assert [r["name"] for r in rows] == names[1:]
    assert len(store.list("Local Calendar Event", {"user": host, "uid": ["is", "not set"]})) == 3
    # Frappe's semantics (the standalone store copies them): != and not in match unset fields.
    assert len(store.list("Local Calendar Event", {"user": host, "uid": ["!=", "x"]})) == 3
    assert len(store.list("Local Calendar Event", {"user": host, "uid": ["not in", ["x"]]})) == 3
    store.update("Local Calendar Event", names[0], {"location": ""})
    assert names[0] not in [r["name"] for r in store.list("Local Calendar Event", {"user": host, "location": ["is", "set"]})]
    with pytest.raises(InvalidInput):
        store.list("Local Calendar Event", {"uid": ["is", "maybe"]})
    assert store.list("Local Calendar Event", {"user": host}, order_by="start", limit=1) == [{"name": names[0]}]
    assert store.get_value("Local Calendar Event", {"user": host, "status": "Tentative"}, "name") == names[2]


def test_atomic_rolls_back_to_its_savepoint_only(site, host, services):
    store = services.store
    kept = local_event(store, host, datetime(2030, 1, 7, 9, tzinfo=UTC), datetime(2030, 1, 7, 10, tzinfo=UTC))
    with pytest.raises(RuntimeError):
        with store.atomic():
            local_event(store, host, datetime(2030, 1, 8, 9, tzinfo=UTC), datetime(2030, 1, 8, 10, tzinfo=UTC))
            with store.atomic():
                pass
            raise RuntimeError("boom")
    names = [r["name"] for r in store.list("Local Calendar Event", {"user": host})]
    assert names == [kept["name"]]


def test_lock_needs_atomic_and_existing_rows(site, host, services):
    store = services.store
    with pytest.raises(RuntimeError):
        store.lock("User", [host])
    with store.atomic():
        store.lock("User", [host])
        store.lock("User", [])
        with pytest.raises(NotFound):
            store.lock("User", [host, "nobody@example.org"])


def test_insert_keeps_the_owner_the_core_names(site, host, services):
    """A guest's booking logs the Event as the host's (a Private Event is its owner's)."""
    store = services.store
    frappe.set_user("Guest")
    event = store.insert(
        "Event",
        {"subject": "Owned", "starts_on": datetime(2030, 1, 7, 9, tzinfo=UTC), "event_type": "Private",
         "event_category": "Meeting", "owner": host},
    )
    frappe.set_user("Administrator")
    assert event["owner"] == host
    assert frappe.db.get_value("Event", event["name"], "owner") == host


def test_a_text_longer_than_its_column_names_the_field(site, host, services):
    with pytest.raises(InvalidInput) as refused:
        local_event(services.store, host, datetime(2030, 1, 7, 9, tzinfo=UTC), datetime(2030, 1, 7, 10, tzinfo=UTC),
                    summary="x" * 141)
    assert refused.value.field == "summary" and "at most 140" in refused.value.reason


def test_jobs_queued_inside_a_rolled_back_savepoint_are_dropped(site, services):
    from meetings_addon.hosts.frappe import jobs

    with services.store.atomic():
        services.jobs.enqueue("meetings_addon.booking.jobs.sync_calendar_event", job_id="kept", booking="a")
        with pytest.raises(RuntimeError):
            with services.store.atomic():
                services.jobs.enqueue("meetings_addon.booking.jobs.sync_calendar_event", job_id="dropped", booking="b")
                assert jobs._pending("dropped")
                raise RuntimeError("undo")
    assert jobs._pending("kept") and not jobs._pending("dropped")
    frappe.db.rollback()
    assert not jobs._pending("kept")


def test_a_deadlock_rolls_back_and_raises_transaction_conflict(site):
    """Two transactions lock two rows in opposite orders: MariaDB undoes one of them,
    which leaves atomic() as TransactionConflict with its whole transaction rolled back."""
    import threading

    from meetings_addon.hosts.frappe.services import services as build

    first_locked, outcome = threading.Event(), {}
    sites_path = frappe.local.sites_path

    def other():
        frappe.init(site=site, sites_path=sites_path)
        frappe.connect()
        try:
            store = build().store
            with store.atomic():
                store.lock("User", ["Guest"])
                first_locked.set()
                clock.sleep(0.5)
                store.lock("User", ["Administrator"])
            outcome["other"] = "ok"
        except TransactionConflict:
            outcome["other"] = "conflict"
        finally:
            frappe.db.rollback()
            frappe.destroy()

    thread = threading.Thread(target=other)
    store = build().store
    with _either() as mine:
        with store.atomic():
            store.lock("User", ["Administrator"])
            thread.start()
            first_locked.wait(10)
            store.lock("User", ["Guest"])
    thread.join(30)
    assert sorted([mine.outcome, outcome.get("other")]) == ["conflict", "ok"], (mine.outcome, outcome)
    if mine.outcome == "conflict":
        assert not frappe.db.sql("select 1 from information_schema.innodb_trx where trx_mysql_thread_id = connection_id()")


class _either:
    """Records whether the block raised TransactionConflict."""

    outcome = None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, _tb):
        self.outcome = "conflict" if isinstance(error, TransactionConflict) else ("ok" if error is None else None)
        return isinstance(error, TransactionConflict)


def test_count_by_groups_with_the_latest_value(site):
    store = FrappeStore()
    start = datetime(2031, 5, 6, 8, 0, tzinfo=timezone.utc)
    link = f"cb-{frappe.generate_hash(length=6)}"
    for i, host in enumerate(["Administrator", "Guest", "Administrator"]):
        store.insert("Booking", {"host": host, "status": "Confirmed",
                                 "start": start + timedelta(hours=i), "end": start + timedelta(hours=i, minutes=30),
                                 "duration": 30, "email": f"{link}-{i}@example.org", "first_name": "C",
                                 "timezone": "UTC"})
    counted = store.count_by("Booking", {"email": ["like", f"{link}-%"]}, "host", latest="start")
    assert counted == {"Administrator": (2, start + timedelta(hours=2)), "Guest": (1, start + timedelta(hours=1))}


def test_count_by_for_update_inside_a_transaction_sees_other_commits(site):
    """Round robin reads its counts under the hosts' lock with for_update: on MariaDB's
    REPEATABLE READ that must be a locking read, or a booking committed by another
    connection after this transaction's first read would not count."""
    import threading

    store = FrappeStore()
    tag = frappe.generate_hash(length=6)
    filters = {"email": ["like", f"{tag}-%"]}
    with store.atomic():
        assert store.count_by("Booking", filters, "host") == {}  # a plain read: the snapshot starts here

        site, sites_path, failures = frappe.local.site, frappe.local.sites_path, []

        def other_connection():  # a thread of its own: its own frappe.local and connection
            frappe.init(site=site, sites_path=sites_path)
            frappe.connect()
            try:
                frappe.get_doc({"doctype": "Booking", "host": "Administrator", "status": "Confirmed",
                                "start": "2031-06-02 10:00:00", "end": "2031-06-02 10:30:00", "duration": 30,
                                "email": f"{tag}-1@example.org", "first_name": "O", "timezone": "UTC"}).insert(
                    ignore_permissions=True)
                frappe.db.commit()
            except Exception as error:  # noqa: BLE001 - reported by the test below
                failures.append(error)
            finally:
                frappe.destroy()

        thread = threading.Thread(target=other_connection)
        thread.start()
        thread.join(30)
        assert not failures, failures
        assert store.count_by("Booking", filters, "host") == {}  # the snapshot does not see it
        counted = store.count_by("Booking", filters, "host", for_update=True)
        assert counted.get("Administrator", (0, None))[0] == 1  # the locking read does
    frappe.db.rollback()
    frappe.db.delete("Booking", filters)
    frappe.db.commit()
