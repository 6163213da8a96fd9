"""Video conferencing per link (Zoom, Google Meet, Microsoft Teams): the join link is made
once per meeting, and appears in the calendar event, the confirmation, its .ics, the
host's notice and the reminders; moved and deleted with the meeting. Zoom runs against
tests/emulators/zoom.py, Google and Microsoft against their emulators, all with the real
HTTP clients."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from meetings_addon import conferencing
from meetings_addon.booking import jobs, service
from meetings_addon.calendars import retry
from meetings_addon.connections import google_oauth, microsoft_oauth
from meetings_addon.hosts.standalone.auth import issue_api_key
from meetings_addon.hosts.standalone.mailer import attachments_of, outbox_files, read_message
from meetings_addon.notifications import reminders
from meetings_addon.notifications.meeting import load

API = "/api/method/meetings_addon.api.booking."
GUEST = "vera@client.example"
ZOOM_MEETINGS = r"/v2/users/[^/]+/meetings$"


@pytest.fixture(autouse=True)
def outbox(tmp_path, monkeypatch):
    folder = tmp_path / "outbox"
    monkeypatch.setenv("MEETINGS_OUTBOX", str(folder))
    monkeypatch.delenv("MEETINGS_SMTP_URL", raising=False)
    return folder


# --- helpers -------------------------------------------------------------------------------


def emails(folder, to: str) -> list:
    return [m for m in (read_message(p) for p in outbox_files(folder)) if str(m["To"]) == to]


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def invitation(message) -> Calendar:
    found = [content for name, _, content in attachments_of(message) if name == "invite.ics"]
    return Calendar.from_ical(found[0])


def vevent(message):
    return next(c for c in invitation(message).walk() if c.name == "VEVENT")


def start_at(kit, hour: int, days: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    day = kit.next_monday() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo("America/New_York"))


def zulu(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def book(services, kit, start, slug="hana-30") -> dict:
    answer = service.book(services, {**kit.visitor(), "link": slug, "start": start.isoformat(), "timezone": "America/New_York"})
    drain(services)
    return answer


def drain(services) -> None:
    services.jobs.drain(20)
    assert not services.jobs.failures, services.jobs.failures


def token_of(answer: dict) -> str:
    return answer["manage_url"].rsplit("/", 1)[1]


def local_event(services, booking: dict) -> dict:
    return services.store.get("Local Calendar Event", booking["provider_event_id"])


# --- Zoom --------------------------------------------------------------------------------


def test_a_zoom_link_booked_over_http_makes_one_zoom_meeting_whose_link_every_message_carries(
    services, server, zoom, kit, outbox
):
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Zoom", location="", reminders_enabled=1)
    import requests

    made = requests.post(f"{server.url}{API}book", json={**kit.visitor(), "link": "hana-30", "duration": 30,
                                                        "start": start_at(kit, 11).isoformat()}, timeout=20)
    assert made.status_code == 200, made.text
    answer = made.json()["message"]
    drain(services)

    assert len(zoom.meetings) == 1
    meeting = next(iter(zoom.meetings.values()))
    join = meeting["join_url"]
    assert meeting["start_time"] == zulu(start_at(kit, 11))
    assert (meeting["duration"], meeting["type"], meeting["topic"]) == (30, 2, "Intro call with Vera Visitor")
    assert meeting["settings"]["join_before_host"] is True
    booking = services.store.get("Booking", answer["booking"])
    assert (booking["video_provider"], booking["video_url"], booking["video_meeting_id"]) == ("Zoom", join, str(meeting["id"]))
    assert not booking.get("calendar_error")

    # The host's calendar event (the Local calendar here) carries the join link.
    event = local_event(services, booking)
    assert event["location"] == join and join in event["description"]

    # The job once more (a retry): still one Zoom meeting, no new create request.
    creates = zoom.count("POST", ZOOM_MEETINGS)
    jobs.sync_calendar_event(services, answer["booking"])
    assert len(zoom.meetings) == 1 and zoom.count("POST", ZOOM_MEETINGS) == creates

    (confirmation,) = emails(outbox, GUEST)
    assert join in html(confirmation) and "Video call" in html(confirmation)
    ics = vevent(confirmation)
    assert str(ics["URL"]) == join and str(ics["LOCATION"]) == join and join in str(ics["DESCRIPTION"])
    (notice,) = emails(outbox, kit.HOST)
    assert join in html(notice)

    # The reminder (what the poll sends) has it too.
    reminder = reminders.reminder_email(services, load(services, booking), 60)
    assert join in reminder.html

    # Moved: the same Zoom meeting is PATCHed; the update email keeps the same link.
    moved = requests.post(f"{server.url}{API}reschedule", json={"token": token_of(answer), "start": start_at(kit, 14).isoformat()},
                          timeout=20)
    assert moved.status_code == 200, moved.text
    drain(services)
    assert zoom.count("POST", ZOOM_MEETINGS) == creates and zoom.count("PATCH", r"/v2/meetings/\d+$") >= 1
    assert meeting["start_time"] == zulu(start_at(kit, 14))
    new = services.store.get("Booking", moved.json()["message"]["booking"])
    assert (new["video_url"], new["video_meeting_id"]) == (join, str(meeting["id"]))
    update = [m for m in emails(outbox, GUEST) if str(m["Subject"]).startswith("Updated")]
    assert len(update) == 1 and join in html(update[0]) and str(vevent(update[0])["URL"]) == join

    # Cancelled: the Zoom meeting is deleted; the cancellation shows no join link.
    cancelled = requests.post(f"{server.url}{API}cancel", json={"token": token_of(answer)}, timeout=20)
    assert cancelled.status_code == 200, cancelled.text
    drain(services)
    assert zoom.meetings == {} and zoom.count("DELETE", r"/v2/meetings/\d+$") == 1
    cancel_mail = [m for m in emails(outbox, GUEST) if str(m["Subject"]).startswith("Cancelled")]
    assert len(cancel_mail) == 1 and join not in html(cancel_mail[0]) and "URL" not in vevent(cancel_mail[0])


def test_an_expired_zoom_token_is_replaced_once_and_a_cached_one_reused(services, zoom, kit):
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Zoom")
    book(services, kit, start_at(kit, 10))
    assert zoom.count("POST", r"/oauth/token$") == 1
    book(services, kit, start_at(kit, 11))  # the cached token serves the second meeting
    assert zoom.count("POST", r"/oauth/token$") == 1 and len(zoom.meetings) == 2

    zoom.expire_tokens()
    zoom.reset_log()
    third = book(services, kit, start_at(kit, 12))
    # The stale token meets 401 {"code": 124}; one new token, then the call succeeds.
    # (The first call looks for a meeting an earlier attempt made: creating is idempotent.)
    assert [(r.path, r.method) for r in zoom.requests][:3] == [
        ("/v2/users/host@team.example/meetings", "GET"), ("/oauth/token", "POST"), ("/v2/users/host@team.example/meetings", "GET")]
    assert zoom.count("POST", r"/oauth/token$") == 1
    assert services.store.get("Booking", third["booking"])["video_url"]
    assert len(zoom.meetings) == 3


def test_the_zoom_meeting_belongs_to_the_host_when_zoom_knows_them_else_to_the_app_owner(services, zoom, kit):
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Zoom")
    book(services, kit, start_at(kit, 10))
    assert next(iter(zoom.meetings.values()))["host_email"] == zoom.owner  # 1001 for the host, then /users/me

    zoom.add_user(kit.HOST)
    book(services, kit, start_at(kit, 11))
    assert sorted(m["host_email"] for m in zoom.meetings.values()) == sorted([zoom.owner, kit.HOST])


def test_zoom_429_is_retried_after_retry_after(services, zoom, kit, monkeypatch):
    from tests.emulators.zoom import too_many_requests

    waits = []
    monkeypatch.setattr(retry, "sleep", waits.append)
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Zoom")
    zoom.fail("POST", ZOOM_MEETINGS, lambda: too_many_requests(1.5), times=1)
    answer = book(services, kit, start_at(kit, 10))
    assert len(zoom.meetings) == 1 and waits and waits[0] >= 1.5
    assert services.store.get("Booking", answer["booking"])["video_url"]


def test_when_zoom_fails_for_good_the_meeting_and_its_emails_still_go_out_without_a_link(services, zoom, kit, outbox):
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Zoom")
    zoom.client_secret = "rotated"  # the app's secret was changed in Zoom: every token request is refused
    answer = book(services, kit, start_at(kit, 10))
    booking = services.store.get("Booking", answer["booking"])
    assert booking["provider_event_id"] and not booking["video_url"]
    assert "Zoom refused the app's credentials" in booking["calendar_error"]
    (confirmation,) = emails(outbox, GUEST)
    assert "Video call" not in html(confirmation)


def test_when_zoom_stays_busy_the_confirmation_waits_then_goes_without_the_link(services, zoom, kit, outbox, monkeypatch):
    from tests.emulators.zoom import too_many_requests

    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    monkeypatch.setattr(conferencing, "VIDEO_WAIT", timedelta(seconds=1))
    # Retries add up to more than VIDEO_WAIT (as the hosts' real schedules do: 18+ minutes).
    services.jobs.retry_delays = (0.5, 1.0, 1.5)
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Zoom")
    zoom.fail("POST", ZOOM_MEETINGS, lambda: too_many_requests(0), times=1000)
    answer = service.book(services, {**kit.visitor(), "link": "hana-30", "start": start_at(kit, 10).isoformat()})
    services.jobs.drain(20)
    booking = services.store.get("Booking", answer["booking"])
    # The calendar job gave up (its retries ran out); the event exists, without a link.
    assert [f[0] for f in services.jobs.failures] == ["meetings_addon.booking.jobs.sync_calendar_event"]
    assert booking["provider_event_id"] and not booking["video_url"] and "Zoom is busy" in booking["calendar_error"]
    (confirmation,) = emails(outbox, GUEST)  # the email waited, then went: never lost
    assert "Video call" not in html(confirmation)
    assert zoom.meetings == {}


def test_a_link_without_video_has_no_join_line(services, zoom, kit, outbox):
    kit.add_host(services)
    kit.add_link(services)
    answer = book(services, kit, start_at(kit, 10))
    assert zoom.requests == []
    booking = services.store.get("Booking", answer["booking"])
    assert not booking["video_url"] and not booking["video_provider"]
    (confirmation,) = emails(outbox, GUEST)
    assert "Video call" not in html(confirmation) and "URL" not in vevent(confirmation)


# --- Google Meet and Microsoft Teams -------------------------------------------------------


def test_a_google_meet_link_gets_the_meet_url_from_the_event_into_the_confirmation(services, google, kit, outbox):
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Google Meet")
    google.add_account(kit.HOST)
    google_oauth.callback(services, kit.consent(google_oauth.start(services, kit.HOST), os.environ["MEETINGS_CA_BUNDLE"]))
    answer = book(services, kit, start_at(kit, 10))

    (event,) = google.events(kit.HOST, kit.HOST)
    assert event["conferenceData"]["createRequest"]["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
    insert = google.matching("POST", r"/calendar/v3/calendars/[^/]+/events$")[0]
    assert insert.query["conferenceDataVersion"] == "1"
    meet = event["hangoutLink"]
    booking = services.store.get("Booking", answer["booking"])
    assert (booking["video_provider"], booking["video_url"]) == ("Google Meet", meet)
    assert booking["video_meeting_id"] == event["conferenceData"]["conferenceId"]
    (confirmation,) = emails(outbox, GUEST)
    assert meet in html(confirmation)
    assert str(vevent(confirmation)["X-GOOGLE-CONFERENCE"]) == meet

    # Moved: the event is patched, its conference (and link) kept.
    moved = service.reschedule(services, {"token": token_of(answer), "start": start_at(kit, 15).isoformat()})
    drain(services)
    assert services.store.get("Booking", moved["booking"])["video_url"] == meet
    assert google.events(kit.HOST, kit.HOST)[0]["hangoutLink"] == meet


def test_a_teams_link_gets_the_join_url_of_the_online_meeting(services, microsoft, kit, outbox):
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Microsoft Teams")
    microsoft.add_mailbox(kit.HOST, calendars=0)
    microsoft_oauth.callback(services, kit.consent(microsoft_oauth.start(services, kit.HOST), os.environ["MEETINGS_CA_BUNDLE"]))
    answer = book(services, kit, start_at(kit, 10))

    (event,) = microsoft.mailboxes[kit.HOST].default.events.values()
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    join = event["onlineMeeting"]["joinUrl"]
    booking = services.store.get("Booking", answer["booking"])
    assert (booking["video_provider"], booking["video_url"]) == ("Microsoft Teams", join)
    (confirmation,) = emails(outbox, GUEST)
    assert join in html(confirmation)
    (notice,) = emails(outbox, kit.HOST)
    assert join in html(notice)


def test_meet_on_a_host_without_google_books_without_a_link_and_says_why(services, kit, outbox):
    kit.add_host(services)
    kit.add_link(services, video_conferencing="Google Meet")
    answer = book(services, kit, start_at(kit, 10))  # the Local calendar: no Meet possible
    booking = services.store.get("Booking", answer["booking"])
    assert booking["status"] == "Confirmed" and booking["provider_event_id"] and not booking["video_url"]
    assert "Google Meet" in booking["calendar_error"] and "Google" in booking["calendar_error"]
    assert len(emails(outbox, GUEST)) == 1  # not held back waiting for a link that cannot come


# --- The link form -------------------------------------------------------------------------


def test_the_link_form_refuses_video_that_cannot_work_naming_the_field(services, server, microsoft, kit, monkeypatch):
    import requests

    kit.add_host(services)
    key, secret = issue_api_key(services, kit.HOST)
    headers = {"Authorization": f"token {key}:{secret}"}
    kit.add_link(services)
    url = f"{server.url}/api/resource/Meeting Link/hana-30"
    for name in ("ACCOUNT_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"MEETINGS_ZOOM_{name}", raising=False)

    zoom_unset = requests.put(url, json={"video_conferencing": "Zoom"}, headers=headers, timeout=10)
    assert zoom_unset.status_code == 417 and zoom_unset.json()["field"] == "video_conferencing"
    assert "Meetings Settings" in zoom_unset.text
    # A host who has not connected a calendar yet may choose Meet: the booking will say why.
    no_calendar = requests.put(url, json={"video_conferencing": "Google Meet"}, headers=headers, timeout=10)
    assert no_calendar.status_code == 200, no_calendar.text

    microsoft.add_mailbox(kit.HOST, calendars=0)
    microsoft_oauth.callback(services, kit.consent(microsoft_oauth.start(services, kit.HOST), os.environ["MEETINGS_CA_BUNDLE"]))
    # The host's calendar is on Office 365 now: the link chosen before stays editable (its
    # bookings' calendar_error says why no link)...
    renamed = requests.put(url, json={"title": "Renamed"}, headers=headers, timeout=10)
    assert renamed.status_code == 200, renamed.text
    teams = requests.put(url, json={"video_conferencing": "Microsoft Teams"}, headers=headers, timeout=10)
    assert teams.status_code == 200, teams.text
    assert services.store.get("Meeting Link", "hana-30")["title"] == "Renamed"
    # ...but Meet cannot be chosen again.
    wrong = requests.put(url, json={"video_conferencing": "Google Meet"}, headers=headers, timeout=10)
    assert wrong.status_code == 417 and wrong.json()["field"] == "video_conferencing"
    assert "Office 365" in wrong.text


def test_a_zoom_link_stays_editable_after_zoom_is_removed_from_the_settings(services, server, zoom, kit, monkeypatch):
    import requests

    kit.add_host(services)
    key, secret = issue_api_key(services, kit.HOST)
    headers = {"Authorization": f"token {key}:{secret}"}
    kit.add_link(services, video_conferencing="Zoom")
    url = f"{server.url}/api/resource/Meeting Link/hana-30"
    for name in ("ACCOUNT_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"MEETINGS_ZOOM_{name}", raising=False)

    unpublished = requests.put(url, json={"published": 0}, headers=headers, timeout=10)
    assert unpublished.status_code == 200, unpublished.text
    assert services.store.get("Meeting Link", "hana-30")["published"] == 0
    # Choosing Zoom again is checked: it is not set up any more.
    assert requests.put(url, json={"video_conferencing": ""}, headers=headers, timeout=10).status_code == 200
    again = requests.put(url, json={"video_conferencing": "Zoom"}, headers=headers, timeout=10)
    assert again.status_code == 417 and again.json()["field"] == "video_conferencing"


# --- Idempotence and moves -----------------------------------------------------------------


@pytest.mark.parametrize("lost", ["server error", "timeout"])
def test_a_zoom_meeting_whose_create_answer_was_lost_is_found_not_made_twice(services, zoom, kit, outbox, monkeypatch, lost):
    import time

    from meetings_addon.conferencing import zoom as zoom_adapter
    from tests.emulators.base import Response

    monkeypatch.setattr(retry, "sleep", lambda seconds: None)
    services.jobs.retry_delays = (0.2, 0.2, 0.2)
    if lost == "timeout":
        monkeypatch.setattr(zoom_adapter, "TIMEOUT", 1)

        def answer():
            time.sleep(1.5)  # the meeting is made; its answer comes after the client gave up
            return Response(201, {})
    else:
        def answer():
            return Response(500, {"code": 500, "message": "Internal Server Error"})
    kit.add_host(services)
    zoom.add_user(kit.HOST)
    kit.add_link(services, video_conferencing="Zoom")
    zoom.lose_answer("POST", ZOOM_MEETINGS, answer, times=1)
    booked = book(services, kit, start_at(kit, 10))

    (meeting,) = zoom.meetings.values()
    assert zoom.count("POST", ZOOM_MEETINGS) == 1  # the job ran again and found it
    booking = services.store.get("Booking", booked["booking"])
    assert (booking["video_url"], booking["video_meeting_id"]) == (meeting["join_url"], str(meeting["id"]))
    assert not booking.get("calendar_error") and booking["name"] in meeting["agenda"]
    (confirmation,) = emails(outbox, GUEST)
    assert meeting["join_url"] in html(confirmation)


def test_the_zoom_meeting_moves_with_the_booking_when_the_first_calendar_write_failed(services, google, zoom, kit):
    from tests.emulators.google import api_error

    kit.add_host(services)
    kit.add_link(services, video_conferencing="Zoom")
    google.add_account(kit.HOST)
    google_oauth.callback(services, kit.consent(google_oauth.start(services, kit.HOST), os.environ["MEETINGS_CA_BUNDLE"]))
    services.jobs.retry_delays = ()  # the first calendar write fails for good
    google.fail("POST", r"/calendar/v3/calendars/[^/]+/events$", lambda: api_error(400, "invalid", "Invalid attendee email."))
    booked = service.book(services, {**kit.visitor(), "link": "hana-30", "start": start_at(kit, 10).isoformat()})
    services.jobs.drain(20)
    services.jobs.failures.clear()
    first = services.store.get("Booking", booked["booking"])
    assert first["video_meeting_id"] and not first["provider_event_id"]

    moved = service.reschedule(services, {"token": token_of(booked), "start": start_at(kit, 14).isoformat()})
    drain(services)
    (meeting,) = zoom.meetings.values()
    assert meeting["start_time"] == zulu(start_at(kit, 14))
    new = services.store.get("Booking", moved["booking"])
    assert new["video_meeting_id"] == str(meeting["id"]) and new["provider_event_id"]
    (event,) = google.events(kit.HOST, kit.HOST)
    assert meeting["join_url"] in event["description"]


def test_a_round_robin_meeting_moved_to_another_host_gets_their_event_and_zoom_meeting(services, zoom, kit, outbox):
    bo = "bo@team.example"
    kit.add_host(services)
    kit.add_host(services, bo)
    for user in (kit.HOST, bo):
        zoom.add_user(user)
    kit.add_link(services, "team", meeting_type="Round Robin", hosts=[{"user": kit.HOST}, {"user": bo}], video_conferencing="Zoom")
    kit.add_link(services, "hana-30")
    kit.add_link(services, "bo-30", host=bo)
    booked = book(services, kit, start_at(kit, 10), slug="team")
    old = services.store.get("Booking", booked["booking"])
    first_host = old["host"]
    other = bo if first_host == kit.HOST else kit.HOST
    old_join = old["video_url"]
    assert zoom.meetings and local_event(services, old)["status"] == "Confirmed"
    # The first host is busy at 14:00 now: the move goes to the other host.
    service.book(services, {**kit.visitor(email="walt@client.example"), "link": "hana-30" if first_host == kit.HOST else "bo-30",
                            "start": start_at(kit, 14).isoformat()})
    moved = service.reschedule(services, {"token": token_of(booked), "start": start_at(kit, 14).isoformat()})
    drain(services)

    new = services.store.get("Booking", moved["booking"])
    assert new["host"] == other
    # The first host's event is cancelled and their Zoom meeting deleted.
    assert local_event(services, old)["status"] == "Cancelled"
    (meeting,) = zoom.meetings.values()
    assert meeting["host_email"] == other and meeting["start_time"] == zulu(start_at(kit, 14))
    assert new["video_url"] == meeting["join_url"] != old_join
    # The new host's calendar has the event, with the new join link.
    event = local_event(services, new)
    assert event["user"] == other and event["status"] == "Confirmed" and meeting["join_url"] in event["description"]
    update = [m for m in emails(outbox, GUEST) if str(m["Subject"]).startswith("Updated")]
    assert len(update) == 1 and meeting["join_url"] in html(update[0])
    # A new iCalendar UID for the new host's meeting, and the old one cancelled in an email
    # of its own (calendar clients act on one invitation per message): the old host's
    # provider cancelling the old UID cannot touch the new meeting.
    assert new["ical_uid"] != old["ical_uid"]
    from icalendar import Calendar

    def invitation(message):
        [part] = [p for p in message.walk() if p.get_filename() == "invite.ics"]
        calendar = Calendar.from_ical(part.get_payload(decode=True))
        return str(calendar["METHOD"]), next(iter(calendar.walk("VEVENT")))

    method, event = invitation(update[0])
    assert method == "REQUEST" and str(event["UID"]) == new["ical_uid"]
    [moved_mail] = [m for m in emails(outbox, GUEST) if str(m["Subject"]).startswith("Moved")]
    method, event = invitation(moved_mail)
    assert method == "CANCEL" and str(event["UID"]) == old["ical_uid"]
    assert int(event["SEQUENCE"]) == int(old["sequence"] or 0) + 1
    assert "earlier entry" in html(moved_mail) and not [m for m in emails(outbox, GUEST) if str(m["Subject"]).startswith("Cancelled")]
    assert services.store.get("Event", new["event"])["owner"] == other  # the timeline's meeting too
    # The host it left is told who took it; the new host gets the usual notice.
    left = [m for m in emails(outbox, first_host) if str(m["Subject"]).startswith("Moved to")]
    taker = services.store.get("User", other).get("full_name") or other
    assert len(left) == 1 and taker in str(left[0]["Subject"]), [str(m["Subject"]) for m in left]
    assert [m for m in emails(outbox, other) if str(m["Subject"]).startswith("Rescheduled")]
