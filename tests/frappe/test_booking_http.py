"""The booking API through Frappe's real web server: CONTRACT.md's shapes, statuses and
exc_types, and what a booking leaves in Frappe (Event, Contact timeline)."""

import json
from urllib.parse import urlparse
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

frappe = pytest.importorskip("frappe")

from tests.frappe.conftest import next_day, visitor_email  # noqa: E402

LINK_KEYS = {
    "link", "title", "host", "hosts", "photo", "meeting_type", "durations", "default_duration", "timezone",
    "location", "description", "language", "accent_color", "logo", "questions", "consent_enabled",
    "consent_text", "privacy_text", "mode",
}


def message_of(response) -> str:
    return json.loads(json.loads(response.json()["_server_messages"])[0])["message"]


def slots_of(http, link, day, zone="Europe/Paris", **extra):
    response = http.method("get_slots", get={"link": link["slug"], "start": day.isoformat(), "end": day.isoformat(),
                                              "timezone": zone, **extra})
    assert response.status_code == 200, response.text
    return response.json()["message"]["slots"]


def book(http, link, start, tag="ann", zone="Europe/Paris", **extra):
    email = visitor_email(tag)
    link["emails"].append(email)
    body = {"link": link["slug"], "start": start, "duration": 30, "timezone": zone, "first_name": tag.title(),
            "last_name": "Visitor", "email": email, "answers": {"company": "ACME"}, "consent": True, **extra}
    return http.method("book", post=body), email


def test_get_link_answers_the_contract_shape(http, link):
    response = http.method("get_link", get={"link": link["slug"]})
    assert response.status_code == 200, response.text
    facts = response.json()["message"]
    assert set(facts) >= LINK_KEYS
    assert facts["link"] == link["slug"] and facts["host"] == "Hanna Host"
    assert facts["durations"] == [30, 60] and facts["default_duration"] == 30
    assert facts["meeting_type"] == "One-on-one" and facts["mode"] == "book"
    assert facts["questions"] == [
        {"label": "Company", "fieldname": "company", "fieldtype": "Data", "options": None, "required": False}
    ]


def test_get_slots_answers_the_contract_shape(http, link):
    day = next_day(3)
    response = http.method("get_slots", get={"link": link["slug"], "start": day.isoformat(), "end": day.isoformat(),
                                             "timezone": "America/New_York", "duration": "60"})
    assert response.status_code == 200, response.text
    answer = response.json()["message"]
    assert set(answer) == {"link", "timezone", "duration", "mode", "slots"}
    assert (answer["link"], answer["timezone"], answer["duration"], answer["mode"]) == (
        link["slug"], "America/New_York", 60, "book")
    starts = [datetime.fromisoformat(s["start"]) for s in answer["slots"]]
    assert starts and starts == sorted(starts)
    zone = ZoneInfo("America/New_York")
    for slot in answer["slots"]:
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert start.utcoffset() == start.astimezone(zone).utcoffset()  # the visitor's offset
        assert end - start == timedelta(minutes=60)
        assert start.astimezone(zone).date() == day
    paris = [s.astimezone(ZoneInfo("Europe/Paris")) for s in starts]
    assert all(9 <= s.hour < 17 for s in paris)


def test_unknown_or_unpublished_link_is_404(http, link):
    for response in (
        http.method("get_link", get={"link": "no-such-link-here"}),
        http.method("get_slots", get={"link": "no-such-link-here", "start": "2030-01-07", "end": "2030-01-07",
                                      "timezone": "UTC"}),
        book(http, {"slug": "no-such-link-here", "emails": []}, "2030-01-07T10:00:00+01:00")[0],
    ):
        assert response.status_code == 404, response.text
        assert response.json()["exc_type"] == "DoesNotExistError"
        assert "does not exist" in message_of(response)
    frappe.db.set_value("Meeting Link", link["slug"], "published", 0)
    frappe.db.commit()
    try:
        assert http.method("get_link", get={"link": link["slug"]}).status_code == 404
        assert http.get(f"/meetings/{link['slug']}").status_code == 404
    finally:
        frappe.db.set_value("Meeting Link", link["slug"], "published", 1)
        frappe.db.commit()


