"""Contacts found or created by email, and meetings logged on their timeline.

The timeline is Frappe's own: a meeting is an Event (category Meeting) whose Event
Participants include the Contact. Internal domains and the team's own users are never
made contacts.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ..ports import Services

SETTINGS = "Meetings Settings"


def internal_domains(services: Services) -> set[str]:
    settings = services.store.get(SETTINGS, SETTINGS) or {}
    lines = (settings.get("internal_domains") or "").replace(",", "\n").splitlines()
    return {line.strip().lower().lstrip("@") for line in lines if line.strip()}


def is_internal(services: Services, email: str) -> bool:
    email = email.lower()
    if email.rpartition("@")[2] in internal_domains(services):
        return True
    return bool(services.store.get_value("User", {"name": email}, "name"))


def find_contact(services: Services, email: str) -> Optional[str]:
    return services.store.get_value("Contact Email", {"email_id": email.lower()}, "parent")


def contact_for(services: Services, email: str, first_name: str, last_name: str) -> Optional[str]:
    """The Contact with this email, created if new; None for internal people."""
    if is_internal(services, email):
        return None
    existing = find_contact(services, email)
    if existing:
        return existing
    contact = services.store.insert(
        "Contact",
        {
            "first_name": first_name,
            "last_name": last_name,
            "email_id": email.lower(),
            "email_ids": [{"email_id": email.lower(), "is_primary": 1}],
        },
    )
    return contact["name"]


def log_meeting(services: Services, booking: Mapping[str, Any], subject: str, description: str = "") -> str:
    """An Event (category Meeting) with the booking's contact as participant."""
    participants = []
    if booking.get("contact"):
        participants.append({"reference_doctype": "Contact", "reference_docname": booking["contact"]})
    if booking.get("reference_doctype") and booking.get("reference_name"):
        participants.append(
            {"reference_doctype": booking["reference_doctype"], "reference_docname": booking["reference_name"]}
        )
    event = services.store.insert(
        "Event",
        {
            "subject": subject,
            "starts_on": booking["start"],
            "ends_on": booking["end"],
            "event_category": "Meeting",
            "event_type": "Private",
            "status": "Open",
            "description": description,
            "owner": booking.get("host"),
            "event_participants": participants,
        },
    )
    return event["name"]


def move_meeting(services: Services, event: str, start, end) -> None:
    services.store.update("Event", event, {"starts_on": start, "ends_on": end})


def cancel_meeting(services: Services, event: str) -> None:
    services.store.update("Event", event, {"status": "Cancelled"})
