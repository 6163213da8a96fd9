"""`meetings_addon.api.booking.calendar_file?token=` over real HTTP on the standalone
server: the booking's current .ics as a download, REQUEST then CANCEL; 404 otherwise."""

from __future__ import annotations

import json
from datetime import datetime

from icalendar import Calendar

from .conftest import GUEST, HOST, token_of


def calendar_file(server, token):
    return server.method("calendar_file", get={"token": token})


def event_of(response):
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_calendar_file_follows_the_booking(scene, server):
    scene.host()
    scene.link()
    monday = str(scene.at(0).date())
    slots = server.method("get_slots", get={"link": "hana-30", "start": monday, "end": monday, "timezone": "Europe/Paris"})
    first, later = slots.json()["message"]["slots"][0]["start"], slots.json()["message"]["slots"][4]["start"]
    made = server.method("book", post={"link": "hana-30", "start": first, "duration": 30, "first_name": "Vera",
                                       "last_name": "Visitor", "email": GUEST, "timezone": "Europe/Paris"})
    assert made.status_code == 200, made.text
    answer = made.json()["message"]
    token = token_of(answer)
    uid = scene.services.store.get("Booking", answer["booking"])["ical_uid"]

    response = calendar_file(server, token)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert "method=REQUEST" in response.headers["Content-Type"]
    assert response.headers["Content-Disposition"] == "attachment; filename=invite.ics"
    assert response.headers["Cache-Control"] == "no-store"
    calendar, event = event_of(response)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == datetime.fromisoformat(first)
    assert str(event["ORGANIZER"]) == f"mailto:{HOST}" and str(event["ATTENDEE"]) == f"mailto:{GUEST}"
    assert answer["manage_url"] in str(event["DESCRIPTION"])

    moved = server.method("reschedule", post={"token": token, "start": later, "timezone": "Europe/Paris"})
    assert moved.status_code == 200, moved.text
    calendar, event = event_of(calendar_file(server, token))
    assert (str(calendar["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == ("REQUEST", uid, 1)
    assert event.decoded("DTSTART") == datetime.fromisoformat(later)

    cancelled = server.method("cancel", post={"token": token, "reason": ""})
    assert cancelled.status_code == 200, cancelled.text
    response = calendar_file(server, token)
    assert "method=CANCEL" in response.headers["Content-Type"]
    calendar, event = event_of(response)
    assert (str(calendar["METHOD"]), str(event["STATUS"]), str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", "CANCELLED", uid, 2)
    scene.drain()


def test_calendar_file_answers_404_for_an_unknown_token(server):
    for token in ("x" * 43, "", "short"):
        response = calendar_file(server, token)
        assert response.status_code == 404, token
        body = response.json()
        assert body["exc_type"] == "DoesNotExistError"
        assert "not valid" in json.loads(json.loads(body["_server_messages"])[0])["message"]


def test_calendar_file_is_get_only(server):
    response = server.method("calendar_file", post={"token": "x" * 43})
    assert response.status_code == 403