@pytest.mark.parametrize(
    "method, payload, field",
    [
        ("get_slots", {"start": "2030-01-07", "end": "2030-01-07", "timezone": "Mars/Olympus"}, "timezone"),
        ("get_slots", {"start": "2030-01-07", "end": "2030-06-07", "timezone": "UTC"}, "end"),
        ("get_slots", {"start": "tomorrow", "end": "2030-01-07", "timezone": "UTC"}, "start"),
        ("book", {"start": "2030-01-07T10:00:00+01:00", "email": "not-an-email"}, "email"),
        ("book", {"start": "2030-01-07T10:00:00", "email": "ann@example.org"}, "start"),
        ("book", {"start": "2030-01-07T10:00:00+01:00", "email": "ann@example.org", "first_name": ""}, "first_name"),
        ("book", {"start": "2030-01-07T10:00:00+01:00", "email": "ann@example.org", "answers": {"nope": 1}}, "nope"),
        ("book", {"start": "2030-01-07T10:00:00+01:00", "email": "ann@example.org", "duration": 45}, "duration"),
    ],
)
def test_bad_input_is_417_naming_the_field(http, link, method, payload, field):
    body = {"link": link["slug"], "timezone": "Europe/Paris", "first_name": "Ann", "last_name": "Lee", **payload}
    response = http.method(method, post=body) if method == "book" else http.method(method, get=body)
    assert response.status_code == 417, response.text
    answer = response.json()
    assert answer["exc_type"] == "InvalidBooking"
    assert answer["field"] == field
    assert message_of(response).startswith(f"{field}: ")


def test_book_answers_the_contract_shape_and_the_same_slot_twice_is_409(http, link):
    start = slots_of(http, link, next_day(4))[0]["start"]
    response, email = book(http, link, start)
    assert response.status_code == 200, response.text
    answer = response.json()["message"]
    assert set(answer) == {"booking", "status", "start", "end", "host", "manage_url"}
    assert answer["status"] == "Confirmed" and answer["start"] == start and answer["host"] == "Hanna Host"
    assert datetime.fromisoformat(answer["end"]) - datetime.fromisoformat(start) == timedelta(minutes=30)
    assert "/meetings/manage/" in answer["manage_url"]

    again, other = book(http, link, start, tag="bob")
    assert again.status_code == 409, again.text
    assert again.json()["exc_type"] == "SlotUnavailable"
    assert "just taken" in message_of(again)
    frappe.db.rollback()
    assert not frappe.db.exists("Booking", {"email": other}), "nothing is stored when a booking fails"
    assert not frappe.db.exists("Contact Email", {"email_id": other})
    assert start not in [s["start"] for s in slots_of(http, link, next_day(4))]


def test_book_only_answers_post(http, link):
    response = http.method("book", get={"link": link["slug"]})
    assert response.status_code == 403
    assert response.json()["exc_type"] == "PermissionError"


def test_a_booking_is_an_event_on_the_contacts_timeline(http, link):
    start = slots_of(http, link, next_day(5))[2]["start"]
    response, email = book(http, link, start, tag="cleo")
    assert response.status_code == 200, response.text
    frappe.db.rollback()
    booking = frappe.get_doc("Booking", response.json()["message"]["booking"])
    assert booking.contact and booking.event
    assert frappe.db.get_value("Contact Email", {"email_id": email}, "parent") == booking.contact
    event = frappe.get_doc("Event", booking.event)
    assert event.event_category == "Meeting" and event.status == "Open"
    assert event.owner == link["host"]  # a Private event shows on its owner's calendar
    assert ("Contact", booking.contact) in [(p.reference_doctype, p.reference_docname) for p in event.event_participants]
    # Frappe keeps it naive in the system time zone: the same instant as the booking.
    from frappe.utils import get_system_timezone

    instant = datetime.fromisoformat(start)
    assert event.starts_on == instant.astimezone(ZoneInfo(get_system_timezone())).replace(tzinfo=None)

    # What the Contact's form shows on its timeline (desk: frappe.desk.form.load.getdoc).
    from frappe.desk.form.load import getdoc

    frappe.local.response = frappe._dict({"docs": []})
    getdoc("Contact", booking.contact)
    timeline = frappe.response.docinfo.communications
    entry = next(c for c in timeline if c.reference_doctype == "Event" and c.reference_name == event.name)
    assert entry.communication_medium == "Meeting"
    assert entry.subject == event.subject
    assert entry.sender == link["host"]


