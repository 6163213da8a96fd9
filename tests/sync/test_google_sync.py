"""Calendar sync against the Google emulator: what gets logged on the timeline, and how
the sync survives expired tokens, interruptions and concurrent runs."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from meetings_addon.booking import service as booking_service
from meetings_addon.booking.jobs import sync_calendar_event
from meetings_addon.connections import google_oauth
from meetings_addon.sync import jobs, logging as sync_logging, push, service
from meetings_addon.sync.service import sync_calendar
from tests.sync.support import add_contact, calendar_bookings, soon

HOST = "host@team.example"
GUEST = "gia@client.example"
EVENTS = r"/calendar/v3/calendars/[^/]+/events$"


def connect(services, google, kit):
    google.add_account(HOST)
    kit.add_host(services)
    url = google_oauth.start(services, HOST)
    return google_oauth.callback(services, kit.consent(url, os.environ["MEETINGS_CA_BUNDLE"]))


@pytest.fixture
def world(services, google, kit):
    connection = connect(services, google, kit)
    contact = add_contact(services, GUEST)
    return services, google, connection, contact


def run(services, connection, **kwargs):
    return sync_calendar(services, connection["name"], HOST, **kwargs)


def test_first_sync_after_connecting_logs_meetings_with_contacts(world):
    services, google, connection, contact = world
    start, end = soon()
    event = google.add_event(HOST, HOST, start, end, summary="Demo with Gia", attendees=[GUEST], description="Agenda")
    google.add_event(HOST, HOST, start + timedelta(hours=2), end + timedelta(hours=2), summary="Focus time")
    google.add_event(HOST, HOST, start, end, summary="Unknown", attendees=["stranger@else.example"])

    result = run(services, connection)

    assert result.ran and result.full and result.counts["logged"] == 1
    [booking] = calendar_bookings(services)
    assert booking["status"] == "Confirmed" and booking["host"] == HOST and booking["contact"] == contact
    assert booking["provider_event_id"] == event["id"] and booking["ical_uid"] == event["iCalUID"]
    # Where the event lives, for changes made from the CRM record later.
    assert (booking["calendar_connection"], booking["calendar_id"]) == (connection["name"], HOST)
    assert booking["start"] == start and booking["end"] == end and booking["email"] == GUEST
    timeline = services.store.get("Event", booking["event"])
    assert timeline["event_category"] == "Meeting" and timeline["subject"] == "Demo with Gia"
    assert [(p["reference_doctype"], p["reference_docname"]) for p in timeline["event_participants"]] == [("Contact", contact)]
    row = services.store.get("Calendar Connection", connection["name"])["calendars"][0]
    assert row["sync_token"] and row["synced_on"] and not row["sync_lease_until"] and not row["sync_page_token"]

    # Nothing changed: the next run is incremental and logs nothing again.
    again = run(services, connection)
    assert not again.full and again.counts["logged"] == 0
    assert google.matching("GET", EVENTS)[-1].query.get("syncToken") == row["sync_token"]
    assert len(calendar_bookings(services)) == 1


def test_every_matched_contact_is_a_participant(world):
    services, google, connection, contact = world
    other = add_contact(services, "omar@client.example", "Omar")
    start, end = soon()
    google.add_event(HOST, HOST, start, end, attendees=["omar@client.example", GUEST])
    run(services, connection)
    [booking] = calendar_bookings(services)
    parts = services.store.get("Event", booking["event"])["event_participants"]
    assert {p["reference_docname"] for p in parts} == {contact, other} and booking["contact"] == other


def test_expired_sync_token_resyncs_in_full_without_duplicates(world):
    services, google, connection, _ = world
    start, end = soon()
    google.add_event(HOST, HOST, start, end, attendees=[GUEST])
    run(services, connection)
    google.add_event(HOST, HOST, start + timedelta(days=1), end + timedelta(days=1), attendees=[GUEST])
    google.fail("GET", EVENTS, lambda: __import__("tests.emulators.google", fromlist=["api_error"]).api_error(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."))

    result = run(services, connection)

    assert result.full
    assert len(calendar_bookings(services)) == 2
    assert len({b["provider_event_id"] for b in calendar_bookings(services)}) == 2
    assert len(services.store.list("Event")) == 2


def test_moved_retitled_event_updates_booking_and_event(world):
    services, google, connection, _ = world
    start, end = soon()
    event = google.add_event(HOST, HOST, start, end, summary="Demo", attendees=[GUEST])
    run(services, connection)
    google.change_event(HOST, HOST, event["id"], start=start + timedelta(hours=3), end=end + timedelta(hours=3),
                        summary="Demo (moved)", description="New agenda")
    run(services, connection)
    [booking] = calendar_bookings(services)
    assert booking["start"] == start + timedelta(hours=3) and booking["end"] == end + timedelta(hours=3)
    timeline = services.store.get("Event", booking["event"])
    assert timeline["starts_on"] == start + timedelta(hours=3) and timeline["subject"] == "Demo (moved)"
    assert timeline["description"] == "New agenda"


def test_attendee_added_later_gets_logged_and_removed_attendee_leaves(world):
    services, google, connection, contact = world
    start, end = soon()
    event = google.add_event(HOST, HOST, start, end, summary="Planning")
    run(services, connection)
    assert calendar_bookings(services) == []
    other = add_contact(services, "omar@client.example", "Omar")
    google.change_event(HOST, HOST, event["id"], attendees=[GUEST, "omar@client.example"])
    run(services, connection)
    [booking] = calendar_bookings(services)
    assert {p["reference_docname"] for p in services.store.get("Event", booking["event"])["event_participants"]} == {contact, other}
    google.change_event(HOST, HOST, event["id"], attendees=["omar@client.example"])
    run(services, connection)
    parts = services.store.get("Event", booking["event"])["event_participants"]
    assert [p["reference_docname"] for p in parts] == [other]
    assert services.store.get("Booking", booking["name"])["contact"] == other


def test_internal_and_user_attendees_are_never_matched(world, kit):
    services, google, connection, _ = world
    services.store.update("Meetings Settings", "Meetings Settings", {"internal_domains": "team.example\npartner.example"})
    kit.add_host(services, "colleague@other.example")
    add_contact(services, "pat@partner.example", "Pat")  # a contact, but on an internal domain
    add_contact(services, "colleague@other.example", "Col")  # a contact, but a user
    start, end = soon()
    google.add_event(HOST, HOST, start, end, attendees=["pat@partner.example", "colleague@other.example"])
    run(services, connection)
    assert calendar_bookings(services) == []
    assert sync_logging.match_contacts(services, ["pat@partner.example", "colleague@other.example", GUEST]) == {
        GUEST: services.store.get_value("Contact Email", {"email_id": GUEST}, "parent")}


def test_events_from_before_the_connection_are_ignored(world):
    services, google, connection, _ = world
    start, end = soon()
    google.add_event(HOST, HOST, start, end, attendees=[GUEST], created=connection["connected_on"] - timedelta(days=3))
    run(services, connection)
    assert calendar_bookings(services) == []


def test_deleted_event_cancels_booking_and_event(world):
    services, google, connection, _ = world
    start, end = soon()
    event = google.add_event(HOST, HOST, start, end, attendees=[GUEST])
    run(services, connection)
    google.remove_event(HOST, HOST, event["id"])
    result = run(services, connection)
    assert result.counts["cancelled"] == 1
    [booking] = calendar_bookings(services)
    assert booking["status"] == "Cancelled"
    assert services.store.get("Event", booking["event"])["status"] == "Cancelled"


def test_sync_killed_half_way_resumes_without_loss_or_duplicates(world, monkeypatch):
    services, google, connection, _ = world
    start, end = soon()
    for i in range(7):
        google.add_event(HOST, HOST, start + timedelta(hours=i), end + timedelta(hours=i), attendees=[GUEST], summary=f"M{i}")
    real = sync_logging.apply_page
    calls = {"n": 0}

    def dies_on_second_page(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(sync_logging, "apply_page", dies_on_second_page)
    with pytest.raises(RuntimeError):
        run(services, connection, page_size=3)
    assert len(calendar_bookings(services)) == 3
    row = services.store.get("Calendar Connection", connection["name"])["calendars"][0]
    assert row["sync_page_token"] == "3" and not row["sync_token"] and not row["sync_lease_until"]

    monkeypatch.setattr(sync_logging, "apply_page", real)
    result = run(services, connection, page_size=3)
    assert google.matching("GET", EVENTS)[-result.pages].query.get("pageToken") == "3"
    bookings = calendar_bookings(services)
    assert sorted(b["subject"] for b in bookings) == [f"M{i}" for i in range(7)]
    assert len(services.store.list("Event")) == 7


def test_only_one_sync_of_a_calendar_at_a_time(world):
    services, google, connection, _ = world
    assert service.acquire(services, connection["name"], HOST)
    assert run(services, connection).ran is False
    assert google.count("GET", EVENTS) == 0
    service.release(services, connection["name"], HOST)
    assert run(services, connection).ran


def test_the_apps_own_booking_events_are_not_logged_twice(world, kit):
    services, google, connection, contact = world
    kit.add_link(services)
    slots = booking_service.get_slots(services, {"link": "hana-30", "start": kit.next_monday().isoformat(),
                                                 "end": (kit.next_monday() + timedelta(days=6)).isoformat(),
                                                 "timezone": "UTC"})
    booked = booking_service.book(services, {"link": "hana-30", "start": slots["slots"][0]["start"], "duration": 30,
                                            **kit.visitor(email=GUEST)})
    services.jobs.drain(10)
    name = booked.get("name") or booked.get("booking")
    doc = services.store.get("Booking", name) if name else services.store.list("Booking", fields=("*",))[0]
    if not doc.get("provider_event_id"):
        sync_calendar_event(services, doc["name"])
    events_before = len(services.store.list("Event"))
    result = run(services, connection)
    assert result.counts["logged"] == 0 and result.counts["skipped"] >= 1
    assert calendar_bookings(services) == [] and len(services.store.list("Event")) == events_before


def test_poll_queues_due_calendars_once(world, monkeypatch):
    services, google, connection, _ = world
    queued = []
    monkeypatch.setattr(services.jobs, "enqueue", lambda method, job_id=None, **kw: queued.append((method, job_id, kw)))
    assert jobs.poll(services) == 1
    assert queued[0][0] == "meetings_addon.sync.jobs.sync_connection"
    assert queued[0][1] == jobs.job_id(connection["name"], HOST)
    run(services, connection)
    queued.clear()
    assert jobs.poll(services) == 0


def test_google_push_checks_the_channel_token(world, monkeypatch):
    services, google, connection, _ = world
    rows = [dict(r, channel_id="chan-1", channel_token="s3cret") for r in
            services.store.get("Calendar Connection", connection["name"])["calendars"]]
    services.store.update("Calendar Connection", connection["name"], {"calendars": rows})
    queued = []
    monkeypatch.setattr(services.jobs, "enqueue", lambda method, job_id=None, **kw: queued.append(job_id))
    headers = {"X-Goog-Channel-ID": "chan-1", "X-Goog-Resource-State": "exists"}
    assert push.google_notification(services, {**headers, "X-Goog-Channel-Token": "wrong"})[0] == 403
    assert push.google_notification(services, headers)[0] == 403
    assert queued == []
    assert push.google_notification(services, {**headers, "X-Goog-Channel-Token": "s3cret"})[0] == 200
    assert queued == [jobs.job_id(connection["name"], HOST)]


def test_graph_push_handshake_and_client_state(world, monkeypatch):
    services, google, connection, _ = world
    rows = [dict(r, channel_id="sub-1", channel_token="state-1") for r in
            services.store.get("Calendar Connection", connection["name"])["calendars"]]
    services.store.update("Calendar Connection", connection["name"], {"calendars": rows})
    queued = []
    monkeypatch.setattr(services.jobs, "enqueue", lambda method, job_id=None, **kw: queued.append(job_id))
    assert push.graph_notification(services, {"validationToken": "abc def"}, None) == (200, "text/plain", "abc def")
    assert push.graph_notification(services, {}, {"value": [{"subscriptionId": "sub-1", "clientState": "no"}]})[0] == 403
    assert push.graph_notification(services, {}, {"value": [{"subscriptionId": "sub-1", "clientState": "state-1"}]})[0] == 202
    assert queued == [jobs.job_id(connection["name"], HOST)]


def test_push_endpoints_over_http(world):
    import requests

    from tests.calendars.conftest import Server

    services, google, connection, _ = world
    rows = [dict(r, channel_id="chan-1", channel_token="s3cret") for r in
            services.store.get("Calendar Connection", connection["name"])["calendars"]]
    services.store.update("Calendar Connection", connection["name"], {"calendars": rows})
    server = Server(services)
    try:
        url = f"{server.url}/api/method/meetings_addon.api.sync."
        wrong = requests.post(url + "google_push", headers={"X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": "x",
                                                            "X-Goog-Resource-State": "exists"}, timeout=10)
        assert wrong.status_code == 403
        handshake = requests.post(url + "graph_push", params={"validationToken": "tok en"}, timeout=10)
        assert handshake.status_code == 200 and handshake.text == "tok en"
        assert handshake.headers["Content-Type"].startswith("text/plain")
        ok = requests.post(url + "google_push", headers={"X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": "s3cret",
                                                         "X-Goog-Resource-State": "exists"}, timeout=10)
        assert ok.status_code == 200
    finally:
        server.stop()
        services.jobs.drain(10)
