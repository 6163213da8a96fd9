"""Reminder emails: a link's reminders, sent to the invitee before a confirmed meeting.

Per Meeting Link: `reminders_enabled` turns them on or off; the `reminders` table
(Meeting Link Reminder.minutes_before, at most MAX_REMINDERS rows) gives the offsets,
else DEFAULT_OFFSETS (3 days and 1 hour before); `reminder_include_description` adds the
invitation description.

Nothing is scheduled ahead: `queue_due_reminders` is a poll (every minute: Frappe's
scheduler, hooks.py; standalone: the SyncScheduler thread, or `meetings reminders` from
cron) that queues one `send_reminder` job per reminder due. It reads the Confirmed bookings starting within the next `horizon` (the largest
offset in use), and for each the reminder that is due: the one with the smallest offset
whose instant (start - offset) has passed, before the meeting starts. So
- a rescheduled meeting is a new booking (the old one is Rescheduled) with a new start:
  its reminders follow the new time, the old ones are never sent; a cancelled meeting is
  no longer Confirmed: none is sent;
- a reminder whose instant had already passed when the booking was made (booked two
  days ahead: no "3 days before" one) is not sent, and when the poll was down long
  enough for two reminders to fall due, only the nearer one goes out;
- each reminder's job checks the booking again (still Confirmed, same start) and goes
  through jobs.send_once with the sent-log key (booking, start, offset, recipient): two
  polls at once, a retried job or a worker that died mid-send never send it twice; the
  claim row is written before the mailer is called.

The invitee reads it in the link's language and the zone they booked from. The manage
link (to reschedule or cancel) is not in the reminder: the store keeps only the token's
hash, so the email points to the confirmation email's link instead, and to the booking
page. "With" names the booking's hosts: in round robin the host who was assigned
(Booking.host), never the link's creator.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from .. import domains
from ..errors import InvalidInput
from ..ports import Services
from . import emails, jobs
from .i18n import Reader, normalize
from .meeting import BOOKING, LINK, Meeting, load

DEFAULT_OFFSETS = (3 * 24 * 60, 60)  # minutes before: 3 days, 1 hour
MAX_REMINDERS = 3
REMINDER = "Meeting Link Reminder"
KIND = "invitee:reminder"


def validate_reminders(link: Mapping[str, Any]) -> None:
    """Raise InvalidInput naming `reminders` (the standalone host; the Frappe controller
    says the same)."""
    rows = link.get("reminders") or []
    if len(rows) > MAX_REMINDERS:
        raise InvalidInput("reminders", f"at most {MAX_REMINDERS} reminders")
    seen = set()
    for number, row in enumerate(rows, start=1):
        minutes = row.get("minutes_before")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
            raise InvalidInput("reminders", f"row {number}: minutes before must be at least 1")
        if minutes in seen:
            raise InvalidInput("reminders", f"row {number}: {minutes} minutes is listed twice")
        seen.add(minutes)


def offsets(link: Mapping[str, Any]) -> tuple[int, ...]:
    """The link's reminder offsets in minutes, largest first; () when turned off."""
    if not int(link.get("reminders_enabled") or 0):
        return ()
    custom = {int(r.get("minutes_before") or 0) for r in link.get("reminders") or []}
    custom.discard(0)
    return tuple(sorted(custom or DEFAULT_OFFSETS, reverse=True))


def reminder_times(link: Mapping[str, Any], start: datetime) -> list[tuple[int, datetime]]:
    """(offset in minutes, instant) of each reminder of a meeting starting at `start`."""
    return [(minutes, start - timedelta(minutes=minutes)) for minutes in offsets(link)]


def due_offset(link: Mapping[str, Any], booking: Mapping[str, Any], now: datetime) -> Optional[int]:
    """The reminder to send now, or None: the nearest one whose instant has passed,
    before the meeting starts and not before the booking was made."""
    start = booking["start"]
    if not start > now:
        return None
    booked = _aware(booking.get("creation"))
    due = [m for m, at in reminder_times(link, start) if at <= now and (booked is None or at >= booked)]
    return min(due) if due else None


def horizon(services: Services) -> timedelta:
    """How far ahead a reminder can be: the largest offset any link uses."""
    largest = max(DEFAULT_OFFSETS)
    try:
        rows = services.store.list(REMINDER, None, fields=("minutes_before",), order_by="minutes_before desc", limit=1)
    except Exception:  # noqa: BLE001 - a store that cannot list child rows: a generous bound
        rows = [{"minutes_before": 60 * 24 * 30}]
    if rows and rows[0].get("minutes_before"):
        largest = max(largest, int(rows[0]["minutes_before"]))
    return timedelta(minutes=largest)


def sent_key(booking: str, start: datetime, minutes: int, recipient: str) -> str:
    raw = f"{booking}|reminder|{_aware(start).isoformat()}|{minutes}|{recipient.lower()}"
    return hashlib.sha256(raw.encode()).hexdigest()


SEND_JOB = "meetings_addon.notifications.reminders.send_reminder"