def test_cancel_with_the_token_cancels_the_event(http, link):
    start = slots_of(http, link, next_day(6))[0]["start"]
    response, _ = book(http, link, start, tag="dan")
    booked = response.json()["message"]
    token = booked["manage_url"].rsplit("/", 1)[1]

    view = http.method("manage", get={"token": token})
    assert view.status_code == 200 and view.json()["message"]["status"] == "Confirmed"

    cancelled = http.method("cancel", post={"token": token, "reason": "Something came up"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["message"] == {"booking": booked["booking"], "status": "Cancelled"}
    frappe.db.rollback()
    booking = frappe.get_doc("Booking", booked["booking"])
    assert booking.status == "Cancelled" and booking.cancel_reason == "Something came up"
    assert frappe.db.get_value("Event", booking.event, "status") == "Cancelled"
    assert start in [s["start"] for s in slots_of(http, link, next_day(6))]

    twice = http.method("cancel", post={"token": token})
    assert twice.status_code == 417 and twice.json()["field"] == "token"
    wrong = http.method("cancel", post={"token": "x" * 43})
    assert wrong.status_code == 404 and wrong.json()["exc_type"] == "DoesNotExistError"


def test_reschedule_with_the_token_moves_the_booking_and_its_event(http, link):
    slots = slots_of(http, link, next_day(7))
    response, _ = book(http, link, slots[0]["start"], tag="eve")
    booked = response.json()["message"]
    token = booked["manage_url"].rsplit("/", 1)[1]
    moved = http.method("reschedule", post={"token": token, "start": slots[3]["start"], "timezone": "Europe/Paris"})
    assert moved.status_code == 200, moved.text
    answer = moved.json()["message"]
    assert answer["start"] == slots[3]["start"] and answer["booking"] != booked["booking"]
    frappe.db.rollback()
    old = frappe.get_doc("Booking", booked["booking"])
    new = frappe.get_doc("Booking", answer["booking"])
    assert old.status == "Rescheduled" and new.status == "Confirmed" and new.rescheduled_from == old.name
    assert new.event == old.event
    from frappe.utils import get_system_timezone

    starts_on = frappe.db.get_value("Event", new.event, "starts_on")
    assert starts_on == datetime.fromisoformat(slots[3]["start"]).astimezone(
        ZoneInfo(get_system_timezone())).replace(tzinfo=None)


def test_the_booking_page_and_the_manage_page(http, link):
    page = http.get(f"/meetings/{link['slug']}", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text[:500]
    assert f'data-link="{link["slug"]}"' in page.text and "Hanna Host" in page.text
    assert page.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"
    assert http.get("/meetings/no-such-link-here", headers={"Accept": "text/html"}).status_code == 404

    start = slots_of(http, link, next_day(8))[1]["start"]
    booked = book(http, link, start, tag="fay")[0].json()["message"]
    manage = http.get(urlparse(booked["manage_url"]).path, headers={"Accept": "text/html"})
    assert manage.status_code == 200
    assert 'data-kind="manage"' in manage.text
    assert manage.headers.get("Referrer-Policy") == "no-referrer"
    assert "no-store" in manage.headers.get("Cache-Control", "")
    assert http.get("/meetings/manage/" + "y" * 43, headers={"Accept": "text/html"}).status_code == 404


def test_markup_in_a_link_is_escaped_on_the_page(http, link):
    frappe.db.set_value("Meeting Link", link["slug"], "description", '<script>alert("x")</script>')
    frappe.db.commit()
    try:
        page = http.get(f"/meetings/{link['slug']}", headers={"Accept": "text/html"})
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert" in page.text
    finally:
        frappe.db.set_value("Meeting Link", link["slug"], "description", None)
        frappe.db.commit()
