"""The booking use-cases both hosts call: a link's public facts, its slots, book, cancel,
reschedule. Plain Python over the ports; no Frappe, SQL or HTTP here.

A booking is committed before any job (calendar write, email) runs; the slot's
reservation is atomic: the host's row is locked, the slot re-checked against the
bookings committed by then, and only then the booking inserted.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional

from .. import domains
from ..errors import InvalidBooking, NotFound, SlotUnavailable, TransactionConflict
from ..links import rules_from_link
from ..ports import Services
from ..scheduling import (
    GROUP,
    ONE_ON_ONE,
    ROUND_ROBIN,
    HostSchedule,
    compile_rules,
    compute_slots,
    load_zone,
    visitor_range,
)
from ..notifications.webhooks import queue_webhooks
from . import assignment, consent, crm_owner, inputs, slot_cache, timeline
from .availability import bookings_by_host, booking_rows, link_hosts, schedules

LINK = "Meeting Link"
BOOKING = "Booking"
MAX_DAYS = 62
RESERVED_SLUGS = {"manage", "embed", "api", "assets"}
SECOND = timedelta(seconds=1)
MOVE_ATTEMPTS = 3


# --- Reading ---------------------------------------------------------------------------


def published_link(services: Services, slug: Any) -> dict[str, Any]:
    if not isinstance(slug, str) or not slug.strip() or len(slug) > 140:
        raise NotFound("No meeting link here: check the address you were given.")
    link = services.store.get(LINK, slug.strip())
    if not link or not link.get("published"):
        raise NotFound("This meeting link does not exist or is no longer published.")
    return link


def _user_facts(services: Services, user: str) -> dict[str, Any]:
    row = services.store.get("User", user) or {}
    return {
        "name": row.get("full_name") or " ".join(filter(None, [row.get("first_name"), row.get("last_name")])) or user,
        "photo": row.get("user_image") or None,
    }


def durations(link: Mapping[str, Any]) -> list[int]:
    return [d // 60 for d in compile_rules(rules_from_link(link)).durations]


def get_link(services: Services, slug: Any) -> dict[str, Any]:
    """What a visitor may know about a published link (CONTRACT.md)."""
    link = published_link(services, slug)
    users = link_hosts(link)
    hosts = [_user_facts(services, user) for user in users]
    offered = durations(link)
    now = services.clock.now()
    mode = schedules(services, link, users, now, now).mode
    return {
        "link": link["name"],
        "title": link.get("title"),
        "host": hosts[0]["name"] if link.get("meeting_type") != GROUP or len(hosts) == 1 else None,
        "hosts": hosts,
        "photo": link.get("photo") or hosts[0]["photo"],
        "meeting_type": link.get("meeting_type") or ONE_ON_ONE,
        "durations": offered,
        "default_duration": offered[0],
        "timezone": link.get("timezone"),
        "location": link.get("location") or "",
        "description": link.get("description") or "",
        "language": link.get("language") or "en",
        "accent_color": link.get("accent_color") or "",
        "logo": link.get("logo") or "",
        "questions": [
            {key: q.get(key) for key in ("label", "fieldname", "fieldtype", "options")} | {"required": bool(q.get("required"))}
            for q in link.get("questions") or []
        ],
        **consent.public(link),  # consent_enabled, consent_type, texts, subscriptions, legal basis
        "mode": mode,
    }


def get_slots(services: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    slug = payload.get("link")
    head = _link_head(services, slug)
    zone_name = inputs.timezone_name(payload)
    first = inputs.day(payload, "start")
    last = inputs.day(payload, "end")
    if last < first:
        raise InvalidBooking("end", f"{last} is before start {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidBooking("end", f"ask for at most {MAX_DAYS} days at a time")
    duration = inputs.minutes(payload, "duration", durations(head))
    now = services.clock.now()
    rules_zone = load_zone(head.get("timezone") or "UTC")
    key = (head["name"], head.get("modified"), first, last, zone_name, duration,
           now.astimezone(rules_zone).date(), slot_cache.epoch(services))
    cached = slot_cache.get(services, key)
    if cached is None:
        link = published_link(services, slug)
        start, end = visitor_range(first, last, zone_name)
        found, mode = _slots(services, link, start, end, duration)
        zone = load_zone(zone_name)
        cached = (
            mode,
            [
                (slot.start.timestamp(), slot.start.astimezone(zone).isoformat(), slot.end.astimezone(zone).isoformat())
                for slot in found
            ],
        )
        slot_cache.put(services, key, cached)
    mode, slots = cached
    # A cached view may be up to a minute old: minimum notice is applied to `now`.
    earliest = now.timestamp() + int(head.get("minimum_notice") or 0) * 60
    return {
        "link": head["name"],
        "timezone": zone_name,
        "duration": duration,
        "mode": mode,
        "slots": [{"start": start, "end": end} for at, start, end in slots if at >= earliest],
    }


def _link_head(services: Services, slug: Any) -> dict[str, Any]:
    """The few fields of a published link that decide whether a cached view still holds."""
    if not isinstance(slug, str) or not slug.strip() or len(slug) > 140:
        raise NotFound("No meeting link here: check the address you were given.")
    rows = services.store.list(
        LINK,
        {"name": slug.strip()},
        fields=("name", "published", "modified", "timezone", "durations", "minimum_notice"),
        limit=1,
    )
    if not rows or not rows[0].get("published"):
        raise NotFound("This meeting link does not exist or is no longer published.")
    return rows[0]


def _slots(services, link, start, end, duration, *, exclude=None, users=None, live=False):
    users = users or link_hosts(link)
    found = schedules(services, link, users, start, end, exclude=exclude, live=live)
    kind = link.get("meeting_type") or ONE_ON_ONE
    slots = compute_slots(
        rules_from_link(link),
        found.hosts,
        now=services.clock.now(),
        range_start=start,
        range_end=end,
        duration=duration,
        meeting_type=kind,
    )
    return slots, found.mode


# --- Booking ---------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_start(services, link, start: datetime, duration: int, *, exclude=None):
    """The engine's slot at `start`, or the reason it is not bookable (4xx / 409)."""
    now = services.clock.now()
    if start <= now:
        raise InvalidBooking("start", "is in the past; choose a time from the calendar")
    end = start + SECOND
    slots, mode = _slots(services, link, start, end, duration, exclude=exclude, live=True)  # never the cache
    if slots and slots[0].start == start:
        return slots[0], mode
    # Not free: is it a time the link offers at all (then it was taken: 409)?
    users = link_hosts(link)
    open_slots = compute_slots(
        rules_from_link(link),
        [HostSchedule(user) for user in users],
        now=now,
        range_start=start,
        range_end=end,
        duration=duration,
        meeting_type=link.get("meeting_type") or ONE_ON_ONE,
    )
    if open_slots and open_slots[0].start == start:
        raise SlotUnavailable("Sorry, that time was just taken. Please choose another one.")
    raise InvalidBooking("start", "is not a time this meeting link offers")


