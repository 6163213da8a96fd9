"""The emails of a booking change: the invitee's and each host's, in their own language
and time zone.

- Invitee: a confirmation with the invitation (.ics, METHOD:REQUEST) when booked, an
  updated REQUEST (same UID, higher SEQUENCE) when rescheduled, a METHOD:CANCEL when
  cancelled; a booking waiting for the host (status Requested) gets a "request received"
  email without an invitation. Times in the zone they booked from, text in the link's
  language; the manage link to reschedule or cancel.
- Host (and each other host of a group meeting): a notification naming the slot, the
  contact and their answers, with links to the contact and the booking (Frappe's desk in
  Frappe; the resource API in standalone: Services.document_url).

The HTML comes from Jinja templates in meetings_addon/templates/emails/, autoescaped:
names, answers and reasons are visitor input. Subjects are plain text on one line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from .. import domains
from ..ports import Services
from . import ics
from .meeting import Meeting, Person, load

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "emails"
CHANGES = ("booked", "rescheduled", "cancelled")
DEFAULT_ACCENT = "#2563eb"
_COLOUR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")


@dataclass(frozen=True)
class Email:
    key: str  # the sent-log key: one email per booking, change, sequence, role and recipient
    kind: str  # "invitee:booked", "host:cancelled", ...
    recipient: str
    subject: str
    html: str
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    reference: tuple[str, str] = ("Booking", "")


def _nl2br(value: Any) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in str(value or "").splitlines())


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["nl2br"] = _nl2br


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def sent_key(booking: str, change: str, sequence: int, role: str, recipient: str) -> str:
    raw = f"{booking}|{change}|{sequence}|{role}|{recipient.lower()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def document_url(services: Services, doctype: str, name: str) -> str:
    """Where a team member opens a document: the host's own (Frappe's desk), else the
    resource API."""
    custom = getattr(services, "document_url", None)
    if custom:
        return custom(doctype, name)
    return f"{services.site_url.rstrip('/')}/api/resource/{quote(doctype)}/{quote(name, safe='')}"


def _accent(meeting: Meeting) -> str:
    colour = (meeting.link.get("accent_color") or "").strip()
    return colour if _COLOUR.fullmatch(colour) else DEFAULT_ACCENT


def _answers(meeting: Meeting, reader) -> list[tuple[str, str]]:
    """(label, value) in the order of the link's questions; Check answers as Yes / No."""
    given = meeting.booking.get("answers") or {}
    if not isinstance(given, dict):
        return []
    questions = {q.get("fieldname"): q for q in meeting.link.get("questions") or []}
    order = [f for f in questions if f in given] + [f for f in given if f not in questions]
    rows = []
    for fieldname in order:
        value = given[fieldname]
        question = questions.get(fieldname) or {}
        if isinstance(value, bool) or question.get("fieldtype") == "Check":
            value = reader._("Yes") if value else reader._("No")
        if value in (None, ""):
            continue
        rows.append((question.get("label") or fieldname, str(value)))
    return rows


def _previous_when(meeting: Meeting, person: Person, change: str) -> Optional[str]:
    previous = meeting.previous
    if change != "rescheduled" or not previous or not previous.get("start"):
        return None
    return person.reader.when(previous["start"], previous["end"])


def _replaced(services: Services, meeting: Meeting) -> Optional[Meeting]:
    """The meeting a reschedule replaced under another iCalendar UID (round robin moved it
    to another host), as cancelled; None when the UID stayed (the update replaces it)."""
    previous = meeting.previous
    if not previous or not previous.get("ical_uid") or previous.get("ical_uid") == meeting.booking.get("ical_uid"):
        return None
    cancelled = {**previous, "status": "Cancelled", "sequence": int(previous.get("sequence") or 0) + 1}
    return load(services, cancelled, meeting.link)


