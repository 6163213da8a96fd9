"""Video conferencing per Meeting Link: none, Google Meet, Microsoft Teams or Zoom.

Where the join link comes from:
- Google Meet: the calendar event is created with conferenceData.createRequest
  (hangoutsMeet); the link is the event's video entry point (hangoutLink). Needs the
  host's default calendar on Google.
- Microsoft Teams: the event is created with isOnlineMeeting (teamsForBusiness); the link
  is the event's onlineMeeting.joinUrl. Needs the host's default calendar on Office 365.
- Zoom: a Zoom meeting is created (conferencing/zoom.py) before the calendar event, whose
  location and description then carry the join link, so the provider's invitation does.
  Needs the Zoom app in Meetings Settings.

The booking keeps the result: `video_provider` is set once the video step is settled for
it; with `video_url` (and `video_meeting_id`) when a link was made, without when none
could be (then `calendar_error` says why). booking/jobs.py runs the step; the invitee's
confirmation waits for it (notifications/jobs.py, at most VIDEO_WAIT), so the email
carries the join link, and the reminders and the .ics read it from the booking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from ..errors import InvalidRule, MeetingsError
from ..ports import Services

GOOGLE_MEET = "Google Meet"
TEAMS = "Microsoft Teams"
ZOOM = "Zoom"
CHOICES = (GOOGLE_MEET, TEAMS, ZOOM)
# The calendar provider (Calendar Connection.provider) that can make each conference.
CALENDAR_FOR = {GOOGLE_MEET: "Google", TEAMS: "Microsoft"}
CALENDAR_LABEL = {"Google": "Google", "Microsoft": "Office 365", "CalDAV": "CalDAV", "Local": "the Local calendar"}
FIELD = "video_conferencing"
# How long the confirmation waits for the join link before it goes out without it. Less
# than the job runners' shortest total retry time (hosts/*/jobs.py: 1 + 5 + 30 + 150 +
# 900 s with full jitter), so the email's last attempt always sends.
VIDEO_WAIT = timedelta(minutes=10)


class VideoPending(MeetingsError):
    """The booking's join link is not known yet: the email job tries again shortly."""

    retry_after = None


def wanted(link: Mapping[str, Any]) -> Optional[str]:
    """The link's video provider, or None."""
    value = (link.get(FIELD) or "").strip()
    return value if value in CHOICES else None


def _default_calendar_provider(services: Services, user: str) -> Optional[str]:
    """The provider of the user's connected default calendar, None without a connection."""
    from ..connections.registry import user_calendars

    calendars = user_calendars(services, user)
    if not calendars.default or not calendars.default[0].get("name"):
        return None  # the Local calendar stands in: nothing connected yet
    return calendars.default[0].get("provider")


def validate_link(services: Services, link: Mapping[str, Any], before: Optional[Mapping[str, Any]] = None) -> None:
    """Refuse a link whose video choice cannot work (InvalidRule naming
    video_conferencing): Zoom without the Zoom app in Meetings Settings, Meet or Teams when
    the host's connected default calendar is another provider's. A host who has not
    connected a calendar yet is not refused: the booking's calendar_error says why a
    meeting got no link, should it come to that.

    `before`: the link as saved (None for a new one). Only a new choice or a new host is
    checked: settings or calendars that changed since must not lock the link's owner
    out of other edits, unpublishing included (the bookings' calendar_error says why a
    meeting got no link)."""
    choice = (link.get(FIELD) or "").strip()
    if not choice:
        return
    if before is not None and (before.get(FIELD) or "").strip() == choice and before.get("host") == link.get("host"):
        return
    if choice not in CHOICES:
        raise InvalidRule(FIELD, f"choose one of {', '.join(CHOICES)} or none")
    if choice == ZOOM:
        from . import zoom

        if not zoom.configured(services):
            raise InvalidRule(FIELD, "Zoom is not set up: fill in the Zoom account ID, client ID and client secret in Meetings Settings")
        return
    host = link.get("host")
    if not host:
        return
    have = _default_calendar_provider(services, host)
    need = CALENDAR_FOR[choice]
    if have and have != need:
        raise InvalidRule(
            FIELD,
            f"{choice} needs the host's default calendar on {CALENDAR_LABEL[need]}; {host}'s is on "
            f"{CALENDAR_LABEL.get(have, have)}",
        )


# --- The step the calendar job runs ------------------------------------------------------


@dataclass
class Plan:
    """What the calendar write needs to know and what it must save afterwards."""

    provider: Optional[str] = None  # the link's choice
    online_meeting: bool = False  # ask the calendar provider for Meet / Teams
    join_url: Optional[str] = None
    meeting_id: Optional[str] = None
    problem: Optional[str] = None  # why no link (shown in calendar_error)
    transient: Optional[Exception] = None  # raise after the calendar write: the job retries
    saved: dict[str, Any] = field(default_factory=dict)


