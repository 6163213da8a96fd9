"""Contacts found or created by email, and meetings logged on their timeline.

The timeline is Frappe's own: a meeting is an Event (category Meeting) whose Event
Participants include the Contact; the consent given with a booking is an Info Comment on
the Contact. Internal domains and the team's own users are never
made contacts.
"""

from __future__ import annotations

import html
from typing import Any, Iterable, Mapping, Optional

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


LOOKUP_CHUNK = 1000  # emails per query: well under every database's parameter limit


def contacts_by_email(services: Services, emails: Iterable[str], chunk: int = LOOKUP_CHUNK) -> dict[str, str]:
    """{email (lower case): Contact name} for the emails that belong to a Contact.

    Set-based through the Contact Email index: one query per `chunk` distinct emails,
    never one per attendee (the calendar sync matches every changed event's attendees of
    a page at once). An email on several Contacts maps to the first by name.
    """
    wanted = sorted({email.strip().lower() for email in emails if email and email.strip()})
    found: dict[str, str] = {}
    for i in range(0, len(wanted), chunk):
        rows = services.store.list(
            "Contact Email", {"email_id": ["in", wanted[i : i + chunk]]}, fields=("email_id", "parent")
        )
        for row in sorted(rows, key=lambda row: str(row.get("parent") or "")):
            email = (row.get("email_id") or "").lower()
            if row.get("parent") and email not in found:
                found[email] = row["parent"]
    return found


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


def log_meeting(
    services: Services, booking: Mapping[str, Any], subject: str, description: str = "",
    participants: Optional[list[tuple[str, str]]] = None,
) -> str:
    """An Event (category Meeting) with the booking's contact as participant, or with
    the (doctype, name) participants given (sync: every matched Contact, Lead, Deal)."""
    if participants is not None:
        return _insert_event(services, booking, subject, description, _participant_rows(participants))
    participants = []
    if booking.get("contact"):
        participants.append({"reference_doctype": "Contact", "reference_docname": booking["contact"]})
    reference = (booking.get("reference_doctype"), booking.get("reference_name"))
    if all(reference) and reference != ("Contact", booking.get("contact")):
        participants.append(
            {"reference_doctype": booking["reference_doctype"], "reference_docname": booking["reference_name"]}
        )
    return _insert_event(services, booking, subject, description, participants)


def _participant_rows(participants: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"reference_doctype": doctype, "reference_docname": name} for doctype, name in dict.fromkeys(participants)]


def _insert_event(services: Services, booking: Mapping[str, Any], subject: str, description: str, participants: list) -> str:
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


def log_consent(services: Services, booking: Mapping[str, Any], summary: str) -> Optional[str]:
    """The consent given with a booking, on its Contact's timeline: an Info Comment (what
    Frappe's desk shows on the Contact), its subject the one-line summary and its content
    the summary and the text the visitor was shown. None when there is no Contact."""
    if not booking.get("contact"):
        return None
    lines = [summary, *(booking.get("consent_text") or "").splitlines()]
    comment = services.store.insert(
        "Comment",
        {
            "comment_type": "Info",
            "reference_doctype": "Contact",
            "reference_name": booking["contact"],
            "subject": summary,
            # Frappe shows the content as HTML: every line escaped (the link's texts are an admin's).
            "content": "<br>".join(html.escape(line) for line in lines if line.strip()),
            "comment_by": "Meetings",
        },
    )
    return comment["name"]


def consent_notes(services: Services, contact: str) -> list[dict[str, Any]]:
    """The consent summaries on a Contact's timeline, oldest first."""
    return services.store.list(
        "Comment",
        {"reference_doctype": "Contact", "reference_name": contact, "comment_type": "Info"},
        fields=("name", "subject", "creation"),
        order_by="creation asc",
    )


def move_meeting(services: Services, event: str, start, end) -> None:
    services.store.update("Event", event, {"starts_on": start, "ends_on": end})


def reassign_meeting(services: Services, event: str, host: str) -> None:
    """Another host took the meeting (a round robin reschedule): the Event is theirs."""
    services.store.update("Event", event, {"owner": host})


def cancel_meeting(services: Services, event: str) -> None:
    services.store.update("Event", event, {"status": "Cancelled"})


def update_meeting(
    services: Services, event: str, values: Mapping[str, Any], participants: Optional[list[tuple[str, str]]] = None
) -> None:
    """Set an Event's fields (subject, description, starts_on, ends_on, status) and, when
    given, replace its participants with these (doctype, name) pairs."""
    changes = dict(values)
    if participants is not None:
        changes["event_participants"] = _participant_rows(participants)
    services.store.update("Event", event, changes)