def queue_due_reminders(services: Services) -> int:
    """The poll: queue one job per reminder that is due (RQ on Frappe and on the
    standalone host with Redis, the in-process runner otherwise). Returns how many it
    queued; a reminder already sent is queued again only until its job finds it in the
    sent-log, and its job id keeps one queued at a time."""
    if services.mailer is None:
        return 0
    now = services.clock.now()
    candidates = services.store.list(
        BOOKING,
        [["status", "=", "Confirmed"], ["start", ">", now], ["start", "<=", now + horizon(services)]],
        fields=("name", "meeting_link", "start", "creation", "email"),
        order_by="start asc",
    )
    links: dict[str, Optional[dict]] = {}
    due: list[tuple[dict, int, str]] = []
    for row in candidates:
        name = row["meeting_link"]
        if name not in links:
            links[name] = services.store.get(LINK, name)
        link = links[name]
        minutes = due_offset(link, row, now) if link else None
        if minutes is not None:
            due.append((row, minutes, sent_key(row["name"], row["start"], minutes, row.get("email") or "")))
    # A reminder stays due until the meeting starts: the ones the sent-log has (sent, or
    # being sent) are not queued again every minute.
    keys = [key for _, _, key in due]
    logged = {r["key"] for r in services.store.list(jobs.LOG, {"key": ["in", keys]}, fields=("key",))} if keys else set()
    queued = 0
    for row, minutes, key in due:
        if key in logged:
            continue
        start = _aware(row["start"])
        services.jobs.enqueue(
            SEND_JOB,
            job_id=f"reminder:{row['name']}:{minutes}:{int(start.timestamp())}",
            booking=row["name"],
            minutes=minutes,
            start=start.isoformat(),
        )
        queued += 1
    return queued


def send_reminder(services: Services, booking: str, minutes: int, start: str) -> bool:
    """The job: send one reminder, once (the sent-log), unless the meeting was cancelled
    or moved since the poll queued it. True when this run sent it."""
    if services.mailer is None:
        return False
    doc = services.store.get(BOOKING, booking)
    if not doc or doc.get("status") != "Confirmed" or _aware(doc.get("start")) != datetime.fromisoformat(start):
        return False
    link = services.store.get(LINK, doc.get("meeting_link"))
    if not link or due_offset(link, doc, services.clock.now()) != int(minutes):
        # The link's reminders changed, the meeting started, or a retry waited past the
        # next reminder's time (that one goes instead): never a late or stale reminder.
        return False
    meeting = load(services, doc, link)
    # EmailInFlight (another run is sending it) propagates: the runner retries later.
    return jobs.send_once(services, reminder_email(services, meeting, int(minutes), now=services.clock.now()))


def _aware(moment: Any) -> Optional[datetime]:
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _in_how_long(reader: Reader, minutes: int) -> str:
    _ = reader._
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return _("in 1 day") if days == 1 else _("in {0} days", days)
    if minutes % 60 == 0:
        hours = minutes // 60
        return _("in 1 hour") if hours == 1 else _("in {0} hours", hours)
    return _("in 1 minute") if minutes == 1 else _("in {0} minutes", minutes)


def reminder_email(services: Services, meeting: Meeting, minutes: int, *, now: Optional[datetime] = None) -> emails.Email:
    subject, html = render_reminder(services, meeting, minutes)
    person = meeting.invitee
    return emails.Email(
        key=sent_key(meeting.name, meeting.start, minutes, person.email),
        kind=KIND,
        recipient=person.email,
        subject=subject,
        html=html,
        reference=("Booking", meeting.name),
    )


def render_reminder(services: Services, meeting: Meeting, minutes: int) -> tuple[str, str]:
    person = meeting.invitee
    reader = person.reader
    _ = reader._
    about = f"{meeting.title} – {reader.short_when(meeting.start)}"
    subject = emails.one_line(_("Reminder: {0}", about))
    link = meeting.link
    page = domains.page_url(services, link)  # on the link's custom domain when set
    html = emails.render(
        "meetings_reminder.html",
        _=_,
        lang=reader.language,
        heading=_("Your meeting is {0}", _in_how_long(reader, minutes)),
        greeting=_("Hello {0},", person.name),
        meeting=meeting,
        when=reader.when(meeting.start, meeting.end),
        duration=_("{0} minutes", meeting.duration),
        hosts=", ".join(p.name for p in meeting.hosts),  # Booking.host: the assigned host
        description=meeting.description if int(link.get("reminder_include_description") or 0) else "",
        page_url=page if link.get("published") else None,
        accent=emails._accent(meeting),
    )
    return subject, html


def preview_reminder(services: Services, link_name: str, language: Optional[str] = None) -> tuple[str, str]:
    """The reminder a link sends, with a sample invitee, in `language` (else the link's):
    (subject, html) for an email preview. The meeting is tomorrow at 10:00 in the link's
    zone; the offset is the link's nearest (1 hour by default)."""
    from ..errors import NotFound
    from ..scheduling import load_zone

    link = services.store.get(LINK, link_name)
    if not link:
        raise NotFound(f"Meeting Link {link_name} not found")
    link = dict(link)
    if language:
        link["language"] = normalize(language)
    zone_name = link.get("timezone") or "UTC"
    zone = load_zone(zone_name)
    local = services.clock.now().astimezone(zone) + timedelta(days=1)
    start = local.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    duration = int(str(link.get("durations") or "30").split(",")[0].strip() or 30)
    booking = {
        "name": "preview",
        "meeting_link": link.get("name"),
        "host": link.get("host"),
        "status": "Confirmed",
        "start": start,
        "end": start + timedelta(minutes=duration),
        "duration": duration,
        "timezone": zone_name,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
    }
    meeting = load(services, booking, link)
    minutes = min(offsets({**link, "reminders_enabled": 1}))
    return render_reminder(services, meeting, minutes)
