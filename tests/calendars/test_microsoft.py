"""Microsoft 365 through the real msal (ConfidentialClientApplication, https authority,
instance_discovery=False, an http_client trusting the test CA) and requests against the
identity platform + Graph emulator (tests/emulators/microsoft.py)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.booking import jobs, service
from meetings_addon.calendars import retry
from meetings_addon.calendars.microsoft import MicrosoftCalendar, transaction_id
from meetings_addon.connections import microsoft_oauth
from meetings_addon.connections.registry import user_calendars
from tests.calendars.support import at, check_all, month, starts

VIEW = r"/calendarView$"
CREATE = r"/v1\.0/me/calendars/[^/]+/events$"
TOKEN = r"/oauth2/v2\.0/token$"


def _ca() -> str:
    return os.environ["MEETINGS_CA_BUNDLE"]


def connect(services, microsoft, kit, *, extra_calendars: int = 1):
    if kit.HOST not in microsoft.mailboxes:
        microsoft.add_mailbox(kit.HOST, calendars=extra_calendars)
    url = microsoft_oauth.start(services, kit.HOST)
    return microsoft_oauth.callback(services, kit.consent(url, _ca()))


def book(services, kit, start):
    return service.book(services, {**kit.visitor(), "link": "hana-30", "start": start.isoformat(),
                                   "timezone": "America/New_York"})


@pytest.fixture
def booked_host(services, microsoft, kit):
    kit.add_host(services)
    kit.add_link(services)
    return check_all(services, connect(services, microsoft, kit))


def default_id(microsoft, kit) -> str:
    return microsoft.mailboxes[kit.HOST].default.id


# --- Connecting --------------------------------------------------------------------------


def test_connecting_runs_msal_auth_code_flow_and_stores_the_token_cache(services, microsoft, kit):
    kit.add_host(services)
    microsoft.add_mailbox(kit.HOST, calendars=0)
    microsoft.add_calendar(kit.HOST, "Team")
    microsoft.add_calendar(kit.HOST, "Boss", can_edit=False, owner="boss@team.example")
    url = microsoft_oauth.start(services, kit.HOST)
    assert url.startswith(microsoft.authority + "/oauth2/v2.0/authorize?")
    connection = microsoft_oauth.callback(services, kit.consent(url, _ca()))

    request = microsoft.authorizations[0]
    assert request["code_challenge_method"] == "S256" and request["nonce"] and request["state"]
    assert set(request["scope"].split()) >= {"Calendars.ReadWrite", "User.Read", "offline_access", "openid", "profile"}
    assert request["redirect_uri"].endswith("/api/method/meetings_addon.api.connections.microsoft_callback")
    assert connection["provider"] == "Microsoft" and connection["account"] == kit.HOST
    assert connection["status"] == "Connected" and connection["connected_on"]
    rows = {row["calendar_name"]: row for row in connection["calendars"]}
    assert set(rows) == {"Calendar", "Team", "Boss"}
    assert rows["Calendar"]["is_default"] == 1 and rows["Calendar"]["check_availability"] == 1
    assert rows["Boss"]["access_role"] == "reader" and rows["Team"]["check_availability"] == 0
    cache = json.loads(services.secrets.get("Calendar Connection", connection["name"], "token_cache"))
    assert cache["RefreshToken"] and cache["AccessToken"] and cache["Account"]
    # Only msal's tenant discovery, the code redemption and two Graph reads went out.
    assert microsoft.count("GET", r"openid-configuration") <= 2
    assert microsoft.count("POST", TOKEN) == 1


def test_a_second_connect_updates_the_one_connection(services, microsoft, kit):
    kit.add_host(services)
    first = connect(services, microsoft, kit)
    second = connect(services, microsoft, kit)
    assert second["name"] == first["name"]
    assert len(services.store.list("Calendar Connection", {"user": kit.HOST})) == 1


# --- Busy times ----------------------------------------------------------------------------


def test_busy_times_block_except_free_working_elsewhere_cancelled_and_declined(services, microsoft, kit, booked_host):
    monday = kit.next_monday()
    primary = default_id(microsoft, kit)
    other = microsoft.calendar(kit.HOST, "Calendar 0").id
    microsoft.add_event(kit.HOST, primary, at(monday, 9), at(monday, 9, 30), show_as="busy")
    microsoft.add_event(kit.HOST, other, at(monday, 10), at(monday, 10, 30), show_as="tentative")
    microsoft.add_event(kit.HOST, other, at(monday, 11), at(monday, 11, 30), show_as="oof")
    microsoft.add_event(kit.HOST, primary, at(monday, 12), at(monday, 12, 30), show_as="free")
    microsoft.add_event(kit.HOST, primary, at(monday, 13), at(monday, 13, 30), show_as="workingElsewhere")
    microsoft.add_event(kit.HOST, primary, at(monday, 14), at(monday, 14, 30), cancelled=True)
    microsoft.add_event(kit.HOST, other, at(monday, 15), at(monday, 15, 30), declined=True)
    microsoft.server.reset_log()

    found = starts(service.get_slots(services, month(kit)))

    for blocked in (at(monday, 9), at(monday, 10), at(monday, 11)):
        assert blocked.astimezone(timezone.utc) not in found
    for free in (at(monday, 9, 30), at(monday, 12), at(monday, 13), at(monday, 14), at(monday, 15), at(monday, 16)):
        assert free.astimezone(timezone.utc) in found
    # A month of slots: one calendarView call per checked calendar (no token call: msal's
    # cached access token is still good), and none when the view is cached.
    views = microsoft.matching("GET", VIEW)
    assert len(views) == 2 and len(microsoft.server.requests) == 2
    assert {r.query["$top"] for r in views} == {"1000"}
    assert all(r.headers["prefer"] == 'outlook.timezone="UTC"' for r in views)
    service.get_slots(services, month(kit))
    assert len(microsoft.server.requests) == 2


def test_calendar_view_pages_are_followed(services, microsoft, kit, booked_host, monkeypatch):
    from meetings_addon.calendars import microsoft as adapter

    monkeypatch.setattr(adapter, "VIEW_PAGE", 3)
    primary = default_id(microsoft, kit)
    start = datetime(2030, 1, 7, 9, tzinfo=timezone.utc)
    for i in range(7):
        microsoft.add_event(kit.HOST, primary, start + timedelta(days=i), start + timedelta(days=i, hours=1))
    provider = MicrosoftCalendar(services, booked_host)
    busy = provider.busy([primary], start - timedelta(days=1), start + timedelta(days=10))
    assert len(busy[primary]) == 7 and busy[primary][0] == (start, start + timedelta(hours=1))
    assert microsoft.count("GET", VIEW) == 3  # 3 + 3 + 1


def test_throttled_read_waits_for_retry_after(services, microsoft, kit, booked_host):
    from tests.emulators.microsoft import throttled

    microsoft.server.reset_log()
    microsoft.fail("GET", VIEW, throttled(1), times=1)
    began = time.monotonic()
    answer = service.get_slots(services, month(kit))
    assert answer["mode"] == "book" and answer["slots"]
    assert time.monotonic() - began >= 1.0
    assert microsoft.count("GET", VIEW) == 3  # one throttled, then both calendars


# --- Writing the booking ------------------------------------------------------------------


def test_a_booking_creates_one_event_on_the_default_calendar_and_exchange_invites_the_guest(services, microsoft, kit, booked_host):
    start = at(kit.next_monday(), 11)
    answer = book(services, kit, start)
    services.jobs.drain(20)
    primary = default_id(microsoft, kit)
    events = microsoft.events(kit.HOST, primary)
    assert len(events) == 1 and microsoft.events(kit.HOST, microsoft.calendar(kit.HOST, "Calendar 0").id) == []
    event = events[0]
    booking = services.store.get("Booking", answer["booking"])
    assert booking["provider"] == "Microsoft" and booking["provider_event_id"] == event["id"]
    assert event["transactionId"] == transaction_id(booking["ical_uid"])
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == ["vera@client.example"]
    assert event["start"] == {"dateTime": start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}
    assert [(i["kind"], i["to"]) for i in microsoft.invitations] == [("invitation", "vera@client.example")]
    # The job again after a lost answer: the transactionId makes Exchange return the same event.
    services.store.update("Booking", answer["booking"], {"provider_event_id": None})
    jobs.sync_calendar_event(services, answer["booking"])
    assert len(microsoft.events(kit.HOST, primary)) == 1 and len(microsoft.invitations) == 1
    assert microsoft.count("POST", CREATE) == 2
    assert services.store.get("Booking", answer["booking"])["provider_event_id"] == event["id"]


def test_a_teams_meeting_when_asked(services, microsoft, kit, booked_host):
    provider = MicrosoftCalendar(services, booked_host)
    start = at(kit.next_monday(), 11)
    created = provider.create_event(default_id(microsoft, kit), {
        "uid": "abc@meetings-addon", "summary": "Intro", "start": start, "end": start + timedelta(minutes=30),
        "attendees": ["vera@client.example"], "online_meeting": True,
    })
    assert created["join_url"].startswith("https://teams.microsoft.com/l/meetup-join/")
    body = microsoft.matching("POST", CREATE)[0].json()
    assert body["isOnlineMeeting"] is True and body["onlineMeetingProvider"] == "teamsForBusiness"


def test_a_write_that_meets_503_then_429_is_retried_and_makes_one_event(services, microsoft, kit, booked_host):
    from tests.emulators.microsoft import throttled, unavailable

    microsoft.fail("POST", CREATE, unavailable(), times=1)
    microsoft.fail("POST", CREATE, throttled(1), times=1)
    answer = book(services, kit, at(kit.next_monday(), 11))
    services.jobs.drain(20)
    assert microsoft.count("POST", CREATE) == 3
    assert len(microsoft.events(kit.HOST, default_id(microsoft, kit))) == 1
    assert services.store.get("Booking", answer["booking"])["provider_event_id"]


def test_a_long_retry_after_goes_to_the_job_runner(services, microsoft, kit, booked_host):
    from tests.emulators.microsoft import throttled

    services.jobs.retry_delays = ()
    microsoft.fail("POST", CREATE, throttled(90), times=1)
    answer = book(services, kit, at(kit.next_monday(), 11))
    services.jobs.drain(20)
    assert "ProviderBusy" in services.jobs.failures[0][2]
    microsoft.fail("POST", CREATE, throttled(90), times=1)
    with pytest.raises(retry.ProviderBusy) as error:
        jobs.sync_calendar_event(services, answer["booking"])
    assert error.value.retry_after == 90
    jobs.sync_calendar_event(services, answer["booking"])
    assert len(microsoft.events(kit.HOST, default_id(microsoft, kit))) == 1


def test_reschedule_patches_and_cancel_deletes(services, microsoft, kit, booked_host):
    monday = kit.next_monday()
    answer = book(services, kit, at(monday, 11))
    services.jobs.drain(20)
    token = answer["manage_url"].rsplit("/", 1)[1]
    service.reschedule(services, {"token": token, "start": at(monday, 13).isoformat(), "timezone": "America/New_York"})
    services.jobs.drain(20)
    [event] = microsoft.events(kit.HOST, default_id(microsoft, kit))
    assert event["start"]["dateTime"].startswith(at(monday, 13).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M"))
    service.cancel(services, {"token": token, "reason": "conflict"})
    services.jobs.drain(20)
    assert microsoft.events(kit.HOST, default_id(microsoft, kit)) == []
    assert [i["kind"] for i in microsoft.invitations] == ["invitation", "update", "cancellation"]
    [cancelled] = services.store.list("Booking", {"status": "Cancelled"}, fields=("name",))
    jobs.sync_calendar_event(services, cancelled["name"])  # again: 404 ErrorItemNotFound is fine
    assert microsoft.count("DELETE", r"/me/events/") == 2


# --- When the calendar breaks ---------------------------------------------------------------


def test_a_revoked_refresh_token_switches_to_request_mode_and_reconnecting_restores(services, microsoft, kit, booked_host):
    monday = kit.next_monday()
    microsoft.revoke(kit.HOST)  # also drops the access tokens: Graph answers 401, msal refreshes
    link = service.get_link(services, "hana-30")
    assert link["mode"] == "request"
    connection = services.store.get("Calendar Connection", booked_host["name"])
    assert connection["status"] == "Error" and "invalid_grant" in connection["error"] and "AADSTS50173" in connection["error"]
    assert microsoft.count("POST", TOKEN) == 2  # the code redemption, then the refused refresh

    answer = book(services, kit, at(monday, 11))
    services.jobs.drain(10)
    assert answer["status"] == "Requested"
    assert microsoft.count("POST", CREATE) == 0

    connect(services, microsoft, kit)
    assert service.get_link(services, "hana-30")["mode"] == "book"
    assert services.store.get("Calendar Connection", booked_host["name"])["status"] == "Connected"


def test_an_expired_access_token_is_refreshed_and_the_rotated_cache_saved(services, microsoft, kit, booked_host):
    before = services.secrets.get("Calendar Connection", booked_host["name"], "token_cache")
    microsoft.access_tokens.clear()  # Graph no longer accepts it (msal still thinks it good)
    provider = MicrosoftCalendar(services, booked_host)
    busy = provider.busy([default_id(microsoft, kit)], datetime(2030, 1, 1, tzinfo=timezone.utc), datetime(2030, 1, 8, tzinfo=timezone.utc))
    assert busy == {default_id(microsoft, kit): []}
    assert microsoft.count("POST", TOKEN) == 2  # 401 -> forced refresh -> retried
    after = services.secrets.get("Calendar Connection", booked_host["name"], "token_cache")
    assert after != before and json.loads(after)["RefreshToken"] != json.loads(before)["RefreshToken"]


def test_a_calendar_deleted_in_outlook_is_marked_failing(services, microsoft, kit, booked_host):
    other = microsoft.calendar(kit.HOST, "Calendar 0").id
    microsoft.delete_calendar(kit.HOST, other)
    assert service.get_slots(services, month(kit))["mode"] == "request"
    connection = services.store.get("Calendar Connection", booked_host["name"])
    rows = {row["calendar_id"]: row for row in connection["calendars"]}
    assert rows[other]["status"] == "Failing" and "no longer exists" in rows[other]["error"]
    assert rows[default_id(microsoft, kit)]["status"] == "OK" and connection["status"] == "Connected"
    assert user_calendars(services, kit.HOST).failing == ["Calendar 0"]


def test_get_schedule_limits_are_emulated(services, microsoft, kit, booked_host):
    """getSchedule (not used by the adapter, which reads each chosen calendar) answers as
    Graph does: at most 20 schedules, under 62 days, unknown addresses as error items."""
    import requests

    provider = MicrosoftCalendar(services, booked_host)
    token = provider.access_token()
    url = microsoft.graph_url + "/me/calendar/getSchedule"
    headers = {"Authorization": f"Bearer {token}"}
    window = {"startTime": {"dateTime": "2030-01-01T00:00:00", "timeZone": "UTC"},
              "endTime": {"dateTime": "2030-03-04T00:00:00", "timeZone": "UTC"}}
    too_long = requests.post(url, json={"schedules": [kit.HOST], **window}, headers=headers, verify=_ca(), timeout=10)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "ErrorTimeIntervalTooBig"
    window["endTime"]["dateTime"] = "2030-02-01T00:00:00"
    answer = requests.post(url, json={"schedules": [kit.HOST, "nobody@else.example"], **window}, headers=headers,
                           verify=_ca(), timeout=10).json()
    assert answer["value"][1]["error"]["responseCode"] == "ErrorMailRecipientNotFound"


def test_opening_the_booking_page_costs_one_view_per_calendar(services, microsoft, kit, booked_host):
    microsoft.server.reset_log()
    assert service.get_link(services, "hana-30")["mode"] == "book"
    service.get_slots(services, month(kit))
    service.get_slots(services, month(kit))
    assert microsoft.count("GET", VIEW) == 2 and len(microsoft.server.requests) == 2


def test_connecting_through_the_standalone_http_routes(services, microsoft, kit, server):
    from meetings_addon.hosts.standalone.auth import issue_api_key

    kit.add_host(services)
    microsoft.add_mailbox(kit.HOST, calendars=1)
    key, secret = issue_api_key(services, kit.HOST)
    started = server.get("meetings_addon.api.connections.microsoft_start", f"{key}:{secret}")
    assert started.status_code == 200, started.text
    params = kit.consent(started.json()["message"]["url"], _ca())
    back = server.get("meetings_addon.api.connections.microsoft_callback", **params)
    assert back.status_code in (200, 302, 303), back.text
    [connection] = services.store.list("Calendar Connection", {"user": kit.HOST}, fields=("name", "status", "account"))
    assert connection["status"] == "Connected" and connection["account"] == kit.HOST
    assert "RefreshToken" not in back.text and "refresh_token" not in back.text
