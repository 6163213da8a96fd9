"""Scheduling from a record (a Contact) on the standalone host: the use-cases of
booking/from_record.py over the real SQLite store and in-process jobs."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from meetings_addon.booking import from_record, timeline
from meetings_addon.connections import registry
from meetings_addon.errors import InvalidBooking, SlotUnavailable

NY = ZoneInfo("America/New_York")
HOST = "host@team.example"


class Recorder:
    """A connected provider (as Google would be) that keeps what it was asked."""

    def __init__(self):
        self.created, self.updated, self.cancelled = [], [], []
        self.busy_intervals = []

    def list_calendars(self):
        return [{"calendar_id": "primary", "calendar_name": "Work"}]

    def busy(self, calendar_ids, start, end):
        return {c: list(self.busy_intervals) for c in calendar_ids}

    def create_event(self, calendar_id, event):
        self.created.append(dict(event))
        return {"id": f"ev-{len(self.created)}"}

    def update_event(self, calendar_id, event_id, event):
        self.updated.append((event_id, dict(event)))
        return {"id": event_id}

    def cancel_event(self, calendar_id, event_id):
        self.cancelled.append(event_id)


class Mailbox:
    def __init__(self):
        self.sent = []

    def send(self, recipients, subject, html, *, attachments=(), reference=None):
        self.sent.append((list(recipients), subject, html, attachments))


@pytest.fixture
def setup(services, h):
    h.add_host(HOST)
    h.add_link("hana-30", HOST, is_default=1)
    contact = services.store.insert(
        "Contact",
        {
            "first_name": "Vera",
            "last_name": "Visitor",
            "company_name": "Client Co",
            "email_id": "vera@client.example",
            "email_ids": [{"email_id": "vera@client.example", "is_primary": 1}],
        },
    )
    services.mailer = Mailbox()
    monday = h.next_monday()
    return contact["name"], monday


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), NY)


def connect(services, monkeypatch) -> Recorder:
    provider = Recorder()
    monkeypatch.setitem(registry.FACTORIES, "Google", lambda services, connection: provider)
    services.store.insert(
        "Calendar Connection",
        {
            "user": HOST,
            "provider": "Google",
            "account": HOST,
            "status": "Connected",
            "calendars": [{"calendar_id": "primary", "calendar_name": "Work", "check_availability": 1, "is_default": 1}],
        },
    )
    return provider


def test_free_slots_follow_the_users_link_hours_and_calendar(services, setup):
    contact, monday = setup
    found = from_record.free_slots_for_user(services, HOST, monday.isoformat(), monday.isoformat(), 45, "America/New_York")
    starts = [s["start"] for s in found["slots"]]
    assert found["duration"] == 45 and found["link"] == "hana-30"
    assert starts[0] == at(monday, 9).isoformat()
    assert starts[-1] == at(monday, 16, 15).isoformat()  # a 15-minute grid; 45 minutes fit before 17:00
    assert found["connected"] is False and "logged on the record only" in found["message"]


def test_schedule_from_a_contact_without_a_calendar_is_logged_only(services, setup):
    contact, monday = setup
    answer = from_record.schedule_from_record(
        services,
        HOST,
        {
            "reference_doctype": "Contact",
            "reference_name": contact,
            "start": at(monday, 10).isoformat(),
            "duration": 45,
            "subject": "Demo for {{ first_name }} {{ last_name }} ({{ company }})",
            "description": "Agenda: pricing",
            "location": "Zoom",
        },
    )
    services.jobs.drain(10)
    assert answer["invited"] is False and answer["calendar"] == "Local"
    assert "no invitation" in answer["message"]
    booking = services.store.get("Booking", answer["booking"])
    assert booking["source"] == "CRM" and booking["status"] == "Confirmed"
    assert booking["subject"] == "Demo for Vera Visitor (Client Co)"
    assert booking["reference_doctype"] == "Contact" and booking["reference_name"] == contact
    assert booking["contact"] == contact and booking["email"] == "vera@client.example"
    assert booking["end"] - booking["start"] == timedelta(minutes=45)
    event = services.store.get("Event", booking["event"])
    assert event["subject"] == "Demo for Vera Visitor (Client Co)" and event["description"] == "Agenda: pricing"
    assert {(p["reference_doctype"], p["reference_docname"]) for p in event["event_participants"]} == {("Contact", contact)}
    assert services.mailer.sent == []  # no invitation without a connected calendar
    # The slot is now taken for the user: a second meeting at 10:15 is refused (409).
    with pytest.raises(SlotUnavailable):
        from_record.schedule_from_record(
            services, HOST, {"reference_doctype": "Contact", "reference_name": contact, "start": at(monday, 10, 30).isoformat(), "duration": 30}
        )


def test_start_outside_the_users_hours_names_the_field(services, setup):
    contact, monday = setup
    with pytest.raises(InvalidBooking) as error:
        from_record.schedule_from_record(
            services, HOST, {"reference_doctype": "Contact", "reference_name": contact, "start": at(monday, 20).isoformat(), "duration": 30}
        )
    assert error.value.field == "start"
    with pytest.raises(InvalidBooking) as error:
        from_record.schedule_from_record(services, HOST, {"reference_doctype": "Lead", "reference_name": contact, "start": at(monday, 10).isoformat()})
    assert error.value.field == "reference_doctype"
    assert services.store.list("Booking") == []


def test_connected_calendar_invites_then_moves_and_cancels(services, setup, monkeypatch):
    contact, monday = setup
    provider = connect(services, monkeypatch)
    provider.busy_intervals = [(at(monday, 9), at(monday, 10))]
    found = from_record.free_slots_for_user(services, HOST, monday.isoformat(), monday.isoformat(), 30, "America/New_York")
    assert found["connected"] is True and found["slots"][0]["start"] == at(monday, 10).isoformat()
    with pytest.raises(SlotUnavailable):  # busy in their calendar
        from_record.schedule_from_record(
            services, HOST, {"reference_doctype": "Contact", "reference_name": contact, "start": at(monday, 9, 30).isoformat(), "duration": 30}
        )
    answer = from_record.schedule_from_record(
        services, HOST, {"reference_doctype": "Contact", "reference_name": contact, "start": at(monday, 11).isoformat(), "duration": 30}
    )
    services.jobs.drain(10)
    assert answer["invited"] is True and answer["calendar"] == "Google" and answer["message"] == ""
    assert answer["subject"] == "Meeting with Vera Visitor"
    assert len(provider.created) == 1 and provider.created[0]["attendees"] == ["vera@client.example"]
    assert provider.created[0]["summary"] == "Meeting with Vera Visitor"
    assert services.mailer.sent == []  # the provider sends the invitation

    moved = from_record.update_from_record(
        services, HOST, answer["booking"], {"start": at(monday, 14).isoformat(), "description": "New agenda"}
    )
    services.jobs.drain(10)
    booking = services.store.get("Booking", answer["booking"])
    assert moved["start"] == at(monday, 14).isoformat() and booking["sequence"] == 1
    assert booking["start"] == at(monday, 14).astimezone(timezone.utc)
    event = services.store.get("Event", booking["event"])
    assert event["starts_on"] == booking["start"] and event["description"] == "New agenda"
    assert provider.updated[-1][0] == "ev-1" and provider.updated[-1][1]["start"] == booking["start"]
    assert provider.updated[-1][1]["description"] == "New agenda"
    guest = [m for m in services.mailer.sent if m[0] == ["vera@client.example"]]
    assert len(guest) == 1 and guest[0][3]  # the updated invitation (.ics) attached

    cancelled = from_record.cancel_from_record(services, HOST, answer["booking"], {"reason": "Postponed"})
    services.jobs.drain(10)
    assert cancelled["status"] == "Cancelled" and provider.cancelled == ["ev-1"]
    assert services.store.get("Event", booking["event"])["status"] == "Cancelled"
    assert len([m for m in services.mailer.sent if m[0] == ["vera@client.example"]]) == 2
    with pytest.raises(InvalidBooking):
        from_record.update_from_record(services, "someone@team.example", answer["booking"], {"description": "x"})


def test_contacts_by_email_is_set_based(services, setup):
    contact, _ = setup
    other = services.store.insert(
        "Contact", {"first_name": "Omar", "email_id": "omar@client.example", "email_ids": [{"email_id": "omar@client.example", "is_primary": 1}]}
    )
    found = timeline.contacts_by_email(services, ["VERA@client.example", "omar@client.example", "nobody@x.example", ""], chunk=1)
    assert found == {"vera@client.example": contact, "omar@client.example": other["name"]}