def prepare(services: Services, doc: Mapping[str, Any], link: Mapping[str, Any], calendar_provider: Optional[str],
            *, moving: bool) -> Plan:
    """Before the calendar write: decide Meet / Teams, create or move the Zoom meeting.

    Zoom is idempotent per booking: a booking that has video_meeting_id never creates a
    second meeting (the id is saved before the calendar is written), and one whose create
    answer was lost finds the meeting by the reference line in its agenda (zoom.py)."""
    choice = wanted(link)
    plan = Plan(provider=choice)
    if not choice:
        return plan
    if choice in CALENDAR_FOR:
        need = CALENDAR_FOR[choice]
        if calendar_provider == need:
            plan.online_meeting = True
        else:
            have = CALENDAR_LABEL.get(calendar_provider or "", calendar_provider or "no calendar")
            plan.problem = f"No {choice} link: it needs the host's default calendar on {CALENDAR_LABEL[need]} (it is {have})"
        return plan
    return _zoom(services, doc, link, plan, moving=moving)


def _zoom(services: Services, doc: Mapping[str, Any], link: Mapping[str, Any], plan: Plan, *, moving: bool) -> Plan:
    from ..booking.service import BOOKING, fill_tokens
    from ..calendars import retry
    from . import zoom

    zoom_client = zoom.client(services)
    if zoom_client is None:
        plan.problem = "No Zoom link: Zoom is not set up in Meetings Settings"
        return plan
    topic = doc.get("subject") or fill_tokens(
        link.get("invitation_subject") or f"{link.get('title')} with {{{{ first_name }}}} {{{{ last_name }}}}", doc
    )
    reference = zoom.reference_line(doc["name"], doc.get("ical_uid"))
    body = zoom.meeting_body(topic, doc["start"], int(doc.get("duration") or (doc["end"] - doc["start"]).total_seconds() // 60),
                             doc.get("description") if doc.get("subject") else fill_tokens(link.get("invitation_description") or "", doc),
                             reference=reference)
    try:
        if doc.get("video_meeting_id"):
            plan.meeting_id, plan.join_url = doc["video_meeting_id"], doc.get("video_url")
            if moving and not zoom_client.update_meeting(doc["video_meeting_id"], body):
                plan.meeting_id = plan.join_url = None  # deleted in Zoom meanwhile: a new one below
        if not plan.meeting_id:
            host_email = (services.store.get("User", doc["host"]) or {}).get("email") or doc["host"]
            made = zoom_client.create_meeting(body, user=host_email, reference=reference)
            plan.meeting_id, plan.join_url = made.id, made.join_url
            plan.saved = {"video_provider": ZOOM, "video_url": made.join_url, "video_meeting_id": made.id}
            # Saved at once: a retry after a failed calendar write reuses this meeting.
            services.store.update(BOOKING, doc["name"], plan.saved)
    except retry.ProviderBusy as error:
        plan.problem, plan.transient = f"No Zoom link yet: {error.message}", error
    except zoom.ZoomError as error:
        plan.problem = f"No Zoom link: {error.message}"
    return plan


def cancel(services: Services, doc: Mapping[str, Any]) -> None:
    """A cancelled booking's Zoom meeting is deleted (gone already is fine)."""
    if doc.get("video_provider") != ZOOM or not doc.get("video_meeting_id"):
        return
    from . import zoom

    zoom_client = zoom.client(services)
    if zoom_client is not None:
        zoom_client.delete_meeting(doc["video_meeting_id"])


def calendar_texts(plan: Plan, location: str, description: str) -> tuple[str, str]:
    """The event's location and description with the Zoom join link, which the provider's
    invitation then carries (Meet and Teams add their own)."""
    if plan.provider != ZOOM or not plan.join_url:
        return location, description
    line = f"Join Zoom meeting: {plan.join_url}"
    if plan.meeting_id:
        line += f"\nMeeting ID: {plan.meeting_id}"
    if plan.join_url in (description or ""):
        return location or plan.join_url, description
    return location or plan.join_url, f"{description}\n\n{line}" if description else line


def settle(plan: Plan, created: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """The Booking fields to save after the calendar write."""
    if not plan.provider:
        return {}
    if plan.provider == ZOOM:
        if plan.transient:
            return {}  # not settled: the job runs again
        return {"video_provider": ZOOM, "video_url": plan.join_url, "video_meeting_id": plan.meeting_id}
    join_url = (created or {}).get("join_url") if plan.online_meeting else None
    if plan.online_meeting and not join_url:
        plan.problem = plan.problem or f"No {plan.provider} link: the calendar did not return one"
    return {"video_provider": plan.provider, "video_url": join_url, "video_meeting_id": (created or {}).get("conference_id") if join_url else None}


# --- What the emails wait for -------------------------------------------------------------


def awaiting_link(services: Services, doc: Mapping[str, Any], link: Optional[Mapping[str, Any]] = None) -> bool:
    """True while a confirmed booking's join link may still come: its link asks for video,
    the video step has not settled and VIDEO_WAIT has not passed since it was made."""
    if doc.get("status") != "Confirmed" or doc.get("video_provider") or doc.get("video_url"):
        return False
    if link is None:
        link = services.store.get("Meeting Link", doc.get("meeting_link")) or {}
    if not wanted(link):
        return False
    made = doc.get("creation")
    if not isinstance(made, datetime):
        return False
    made = made if made.tzinfo else made.replace(tzinfo=timezone.utc)
    # Real time, not services.clock: `creation` is stamped by the store with the real time.
    return datetime.now(timezone.utc) - made < VIDEO_WAIT
