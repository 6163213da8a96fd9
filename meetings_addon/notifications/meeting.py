"""The facts of a booked meeting that its invitation and emails show, read once.

People are the booking's invitee and its hosts (the link's host of record, plus the
others of a group meeting), each with the language and time zone they read in: the
invitee reads in the link's language and the zone they booked from; a host in their User
language and time zone (else English and the link's zone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional

from ..ports import Services
from .i18n import Reader, normalize

BOOKING = "Booking"
LINK = "Meeting Link"


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    reader: Reader
    user: Optional[str] = None


@dataclass
class Meeting:
    booking: dict[str, Any]
    link: dict[str, Any]
    invitee: Person
    host: Person
    other_hosts: list[Person] = field(default_factory=list)
    previous: Optional[dict[str, Any]] = None  # the booking this one was rescheduled from

    @property
    def name(self) -> str:
        return self.booking["name"]

    @property
    def start(self) -> datetime:
        return self.booking["start"]

    @property
    def end(self) -> datetime:
        return self.booking["end"]

    @property
    def status(self) -> str:
        return self.booking.get("status") or "Confirmed"

    @property
    def title(self) -> str:
        return self.booking.get("subject") or self.link.get("title") or self.summary

    @property
    def summary(self) -> str:
        """The link's invitation subject with the contact's tokens filled (as the host's
        calendar event is titled: booking/jobs.py)."""
        if self.booking.get("subject"):  # scheduled from a record: its own texts
            return self.booking["subject"]
        template = self.link.get("invitation_subject") or f"{self.link.get('title') or ''} with {{{{ first_name }}}} {{{{ last_name }}}}"
        return fill_tokens(template, self.booking) or self.invitee.name

    @property
    def description(self) -> str:
        if self.booking.get("subject"):
            return self.booking.get("description") or ""
        return fill_tokens(self.link.get("invitation_description") or "", self.booking)

    @property
    def location(self) -> str:
        if self.booking.get("subject"):
            return self.booking.get("location") or ""
        return self.link.get("location") or ""

    @property
    def join_url(self) -> str:
        """The video call's join link (Booking.video_url: Meet, Teams or Zoom), or ""."""
        url = (self.booking.get("video_url") or "").strip()
        return url if url.lower().startswith(("https://", "http://")) else ""  # never a script: URL in an href

    @property
    def video_provider(self) -> str:
        return self.booking.get("video_provider") or self.link.get("video_conferencing") or ""

    @property
    def duration(self) -> int:
        return int(self.booking.get("duration") or (self.end - self.start).total_seconds() // 60)

    @property
    def hosts(self) -> list[Person]:
        return [self.host, *self.other_hosts]


def fill_tokens(template: str, values: Mapping[str, Any]) -> str:
    """{{ first_name }}-style contact tokens; unknown tokens become empty (as booking.service)."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(values.get(m.group(1)) or ""), template).strip()


def _user(services: Services, user: str, link: Mapping[str, Any]) -> Person:
    row = services.store.get("User", user) or {}
    name = row.get("full_name") or " ".join(filter(None, [row.get("first_name"), row.get("last_name")])) or user
    reader = Reader(normalize(row.get("language")), row.get("time_zone") or link.get("timezone") or "UTC")
    return Person(email=row.get("email") or user, name=name, reader=reader, user=user)


def load(services: Services, booking: Mapping[str, Any], link: Optional[Mapping[str, Any]] = None) -> Meeting:
    booking = dict(booking)
    link = dict(link if link is not None else services.store.get(LINK, booking["meeting_link"]) or {})
    guest = " ".join(filter(None, [booking.get("first_name"), booking.get("last_name")])) or booking["email"]
    invitee = Person(
        email=booking["email"],
        name=guest,
        reader=Reader(normalize(link.get("language")), booking.get("timezone") or link.get("timezone") or "UTC"),
    )
    others = [u for u in (booking.get("other_hosts") or "").splitlines() if u.strip()]
    previous = services.store.get(BOOKING, booking["rescheduled_from"]) if booking.get("rescheduled_from") else None
    return Meeting(
        booking=booking,
        link=link,
        invitee=invitee,
        host=_user(services, booking["host"], link),
        other_hosts=[_user(services, u.strip(), link) for u in others],
        previous=previous,
    )
