"""Google Calendar through the real google-auth, google-auth-oauthlib and
google-api-python-client, against the Google emulator (tests/emulators/google.py)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.booking import jobs, service, slot_cache
from meetings_addon.calendars import retry
from meetings_addon.calendars.google import GoogleCalendar, event_id_for
from meetings_addon.connections import google_oauth
from meetings_addon.connections.registry import user_calendars
from meetings_addon.errors import CalendarUnavailable
from tests.calendars.support import at, check_all, month, starts

FREEBUSY = r"/calendar/v3/freeBusy$"
EVENTS = r"/calendar/v3/calendars/[^/]+/events$"


def connect(services, google, kit, *, extra_calendars: int = 1):
    """The OAuth dance end to end: consent URL -> emulator approves -> callback."""
    if kit.HOST not in google.accounts:
        google.add_account(kit.HOST, calendars=extra_calendars)
    url = google_oauth.start(services, kit.HOST)
    params = kit.consent(url, _ca())
    return google_oauth.callback(services, params)


def _ca():
    import os

    return os.environ["MEETINGS_CA_BUNDLE"]


@pytest.fixture
def booked_host(services, google, kit):
    kit.add_host(services)
    kit.add_link(services)
    connection = connect(services, google, kit)
    return check_all(services, connection)


# --- Connecting --------------------------------------------------------------------------


def test_connecting_lists_the_calendars_and_keeps_the_tokens_secret(services, google, kit):
    kit.add_host(services)
    google.add_account(kit.HOST, calendars=0)
    google.add_calendar(kit.HOST, "team@group.calendar.google.com", "Team", "writer")
    google.add_calendar(kit.HOST, "holidays@group.v.calendar.google.com", "Holidays", "reader")
    google.add_calendar(kit.HOST, "boss@team.example", "Boss", "freeBusyReader")
    url = google_oauth.start(services, kit.HOST)
    auth = google.authorizations
    connection = google_oauth.callback(services, kit.consent(url, _ca()))

    request = auth[0]
    assert request["access_type"] == "offline" and request["prompt"] == "consent"
    assert request["code_challenge_method"] == "S256" and len(request["code_challenge"]) == 43
    assert request["state"] and request["redirect_uri"].endswith("/api/method/meetings_addon.api.connections.google_callback")
    assert connection["provider"] == "Google" and connection["account"] == kit.HOST
    assert connection["status"] == "Connected" and connection["connected_on"]
    rows = {row["calendar_id"]: row for row in connection["calendars"]}
    assert set(rows) == {kit.HOST, "team@group.calendar.google.com", "holidays@group.v.calendar.google.com", "boss@team.example"}
    assert rows[kit.HOST]["is_default"] == 1 and rows[kit.HOST]["check_availability"] == 1
    assert sum(row["is_default"] for row in rows.values()) == 1
    assert rows["boss@team.example"]["access_role"] == "freeBusyReader"
    # Tokens went to the Secrets port, not into the document.
    name = connection["name"]
    assert services.secrets.get("Calendar Connection", name, "refresh_token").startswith("1//")
    assert services.secrets.get("Calendar Connection", name, "access_token").startswith("ya29.")
    assert "1//" not in repr(services.store.get("Calendar Connection", name))
    # A state is good once.
    with pytest.raises(Exception) as error:
        google_oauth.callback(services, {"state": request["state"], "code": "4/0Aagain"})
    assert "state" in str(error.value)


def test_a_second_connect_updates_the_one_connection_and_keeps_choices(services, google, kit):
    kit.add_host(services)
    first = connect(services, google, kit, extra_calendars=2)
    rows = [dict(row, check_availability=1 if row["calendar_id"] == "cal1@group.calendar.google.com" else row["check_availability"])
            for row in first["calendars"]]
    services.store.update("Calendar Connection", first["name"], {"calendars": rows})
    second = connect(services, google, kit)
    assert second["name"] == first["name"]
    assert len(services.store.list("Calendar Connection", {"user": kit.HOST})) == 1
    checked = {row["calendar_id"] for row in second["calendars"] if row["check_availability"]}
    assert checked == {kit.HOST, "cal1@group.calendar.google.com"}


# --- Busy times ----------------------------------------------------------------------------


def test_busy_times_from_two_calendars_block_slots_and_free_ones_do_not(services, google, kit, booked_host):
    monday = kit.next_monday()
    other = "cal0@group.calendar.google.com"
    google.add_event(kit.HOST, kit.HOST, at(monday, 10), at(monday, 11))
    google.add_event(kit.HOST, other, at(monday, 14), at(monday, 14, 30))
    google.add_event(kit.HOST, kit.HOST, at(monday, 12), at(monday, 13), transparency="transparent")
    google.add_event(kit.HOST, kit.HOST, at(monday, 15), at(monday, 16), declined=True)
    google.add_event(kit.HOST, other, at(monday, 16), at(monday, 17), status="cancelled")
    google.server.reset_log()

    found = starts(service.get_slots(services, month(kit)))

    for blocked in (at(monday, 10), at(monday, 10, 30), at(monday, 14)):
        assert blocked.astimezone(timezone.utc) not in found
    for free in (at(monday, 9, 30), at(monday, 11), at(monday, 12), at(monday, 12, 30), at(monday, 14, 30),
                 at(monday, 15), at(monday, 16), at(monday, 16, 30)):
        assert free.astimezone(timezone.utc) in found
    # A month of slots: one free/busy query for both calendars, and nothing else.
    assert google.count("POST", FREEBUSY) == 1
    assert len(google.server.requests) == 1
    query = google.matching("POST", FREEBUSY)[0].json()
    assert {item["id"] for item in query["items"]} == {kit.HOST, other}
    # The same view again within the cache's minute: no call at all.
    service.get_slots(services, month(kit))
    assert len(google.server.requests) == 1


def test_freebusy_is_chunked_by_50_calendars_and_89_days(services, google, kit):
    kit.add_host(services)
    google.add_account(kit.HOST, calendars=59)  # 60 with the primary
    connection = check_all(services, connect(services, google, kit))
    provider = GoogleCalendar(services, connection)
    ids = [row["calendar_id"] for row in connection["calendars"]]
    assert len(ids) == 60
    start = datetime(2030, 1, 7, tzinfo=timezone.utc)
    google.add_event(kit.HOST, "cal58@group.calendar.google.com", start + timedelta(days=3), start + timedelta(days=3, hours=1))
    google.server.reset_log()

    busy = provider.busy(ids, start, start + timedelta(days=30))
    queries = [r.json() for r in google.matching("POST", FREEBUSY)]
    assert [len(q["items"]) for q in queries] == [50, 10]
    assert busy["cal58@group.calendar.google.com"] == [(start + timedelta(days=3), start + timedelta(days=3, hours=1))]

    google.server.reset_log()
    late = start + timedelta(days=100)
    google.add_event(kit.HOST, kit.HOST, late, late + timedelta(hours=2))
    busy = provider.busy([kit.HOST], start, start + timedelta(days=120))
    queries = [r.json() for r in google.matching("POST", FREEBUSY)]
    assert len(queries) == 2
    assert queries[0]["timeMin"] == "2030-01-07T00:00:00Z" and queries[0]["timeMax"] == queries[1]["timeMin"]
    assert queries[1]["timeMax"] == "2030-05-07T00:00:00Z"
    assert busy[kit.HOST] == [(late, late + timedelta(hours=2))]


def test_throttled_read_waits_for_retry_after_then_succeeds(services, google, kit, booked_host):
    from tests.emulators.google import too_many_requests

    google.server.reset_log()
    google.fail("POST", FREEBUSY, too_many_requests(1), times=1)
    began = time.monotonic()
    answer = service.get_slots(services, month(kit))
    waited = time.monotonic() - began
    assert answer["mode"] == "book" and answer["slots"]
    assert google.count("POST", FREEBUSY) == 2
    assert waited >= 1.0


def test_a_read_still_throttled_after_the_short_budget_shows_request_mode_without_marking(services, google, kit, booked_host):
    from tests.emulators.google import rate_limited_403

    google.fail("POST", FREEBUSY, rate_limited_403(), times=10)
    retry_sleeps = []
    original = retry.sleep
    retry.sleep = retry_sleeps.append
    try:
        answer = service.get_slots(services, month(kit))
    finally:
        retry.sleep = original
    assert answer["mode"] == "request"
    assert google.count("POST", FREEBUSY) == retry.READ[0] and len(retry_sleeps) == retry.READ[0] - 1
    connection = services.store.get("Calendar Connection", booked_host["name"])
    assert connection["status"] == "Connected"  # throttling is not a broken connection
    assert all(row["status"] == "OK" for row in connection["calendars"])


# --- Writing the booking ------------------------------------------------------------------


def book(services, kit, start):
    return service.book(services, {**kit.visitor(), "link": "hana-30", "start": start.isoformat(),
                                   "timezone": "America/New_York"})


def test_a_booking_writes_one_event_on_the_default_calendar_and_google_invites_the_guest(services, google, kit, booked_host):
    start = at(kit.next_monday(), 11)
    answer = book(services, kit, start)
    services.jobs.drain(20)
    assert answer["status"] == "Confirmed"

    events = google.events(kit.HOST, kit.HOST)
    assert len(events) == 1 and google.events(kit.HOST, "cal0@group.calendar.google.com") == []
    event = events[0]
    booking = services.store.get("Booking", answer["booking"])
    assert event["id"] == event_id_for(booking["ical_uid"]) == booking["provider_event_id"]
    assert booking["provider"] == "Google" and not booking.get("calendar_error")
    assert [a["email"] for a in event["attendees"]] == ["vera@client.example"]
    assert datetime.fromisoformat(event["start"]["dateTime"].replace("Z", "+00:00")) == start
    inserts = google.matching("POST", EVENTS)
    assert len(inserts) == 1 and inserts[0].query["sendUpdates"] == "all"
    assert google.invitations == [{"kind": "invitation", "to": "vera@client.example", "event": event["id"],
                                   "calendar": kit.HOST, "sendUpdates": "all", "sent": True}]
    # The job once more (a retry after a lost answer): still one event, no second invitation.
    services.store.update("Booking", answer["booking"], {"provider_event_id": None})
    jobs.sync_calendar_event(services, answer["booking"])
    assert len(google.events(kit.HOST, kit.HOST)) == 1
    assert google.count("POST", EVENTS) == 2 and len(google.invitations) == 1
    assert services.store.get("Booking", answer["booking"])["provider_event_id"] == event["id"]


def test_a_write_that_meets_503_is_retried_and_makes_one_event(services, google, kit, booked_host):
    from tests.emulators.google import backend_error

    google.fail("POST", EVENTS, backend_error(), times=1)
    answer = book(services, kit, at(kit.next_monday(), 11))
    services.jobs.drain(20)
    assert google.count("POST", EVENTS) == 2
    assert len(google.events(kit.HOST, kit.HOST)) == 1
    assert services.store.get("Booking", answer["booking"])["provider_event_id"]


def test_a_write_throttled_with_a_long_retry_after_hands_it_to_the_job_runner(services, google, kit, booked_host):
    from tests.emulators.google import too_many_requests

    google.fail("POST", EVENTS, too_many_requests(120), times=1)
    services.jobs.retry_delays = ()  # run the job by hand below
    answer = book(services, kit, at(kit.next_monday(), 11))
    services.jobs.drain(20)
    booking = answer["booking"]
    assert services.jobs.failures and "ProviderBusy" in services.jobs.failures[0][2]
    with pytest.raises(retry.ProviderBusy) as error:  # what the runner saw, once more
        google.fail("POST", EVENTS, too_many_requests(120), times=1)
        jobs.sync_calendar_event(services, booking)
    assert error.value.retry_after == 120  # the runner waits at least that long
    assert google.events(kit.HOST, kit.HOST) == []
    jobs.sync_calendar_event(services, booking)  # the runner's retry, after Retry-After
    assert len(google.events(kit.HOST, kit.HOST)) == 1


def test_reschedule_patches_and_cancel_deletes_with_updates_sent(services, google, kit, booked_host):
    monday = kit.next_monday()
    answer = book(services, kit, at(monday, 11))
    services.jobs.drain(20)
    token = answer["manage_url"].rsplit("/", 1)[1]
    service.reschedule(services, {"token": token, "start": at(monday, 13).isoformat(), "timezone": "America/New_York"})
    services.jobs.drain(20)
    [event] = google.events(kit.HOST, kit.HOST)
    assert datetime.fromisoformat(event["start"]["dateTime"].replace("Z", "+00:00")) == at(monday, 13)
    patches = google.matching("PATCH", r"/events/")
    assert len(patches) == 1 and patches[0].query["sendUpdates"] == "all"
    service.cancel(services, {"token": token, "reason": "conflict"})
    services.jobs.drain(20)
    assert google.events(kit.HOST, kit.HOST) == []
    assert [i["kind"] for i in google.invitations] == ["invitation", "update", "cancellation"]
    # Cancelling again (a retried job): Google answers 410 deleted, which is fine.
    [current] = services.store.list("Booking", {"status": "Cancelled"}, fields=("name",))
    jobs.sync_calendar_event(services, current["name"])
    assert google.count("DELETE", r"/events/") == 2


def test_a_meeting_is_moved_and_cancelled_where_it_was_written_after_the_default_changes(services, google, kit, booked_host):
    """The booking records the calendar that holds its event: choosing another default
    calendar later sends the move and the cancellation to the first one, not the new."""
    monday = kit.next_monday()
    other = "cal0@group.calendar.google.com"
    answer = book(services, kit, at(monday, 11))
    services.jobs.drain(20)
    booking = services.store.get("Booking", answer["booking"])
    assert (booking["calendar_connection"], booking["calendar_id"]) == (booked_host["name"], kit.HOST)
    rows = [dict(row, is_default=int(row["calendar_id"] == other)) for row in booked_host["calendars"]]
    services.store.update("Calendar Connection", booked_host["name"], {"calendars": rows})

    token = answer["manage_url"].rsplit("/", 1)[1]
    service.reschedule(services, {"token": token, "start": at(monday, 13).isoformat(), "timezone": "America/New_York"})
    services.jobs.drain(20)
    [event] = google.events(kit.HOST, kit.HOST)
    assert datetime.fromisoformat(event["start"]["dateTime"].replace("Z", "+00:00")) == at(monday, 13)
    assert google.events(kit.HOST, other) == [] and google.count("POST", EVENTS) == 1
    service.cancel(services, {"token": token, "reason": "conflict"})
    services.jobs.drain(20)
    assert google.events(kit.HOST, kit.HOST) == [] and google.events(kit.HOST, other) == []
    assert not services.jobs.failures
    # A new booking goes to the new default.
    book(services, kit, at(monday, 15))
    services.jobs.drain(20)
    assert len(google.events(kit.HOST, other)) == 1


# --- When the calendar breaks ---------------------------------------------------------------


def test_a_revoked_token_switches_to_request_mode_and_reconnecting_restores_booking(services, google, kit, booked_host):
    monday = kit.next_monday()
    google.revoke(kit.HOST)

    link = service.get_link(services, "hana-30")
    assert link["mode"] == "request"
    connection = services.store.get("Calendar Connection", booked_host["name"])
    assert connection["status"] == "Error" and "invalid_grant" in connection["error"]
    refreshes = [r.form() for r in google.matching("POST", r"^/token$")]
    assert refreshes[-1]["grant_type"] == "refresh_token"
    with pytest.raises(CalendarUnavailable):
        GoogleCalendar(services, connection).busy([kit.HOST], at(monday, 9), at(monday, 17))

    slots = service.get_slots(services, month(kit))
    assert slots["mode"] == "request" and slots["slots"]
    answer = book(services, kit, at(monday, 11))
    services.jobs.drain(10)
    assert answer["status"] == "Requested"
    assert services.store.get("Booking", answer["booking"])["status"] == "Requested"
    assert google.count("POST", EVENTS) == 0

    connect(services, google, kit)  # the user connects the account again
    assert service.get_link(services, "hana-30")["mode"] == "book"
    assert service.get_slots(services, month(kit))["mode"] == "book"
    assert services.store.get("Calendar Connection", booked_host["name"])["status"] == "Connected"


def test_401_after_refresh_marks_the_connection(services, google, kit, booked_host):
    from tests.emulators.google import auth_error

    # google-auth-httplib2 refreshes and retries twice on a 401, then gives up.
    google.fail("POST", FREEBUSY, auth_error(), times=3)
    assert service.get_link(services, "hana-30")["mode"] == "request"
    assert google.count("POST", r"^/token$") == 3  # the code exchange, then two refreshes
    assert google.count("POST", FREEBUSY) == 3
    connection = services.store.get("Calendar Connection", booked_host["name"])
    assert connection["status"] == "Error" and "401" in connection["error"]


def test_a_calendar_deleted_at_google_is_marked_failing(services, google, kit, booked_host):
    google.delete_calendar(kit.HOST, "cal0@group.calendar.google.com")
    assert service.get_slots(services, month(kit))["mode"] == "request"
    connection = services.store.get("Calendar Connection", booked_host["name"])
    rows = {row["calendar_id"]: row for row in connection["calendars"]}
    assert rows["cal0@group.calendar.google.com"]["status"] == "Failing"
    assert rows[kit.HOST]["status"] == "OK" and connection["status"] == "Connected"
    assert user_calendars(services, kit.HOST).failing == ["Calendar 0"]
    # The user unticks the failing calendar: booking comes back at once.
    rows["cal0@group.calendar.google.com"].update(check_availability=0)
    services.store.update("Calendar Connection", connection["name"], {"calendars": list(rows.values())})
    slot_cache.invalidate(services)  # as the connection settings do on every change
    assert service.get_link(services, "hana-30")["mode"] == "book"


def test_a_default_calendar_deleted_at_google_fails_the_write_and_marks_it(services, google, kit, booked_host):
    services.jobs.retry_delays = ()
    google.delete_calendar(kit.HOST, kit.HOST)
    connection = services.store.get("Calendar Connection", booked_host["name"])
    provider = GoogleCalendar(services, connection)
    with pytest.raises(CalendarUnavailable):
        provider.create_event(kit.HOST, {"uid": "0123456789abcdef@meetings-addon", "summary": "x",
                                         "start": at(kit.next_monday(), 11), "end": at(kit.next_monday(), 11, 30),
                                         "attendees": ["vera@client.example"]})
    rows = {row["calendar_id"]: row for row in services.store.get("Calendar Connection", connection["name"])["calendars"]}
    assert rows[kit.HOST]["status"] == "Failing"


def test_opening_the_booking_page_costs_one_freebusy_call(services, google, kit, booked_host):
    """The page asks get_link, then a month of slots: one free/busy query in all (for
    both calendars), none more while the cache is warm."""
    google.server.reset_log()
    assert service.get_link(services, "hana-30")["mode"] == "book"
    service.get_slots(services, month(kit))
    service.get_slots(services, month(kit))
    assert google.count("POST", FREEBUSY) == 1 and len(google.server.requests) == 1


def test_a_write_failing_for_good_shows_its_error_on_the_booking(services, google, kit, booked_host):
    from tests.emulators.google import forbidden

    services.jobs.retry_delays = ()
    google.fail("POST", EVENTS, forbidden(), times=1)
    answer = book(services, kit, at(kit.next_monday(), 11))
    services.jobs.drain(20)
    booking = services.store.get("Booking", answer["booking"])
    assert booking["status"] == "Confirmed" and not booking["provider_event_id"]
    assert "no access to calendar" in booking["calendar_error"]
    rows = {row["calendar_id"]: row for row in services.store.get("Calendar Connection", booked_host["name"])["calendars"]}
    assert rows[kit.HOST]["status"] == "Failing"


def test_connecting_through_the_standalone_http_routes(services, google, kit, server):
    from meetings_addon.hosts.standalone.auth import issue_api_key

    kit.add_host(services)
    google.add_account(kit.HOST, calendars=1)
    key, secret = issue_api_key(services, kit.HOST)
    started = server.get("meetings_addon.api.connections.google_start", f"{key}:{secret}")
    assert started.status_code == 200, started.text
    url = started.json()["message"]["url"]
    params = kit.consent(url, _ca())
    assert google.authorizations[0]["redirect_uri"] == server.url + "/api/method/meetings_addon.api.connections.google_callback"
    back = server.get("meetings_addon.api.connections.google_callback", **params)  # the browser, no API token
    assert back.status_code in (200, 302, 303), back.text
    [connection] = services.store.list("Calendar Connection", {"user": kit.HOST}, fields=("name", "status", "account"))
    assert connection["status"] == "Connected" and connection["account"] == kit.HOST
    assert "1//" not in back.text and "ya29." not in back.text  # no token in the answer


def test_google_down_during_the_write_the_job_runner_writes_once_after_recovery(services, google, kit, booked_host):
    from tests.emulators.google import backend_error

    services.jobs.retry_delays = (0.2, 0.2, 0.2)
    retry_sleeps = []
    original, retry.sleep = retry.sleep, retry_sleeps.append  # the in-call backoff, not the runner's
    google.fail("POST", EVENTS, backend_error(), times=retry.WRITE[0] + 1)  # outlasts one job run
    try:
        answer = book(services, kit, at(kit.next_monday(), 11))
        assert answer["status"] == "Confirmed"  # committed before any write was tried
        services.jobs.drain(20)
    finally:
        retry.sleep = original
    assert google.count("POST", EVENTS) == retry.WRITE[0] + 2
    assert len(google.events(kit.HOST, kit.HOST)) == 1 and len(google.invitations) == 1
    booking = services.store.get("Booking", answer["booking"])
    assert booking["provider_event_id"] and not booking["calendar_error"] and not services.jobs.failures