def _assignment_order(services, link, candidates: list[str], fields: Mapping[str, Any]) -> list[str]:
    """Round robin: the free hosts in the order they are offered the meeting (assignment.py)."""
    if len(candidates) == 1:
        return candidates
    owner = crm_owner.contact_owner(services, candidates, fields) if link.get("prefer_contact_owner") else None
    tallies = assignment.read_counts(services, link, candidates, services.clock.now())
    return assignment.order(candidates, assignment.team(link), tallies, owner)


def _reserve(services, link, slot, duration, fields: dict[str, Any], *, exclude=None, log=True) -> dict[str, Any]:
    """Lock, re-check against committed bookings, insert. Returns the booking doc."""
    kind = link.get("meeting_type") or ONE_ON_ONE
    start, end = slot.start, slot.end
    rules = rules_from_link(link)
    with services.store.atomic():
        # Every candidate is locked at once, in one sorted order, before any is tried: row
        # locks last until the transaction ends, so locking host by host in each request's
        # own assignment order deadlocks two round robin requests against each other.
        services.store.lock("User", sorted(set(slot.hosts)))
        if kind == GROUP:
            # The link's owner organises (the event goes on their default calendar, the
            # other hosts are its attendees) whatever their row in the hosts table.
            attempts = [sorted(slot.hosts, key=lambda user: user != link.get("host"))]
        elif kind == ROUND_ROBIN:
            # Under the lock: the counts include every booking committed before it, so two
            # bookings at once are assigned as if one came after the other.
            attempts = [[user] for user in _assignment_order(services, link, list(slot.hosts), fields)]
        else:
            attempts = [list(slot.hosts)]
        for users in attempts:
            with services.store.atomic():
                fresh = bookings_by_host(booking_rows(services, start, end, for_update=True), users, link["name"], exclude)
                still = compute_slots(
                    rules,
                    [HostSchedule(user, bookings=fresh[user]) for user in users],
                    now=services.clock.now(),
                    range_start=start,
                    range_end=start + SECOND,
                    duration=duration,
                    meeting_type=GROUP if len(users) > 1 else ONE_ON_ONE,
                )
                if not still:
                    continue
                doc = {
                    **fields,
                    "host": users[0],
                    "other_hosts": "\n".join(users[1:]),
                    "start": start,
                    "end": end,
                    "duration": duration,
                }
                booking = services.store.insert(BOOKING, doc)
                if log:
                    _log(services, link, booking)
                return booking
    raise SlotUnavailable("Sorry, that time was just taken. Please choose another one.")


