"""`meetings demo`: a host with a realistic calendar and three links, ready to book.

Seeding is idempotent: the user and links are created once (later edits are kept), and
the calendar is an iCalendar feed anchored on a fixed date, imported with the same
importer as `meetings calendar import`, so a second run updates the same occurrences.
"""

from __future__ import annotations

from typing import Any

from ...booking import consent
from ...ports import Services
from .auth import create_user, issue_api_key
from .ics import import_ics_data

EMAIL = "alex@demo.example"
FULL_NAME = "Alex Morgan"
TIME_ZONE = "Europe/Paris"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
HOURS = (("09:00", "12:00"), ("13:00", "17:30"))

# HubSpot's presets: 15, 30 and 60 minutes.
LINKS = (
    ("alex-15", "Quick call", 15, "A 15-minute call to answer a question or two."),
    ("alex-30", "Intro meeting", 30, "Thirty minutes to get to know your team and what you need."),
    ("alex-60", "Product demo", 60, "A full walk-through of the product, with time for your questions."),
)

# A week of Alex's meetings (Europe/Paris wall clock), recurring from a fixed Monday so
# every run yields the same UIDs and RECURRENCE-IDs. (uid, summary, first day, start,
# end, rule, extra properties)
_ANCHOR = "20240101"  # a Monday
_EVENTS = (
    ("standup", "Team stand-up", "20240101", "0930", "0945", "FREQ=WEEKLY;BYDAY=MO,WE,FR", ""),
    ("pipeline", "Pipeline review", "20240101", "1400", "1500", "FREQ=WEEKLY;BYDAY=MO", ""),
    ("northwind", "Customer call: Northwind", "20240102", "1000", "1100", "FREQ=WEEKLY;BYDAY=TU", "LOCATION:Zoom\n"),
    ("one-on-one", "1:1 with Sam", "20240102", "1530", "1600", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", ""),
    ("demo-prep", "Demo preparation", "20240103", "1100", "1200", "FREQ=WEEKLY;BYDAY=WE", ""),
    ("focus", "Focus time (free)", "20240103", "1400", "1600", "FREQ=WEEKLY;BYDAY=WE", "TRANSP:TRANSPARENT\n"),
    ("marketing", "Marketing sync", "20240104", "1600", "1700", "FREQ=WEEKLY;BYDAY=TH", ""),
    ("report", "Weekly report", "20240105", "1000", "1030", "FREQ=WEEKLY;BYDAY=FR", ""),
    ("lunch", "Lunch", "20240101", "1200", "1330", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "TRANSP:OPAQUE\n"),
)


def calendar_ics() -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//meetings_addon//demo//EN"]
    for uid, summary, day, start, end, rule, extra in _EVENTS:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@demo.example",
            f"SUMMARY:{summary}",
            f"DTSTART;TZID={TIME_ZONE}:{day}T{start}00",
            f"DTEND;TZID={TIME_ZONE}:{day}T{end}00",
            f"RRULE:{rule}",
            *extra.splitlines(),
            "END:VEVENT",
        ]
    # An all-day offsite every fourth Thursday: the whole day is taken.
    lines += [
        "BEGIN:VEVENT", "UID:offsite@demo.example", "SUMMARY:Team offsite",
        "DTSTART;VALUE=DATE:20240111", "DTEND;VALUE=DATE:20240112",
        "RRULE:FREQ=WEEKLY;INTERVAL=4", "END:VEVENT",
    ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def _link(slug: str, title: str, minutes: int, description: str) -> dict[str, Any]:
    return {
        "name": slug,
        "slug": slug,
        "title": title,
        "host": EMAIL,
        "owner": EMAIL,
        "published": 1,
        "meeting_type": "One-on-one",
        "durations": str(minutes),
        "timezone": TIME_ZONE,
        "language": "en",
        "location": "Video call (link in the invitation)",
        "description": description,
        "availability": [{"weekday": day, "start_time": start, "end_time": end} for day in WEEKDAYS for start, end in HOURS],
        "window_type": "Rolling",
        "rolling_weeks": 4,
        "minimum_notice": 60,
        "start_increment": 15 if minutes == 15 else 30,
        "questions": [
            {"label": "What would you like to talk about?", "fieldname": "topic", "fieldtype": "Small Text", "required": 0}
        ],
    }


def seed(services: Services) -> dict[str, Any]:
    """Create what is missing; returns {"user", "links": [(slug, title)], "events", "key", "secret"}."""
    store = services.store
    if not store.get_value("User", {"name": EMAIL}, "name"):
        create_user(services, EMAIL, full_name=FULL_NAME, time_zone=TIME_ZONE)
    events = import_ics_data(services, EMAIL, calendar_ics())
    links = []
    for slug, title, minutes, description in LINKS:
        if not store.get_value("Meeting Link", {"name": slug}, "name"):
            doc = _link(slug, title, minutes, description)
            doc.update(consent.new_link_defaults(doc, consent.settings_of(services)))  # as any new link
            store.insert("Meeting Link", doc)
        links.append((slug, store.get_value("Meeting Link", {"name": slug}, "title")))
    # The secret is never stored, so each run issues a fresh key (the old one stops working).
    key, secret = issue_api_key(services, EMAIL)
    return {"user": EMAIL, "links": links, "events": events, "key": key, "secret": secret}
