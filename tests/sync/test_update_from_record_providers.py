"""Issue 6: "Changing the meeting's time or description from the record updates the
calendar event and the guest is notified, on Google and Office 365 alike" — with real
connections to the Google and Microsoft Graph emulators (HTTPS, the test CA), the real
job runner and booking/from_record.py's use-cases."""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from meetings_addon.booking import from_record
from meetings_addon.connections import google_oauth, microsoft_oauth

NY = ZoneInfo("America/New_York")
HOST = "host@team.example"
GUEST = "vera@client.example"


class Mailbox:
    def __init__(self):
        self.sent = []

    def send(self, recipients, subject, html, *, attachments=(), reference=None):
        self.sent.append((list(recipients), subject, html, attachments))


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), NY)


def setup_record(services, kit):
    kit.add_link(services, "hana-30", HOST, is_default=1)
    contact = services.store.insert("Contact", {
        "first_name": "Vera", "last_name": "Visitor", "email_id": GUEST,
        "email_ids": [{"email_id": GUEST, "is_primary": 1}],
    })["name"]
    services.mailer = Mailbox()
    return contact, kit.next_monday() + timedelta(days=7)


def schedule_then_change(services, contact, monday):
    """Schedule from the Contact, then move it and change its description from the record."""
    answer = from_record.schedule_from_record(services, HOST, {
        "reference_doctype": "Contact", "reference_name": contact, "start": at(monday, 11).isoformat(),
        "duration": 30, "description": "First agenda",
    })
    services.jobs.drain(10)
    booking = services.store.get("Booking", answer["booking"])
    assert answer["invited"] is True and booking["provider_event_id"]
    from_record.update_from_record(services, HOST, answer["booking"],
                                   {"start": at(monday, 14).isoformat(), "description": "New agenda"})
    services.jobs.drain(10)
    moved = services.store.get("Booking", answer["booking"])
    assert moved["start"] == at(monday, 14).astimezone(timezone.utc) and moved["sequence"] == 1
    timeline = services.store.get("Event", moved["event"])
    assert timeline["starts_on"] == moved["start"] and timeline["description"] == "New agenda"
    return moved


def guest_emails(services):
    return [m for m in services.mailer.sent if m[0] == [GUEST]]


def test_google_event_is_patched_and_the_guest_notified(services, google, kit):
    google.add_account(HOST)
    kit.add_host(services)
    google_oauth.callback(services, kit.consent(google_oauth.start(services, HOST), os.environ["MEETINGS_CA_BUNDLE"]))
    contact, monday = setup_record(services, kit)

    booking = schedule_then_change(services, contact, monday)

    event_id = booking["provider_event_id"]
    patches = [r for r in google.server.matching(None, rf"/calendar/v3/calendars/[^/]+/events/{event_id}$")
               if r.method in ("PATCH", "PUT")]
    assert patches, "the calendar event was not changed"
    body = patches[-1].json()
    assert patches[-1].query.get("sendUpdates") == "all"
    [event] = [e for e in google.events(HOST, HOST) if e["id"] == event_id]
    from tests.emulators.google import event_time

    assert event_time(event["start"]) == at(monday, 14) and event_time(event["end"]) == at(monday, 14, 30)
    assert "New agenda" in (event.get("description") or "") and "New agenda" in (body.get("description") or "")
    updates = [i for i in google.invitations if i["event"] == event_id and i["kind"] == "update"]
    assert [(u["to"], u["sendUpdates"], u["sent"]) for u in updates][-1] == (GUEST, "all", True)

    # A description-only change is patched and announced too.
    from_record.update_from_record(services, HOST, booking["name"], {"description": "Final agenda"})
    services.jobs.drain(10)
    [event] = [e for e in google.events(HOST, HOST) if e["id"] == event_id]
    assert "Final agenda" in event.get("description", "")
    assert len([i for i in google.invitations if i["event"] == event_id and i["kind"] == "update" and i["sent"]]) > len(updates)
    assert len(guest_emails(services)) == 2  # the app's own notice of each change as well


def test_office365_event_is_patched_and_the_guest_notified(services, microsoft, kit):
    microsoft.add_mailbox(HOST, calendars=0)
    kit.add_host(services)
    microsoft_oauth.callback(services, kit.consent(microsoft_oauth.start(services, HOST), os.environ["MEETINGS_CA_BUNDLE"]))
    contact, monday = setup_record(services, kit)

    booking = schedule_then_change(services, contact, monday)

    event_id = booking["provider_event_id"]
    patches = [r for r in microsoft.server.matching("PATCH", r"/me/events/.+") if event_id in r.path]
    assert patches, "the Outlook event was not patched"
    body = patches[-1].json()
    assert body["start"]["dateTime"].startswith(at(monday, 14).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")) or \
        body["start"]["dateTime"].startswith(at(monday, 14).strftime("%Y-%m-%dT%H:%M"))
    assert "New agenda" in body["body"]["content"]
    calendar = microsoft.mailboxes[HOST].default
    event = calendar.events[event_id]
    assert "New agenda" in event["body"]["content"]
    updates = [i for i in microsoft.invitations if i["event"] == event_id and i["kind"] == "update"]
    assert [u["to"] for u in updates] == [GUEST]  # Exchange's update to the attendee

    # A description-only change is patched too; the guest hears of it from the app's email.
    from_record.update_from_record(services, HOST, booking["name"], {"description": "Final agenda"})
    services.jobs.drain(10)
    assert "Final agenda" in calendar.events[event_id]["body"]["content"]
    assert len(guest_emails(services)) == 2