def _subject(link: Mapping[str, Any], booking: Mapping[str, Any]) -> str:
    template = link.get("invitation_subject") or f"{link.get('title')} with {{{{ first_name }}}} {{{{ last_name }}}}"
    return fill_tokens(template, booking)


def fill_tokens(template: str, values: Mapping[str, Any]) -> str:
    """Replace {{ first_name }}-style contact tokens; unknown tokens become empty."""
    import re

    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(values.get(m.group(1)) or ""), template).strip()


def _log(services, link, booking) -> None:
    event = timeline.log_meeting(
        services,
        booking,
        _subject(link, booking),
        fill_tokens(link.get("invitation_description") or "", booking),
    )
    services.store.update(BOOKING, booking["name"], {"event": event})
    booking["event"] = event


def book(services: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    link = published_link(services, payload.get("link"))
    visitor = inputs.visitor(payload, link)
    duration = inputs.minutes(payload, "duration", durations(link))
    start = inputs.instant(payload, "start")
    slot, mode = _check_start(services, link, start, duration)
    token = secrets.token_urlsafe(32)
    now = services.clock.now()
    fields = {
        "meeting_link": link["name"],
        "status": "Requested" if mode == "request" else "Confirmed",
        "source": "Booking Page",
        "first_name": visitor.first_name,
        "last_name": visitor.last_name,
        "email": visitor.email,
        "timezone": visitor.timezone,
        "answers": visitor.answers,
        **consent.record(link, consent.Choice(visitor.consent, visitor.subscriptions), now, payload.get("lang")),
        "buffer_before": int(link.get("buffer_before") or 0),
        "buffer_after": int(link.get("buffer_after") or 0),
        "ical_uid": f"{uuid.uuid4().hex}@meetings-addon",
        "sequence": 0,
        "manage_token": _token_hash(token),
    }
    with services.store.atomic():
        fields["contact"] = timeline.contact_for(services, visitor.email, visitor.first_name, visitor.last_name)
        if mode == "request":
            booking = services.store.insert(BOOKING, {**fields, "host": slot.hosts[0], "start": slot.start, "end": slot.end, "duration": duration})
            _log(services, link, booking)
        else:
            booking = _reserve(services, link, slot, duration, fields)
        if booking.get("consent_type"):
            timeline.log_consent(services, booking, consent.summary(booking))
        _after_change(services, booking, "booked", manage_url(services, token, link))
    return _answer(services, booking, token)


def _answer(services, booking, token) -> dict[str, Any]:
    zone = load_zone(booking.get("timezone") or "UTC")
    return {
        "booking": booking["name"],
        "status": booking["status"],
        "start": booking["start"].astimezone(zone).isoformat(),
        "end": booking["end"].astimezone(zone).isoformat(),
        "host": _user_facts(services, booking["host"])["name"],
        "manage_url": manage_url(services, token, booking.get("meeting_link")),
    }


def manage_url(services: Services, token: str, link: Any = None) -> str:
    """On the link's custom domain when it has one (`link`: the record or its name)."""
    return domains.manage_url(services, token, link)


def _after_change(services: Services, booking: Mapping[str, Any], change: str, manage_url: Optional[str] = None) -> None:
    """Side effects that leave the process run as jobs, after the commit."""
    slot_cache.invalidate(services)
    if booking.get("status") != "Requested":
        services.jobs.enqueue(
            "meetings_addon.booking.jobs.sync_calendar_event",
            job_id=f"calendar:{booking['name']}",
            booking=booking["name"],
        )
    queue_emails(services, booking, change, manage_url)
    queue_webhooks(services, booking, change)


def queue_emails(services: Services, booking: Mapping[str, Any], change: str, manage_url: Optional[str] = None) -> None:
    """The emails of one change, as a job after the commit (once per change and sequence).

    The manage URL carries the raw token, which only book() and reschedule() know (the
    store keeps its hash): it travels in the job's arguments, so it sits in the job
    queue (Redis for RQ and Frappe) until the job is done. The alternative, a new token
    per email, would break the link the visitor already has.
    """
    sequence = int(booking.get("sequence") or 0)
    services.jobs.enqueue(
        "meetings_addon.notifications.jobs.send_booking_emails",
        job_id=f"emails:{booking['name']}:{change}:{sequence}",
        booking=booking["name"],
        change=change,
        manage_url=manage_url,
        sequence=sequence,
    )


# --- Managing with the token -----------------------------------------------------------


def by_token(services: Services, token: Any) -> dict[str, Any]:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound("This link to manage a meeting is not valid.")
    name = services.store.get_value(BOOKING, {"manage_token": _token_hash(token)}, "name")
    booking = services.store.get(BOOKING, name) if name else None
    if not booking:
        raise NotFound("This link to manage a meeting is not valid.")
    return booking


def manage_view(services: Services, token: Any) -> dict[str, Any]:
    booking = by_token(services, token)
    link = services.store.get(LINK, booking["meeting_link"]) or {}
    zone = load_zone(booking.get("timezone") or "UTC")
    return {
        "booking": booking["name"],
        "link": booking["meeting_link"],
        "title": link.get("title"),
        "status": booking["status"],
        "start": booking["start"].astimezone(zone).isoformat(),
        "end": booking["end"].astimezone(zone).isoformat(),
        "timezone": booking.get("timezone"),
        "duration": booking.get("duration"),
        "host": _user_facts(services, booking["host"])["name"],
    }


def _changeable(services, booking) -> None:
    if booking["status"] not in ("Confirmed", "Requested"):
        raise InvalidBooking("token", f"this meeting is already {booking['status'].lower()}")
    if booking["start"] <= services.clock.now():
        raise InvalidBooking("token", "this meeting has already started")


def _relock(services, booking) -> dict[str, Any]:
    """The booking again, locked and re-read: a request with the same token may have
    cancelled or moved it since it was first read."""
    services.store.lock(BOOKING, [booking["name"]])
    fresh = services.store.get(BOOKING, booking["name"])
    if not fresh or fresh.get("manage_token") != booking.get("manage_token"):
        raise InvalidBooking("token", "this meeting was changed meanwhile; open the link again")
    _changeable(services, fresh)
    return fresh


def cancel(services: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    booking = by_token(services, payload.get("token"))
    reason = inputs.text(payload, "reason", required=False, limit=inputs.MAX_REASON, plain=False)
    _changeable(services, booking)
    with services.store.atomic():
        booking = _relock(services, booking)
        services.store.update(
            BOOKING, booking["name"], {"status": "Cancelled", "cancel_reason": reason, "sequence": int(booking.get("sequence") or 0) + 1}
        )
        if booking.get("event"):
            timeline.cancel_meeting(services, booking["event"])
        booking["status"] = "Cancelled"
        booking["sequence"] = int(booking.get("sequence") or 0) + 1
        _after_change(services, booking, "cancelled")
    return {"booking": booking["name"], "status": "Cancelled"}


def reschedule(services: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Move a meeting: the old booking is marked Rescheduled, a new one takes its place
    with the same calendar event, iCalendar UID (sequence raised) and manage link."""
    token = payload.get("token")
    old = by_token(services, token)
    _changeable(services, old)
    link = published_link(services, old["meeting_link"])
    zone_name = inputs.timezone_name(payload) if payload.get("timezone") else old.get("timezone")
    start = inputs.instant(payload, "start")
    duration = int(old.get("duration") or durations(link)[0])
    slot, mode = _check_start(services, link, start, duration, exclude=old["name"])
    carried = {
        key: old.get(key)
        for key in (
            "meeting_link", "source", "first_name", "last_name", "email", "answers", "consent_given",
            "consent_text", "consent_time", "consent_type", "legal_basis", "consent_subscriptions",
            "contact", "reference_doctype", "reference_name", "event",
            "provider", "provider_event_id", "calendar_connection", "calendar_id",
            "ical_uid", "buffer_before", "buffer_after", "manage_token",
            "video_provider", "video_url", "video_meeting_id",  # the same join link (Zoom meeting PATCHed)
        )
    }
    carried.update(
        status="Requested" if mode == "request" else "Confirmed",
        timezone=zone_name,
        rescheduled_from=old["name"],
        sequence=int(old.get("sequence") or 0) + 1,
    )
    for attempt in range(1, MOVE_ATTEMPTS + 1):
        try:
            with services.store.atomic():
                # Hosts first, then the booking, as book() does: the other order deadlocks two
                # moves for one host (on MariaDB, over the unique index the token moves through).
                services.store.lock("User", sorted(set(slot.hosts)))
                _relock(services, old)
                services.store.update(BOOKING, old["name"], {"status": "Rescheduled", "manage_token": None})
                if mode == "request":
                    booking = services.store.insert(BOOKING, {**carried, "host": old["host"], "start": slot.start, "end": slot.end, "duration": duration})
                else:
                    booking = _reserve_moved(services, link, slot, duration, carried, old)
                if booking.get("event"):
                    timeline.move_meeting(services, booking["event"], booking["start"], booking["end"])
                _after_change(services, booking, "rescheduled", manage_url(services, token, link))
            break
        except TransactionConflict:
            # Two moves of different hosts' meetings can still deadlock on MariaDB (its
            # duplicate check on the unique token index); it undid ours: run it again.
            if attempt == MOVE_ATTEMPTS:
                raise
    return _answer(services, booking, token)


def _reserve_moved(services, link, slot, duration, carried, old):
    # Keep the same host when they are free (their calendar holds the event already);
    # the timeline Event moves with the booking instead of being logged again.
    if old["host"] in slot.hosts and (link.get("meeting_type") or ONE_ON_ONE) == ROUND_ROBIN:
        slot = slot._replace(hosts=(old["host"],))
    booking = _reserve(services, link, slot, duration, carried, exclude=old["name"], log=False)
    if booking["host"] != old["host"]:
        # Another host takes it: their own calendar event and video (a Zoom meeting under
        # their Zoom user, a Meet link on their event) are made by the new booking's job;
        # the old host's event and Zoom meeting are removed by the old booking's. A new
        # iCalendar UID too: the old host's provider cancels the old UID, which must not
        # cancel the new meeting in the invitee's calendar (the invitee's update email
        # carries the new invitation and the old UID's cancellation, notifications/emails.py).
        fresh = {**dict.fromkeys(HOST_BOUND), "ical_uid": f"{uuid.uuid4().hex}@meetings-addon", "sequence": 0}
        services.store.update(BOOKING, booking["name"], fresh)
        booking.update(fresh)
        if booking.get("event"):  # the timeline's meeting is the new host's now
            timeline.reassign_meeting(services, booking["event"], booking["host"])
        services.jobs.enqueue("meetings_addon.booking.jobs.sync_calendar_event", job_id=f"calendar:{old['name']}", booking=old["name"])
    return booking


# What a reschedule carries over only while the host stays the same.
HOST_BOUND = ("provider", "provider_event_id", "calendar_connection", "calendar_id",
              "video_provider", "video_url", "video_meeting_id")