def invitee_email(
    services: Services, meeting: Meeting, change: str, *, sequence: int, manage_url: Optional[str], now: datetime,
    moved_to: Optional[Meeting] = None,
) -> Email:
    """`moved_to` (with change "cancelled"): the meeting was replaced by that one under
    another UID; this email's CANCEL takes the old entry out of the invitee's calendar
    (its own email: calendar clients act on one invitation per message)."""
    person = meeting.invitee
    _ = person.reader._
    status = meeting.status
    requested = status == "Requested"
    about = f"{meeting.title} – {person.reader.short_when(meeting.start)}"
    if moved_to is not None:
        subject = _("Moved: {0}", about)
        heading = _("Your meeting moved to {0} with {1}", person.reader.short_when(moved_to.start), moved_to.host.name)
        note = _("The attached cancellation removes the earlier entry from your calendar; the new invitation came in its own email.")
    elif change == "cancelled":
        subject, heading = _("Cancelled: {0}", about), _("Your meeting has been cancelled")
        note = _("The attached cancellation removes the meeting from your calendar.")
    elif requested:
        subject, heading = _("Requested: {0}", about), _("Your meeting request has been received")
        note = None
    elif change == "rescheduled":
        subject, heading = _("Updated: {0}", about), _("Your meeting has been rescheduled")
        note = _("The attached update replaces the earlier invitation in your calendar.")
    else:
        subject, heading = _("Confirmed: {0}", about), _("Your meeting is confirmed")
        note = _("The invitation is attached: open it to add the meeting to your calendar.")
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    if not requested or change == "cancelled":
        method = ics.method_for(meeting)
        content = ics.invitation(meeting, now=now, manage_url=manage_url if change != "cancelled" else None, method=method)
        attachments = ((ics.FILENAME, content, ics.content_type(method)),)
    book_again = domains.page_url(services, meeting.link)  # on the link's custom domain when set
    html = render(
        "meetings_invitee.html",
        _=_,
        lang=person.reader.language,
        heading=heading,
        greeting=_("Hello {0},", person.name),
        intro=_("{0} will confirm the time shortly.", meeting.host.name) if requested and change != "cancelled" else None,
        meeting=meeting,
        cancelled=change == "cancelled",
        when=person.reader.when(meeting.start, meeting.end),
        previous_when=_previous_when(meeting, person, change),
        duration=_("{0} minutes", meeting.duration),
        hosts=", ".join(p.name for p in meeting.hosts),
        reason=meeting.booking.get("cancel_reason") if change == "cancelled" and moved_to is None else None,
        manage_url=manage_url if change != "cancelled" else None,
        book_again_url=book_again if change == "cancelled" and moved_to is None and meeting.link.get("published") else None,
        note=note if attachments else None,
        accent=_accent(meeting),
    )
    return Email(
        key=sent_key(meeting.name, change, sequence, "invitee", person.email),
        kind=f"invitee:{change}",
        recipient=person.email,
        subject=one_line(subject),
        html=html,
        attachments=attachments,
        reference=("Booking", meeting.name),
    )


def host_email(
    services: Services, meeting: Meeting, person: Person, change: str, *, sequence: int, moved_to: Optional[str] = None
) -> Email:
    """`moved_to`: the meeting left this host for that one (a round robin reschedule)."""
    _ = person.reader._
    guest = meeting.invitee.name
    when = person.reader.short_when(meeting.start)
    if moved_to:
        subject = _("Moved to {0}: {1} – {2}", moved_to, guest, when)
        heading = _("{0} rescheduled: {1} takes the meeting at the new time", guest, moved_to)
    elif change == "cancelled":
        subject, heading = _("Cancelled: {0} – {1}", guest, when), _("{0} cancelled their meeting", guest)
    elif meeting.status == "Requested":
        subject, heading = _("New request: {0} – {1}", guest, when), _("{0} requested a meeting with you", guest)
    elif change == "rescheduled":
        subject, heading = _("Rescheduled: {0} – {1}", guest, when), _("{0} rescheduled their meeting", guest)
    else:
        subject, heading = _("New booking: {0} – {1}", guest, when), _("{0} booked a meeting with you", guest)
    contact = meeting.booking.get("contact")
    html = render(
        "meetings_host.html",
        _=_,
        lang=person.reader.language,
        heading=heading,
        meeting=meeting,
        cancelled=change == "cancelled",
        when=person.reader.when(meeting.start, meeting.end),
        previous_when=_previous_when(meeting, person, change),
        duration=_("{0} minutes", meeting.duration),
        guest=meeting.invitee,
        guest_zone=meeting.invitee.reader.timezone,
        answers=_answers(meeting, person.reader),
        reason=meeting.booking.get("cancel_reason") if change == "cancelled" else None,
        contact_url=document_url(services, "Contact", contact) if contact else None,
        booking_url=document_url(services, "Booking", meeting.name),
        accent=_accent(meeting),
    )
    return Email(
        key=sent_key(meeting.name, change, sequence, "host", person.email),
        kind=f"host:{change}",
        recipient=person.email,
        subject=one_line(subject),
        html=html,
        reference=("Booking", meeting.name),
    )


def compose(
    services: Services, meeting: Meeting, change: str, *, sequence: Optional[int] = None, manage_url: Optional[str] = None
) -> list[Email]:
    """The emails one change sends: the invitee's first, then each host's."""
    if change not in CHANGES:
        raise ValueError(f"unknown booking change {change!r}")
    sequence = int(meeting.booking.get("sequence") or 0) if sequence is None else int(sequence)
    now = services.clock.now()
    emails = [invitee_email(services, meeting, change, sequence=sequence, manage_url=manage_url, now=now)]
    seen = {meeting.invitee.email.lower()}
    for person in meeting.hosts:
        if person.email.lower() in seen:
            continue
        seen.add(person.email.lower())
        emails.append(host_email(services, meeting, person, change, sequence=sequence))
    replaced = _replaced(services, meeting) if change == "rescheduled" else None
    if replaced is not None:  # moved to another host: the old UID's cancellation, on its own
        emails.insert(1, invitee_email(services, replaced, "cancelled", sequence=int(replaced.booking["sequence"]),
                                       manage_url=None, now=now, moved_to=meeting))
    if replaced is not None:  # the hosts it left: their meeting is gone from their calendar
        for person in replaced.hosts:
            if person.email.lower() not in seen:
                seen.add(person.email.lower())
                emails.append(host_email(services, replaced, person, "cancelled",
                                         sequence=int(replaced.booking["sequence"]), moved_to=meeting.host.name))
    return emails
