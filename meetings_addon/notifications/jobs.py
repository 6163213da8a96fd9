"""The email job: sends the emails of one booking change, each at most once.

Queued by booking.service after the booking commits (job id per booking, change and
sequence), retried by the host's job runner when it raises: a mail server that is down
delays the emails and never touches the booking.

Exactly once, through the sent-log (doctype Meetings Email Log, `key` unique): before an
email goes out its key is claimed by inserting the log row; the row's `sent_on` is set
once the mailer took the email. So
- a retried job skips what an earlier attempt sent (a failure halfway through sends the
  rest only);
- two runs of one job at the same moment cannot both send: the second insert of a key
  fails (the database's unique index) and that run leaves the email to the first;
- a send that fails releases its claim (the row is deleted) and the job raises, to be
  retried. In Frappe all of it is one transaction with frappe.sendmail's Email Queue
  row, committed together or rolled back together.
A claim left without `sent_on` (a process killed between claiming and sending) is taken
over after CLAIM_TIMEOUT, so the email is late rather than lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from .. import conferencing
from ..errors import DuplicateEntry
from ..ports import Services
from . import emails
from .meeting import BOOKING, load

LOG = "Meetings Email Log"
CLAIM_TIMEOUT = timedelta(minutes=15)


class EmailInFlight(Exception):
    """Another run of the job is sending this email right now: retry later."""

    retry_after = 60


def superseded(booking: dict, change: str) -> bool:
    """A confirmation whose booking was cancelled or moved meanwhile is not sent: the
    later change's own email tells the reader (a calendar would apply them in SEQUENCE
    order anyway)."""
    if change == "cancelled":
        return booking.get("status") != "Cancelled"
    return booking.get("status") not in ("Confirmed", "Requested")


def send_booking_emails(
    services: Services, booking: str, change: str, manage_url: Optional[str] = None, sequence: Optional[int] = None
) -> int:
    """Send the emails of `change` ("booked", "rescheduled", "cancelled") of a booking.
    Returns how many went out in this run."""
    if services.mailer is None:
        return 0
    doc = services.store.get(BOOKING, booking)
    if not doc or superseded(doc, change):
        return 0
    if change != "cancelled" and conferencing.awaiting_link(services, doc):
        # The confirmation carries the join link, which the calendar job (queued first)
        # is making; the runner retries this job, and after VIDEO_WAIT it goes without.
        raise conferencing.VideoPending(f"booking {booking}: waiting for its video join link")
    told: list[str] = []
    if doc.get("status") == "Requested" and change in ("booked", "rescheduled"):
        # Request mode: the owner's email says a request arrived AND which calendar is
        # disconnected (once per failure); it replaces their generic "new request" one.
        from ..connections import notify

        told = notify.request_arrived(services, booking)
    meeting = load(services, doc)
    sent = len(told)
    for email in emails.compose(services, meeting, change, sequence=sequence, manage_url=manage_url):
        if email.kind.startswith("host:") and email.recipient.lower() in told:
            continue
        if send_once(services, email):
            sent += 1
    return sent


def send_once(services: Services, email: emails.Email) -> bool:
    """Send unless the sent-log has it; True when sent by this call."""
    store = services.store
    claim = _claim(services, email)
    if claim is None:
        return False
    try:
        services.mailer.send(
            [email.recipient], email.subject, email.html, attachments=email.attachments, reference=email.reference
        )
    except BaseException:
        try:
            store.delete(LOG, claim)  # released: the retry sends it
        except Exception:  # noqa: BLE001 - the mailer's error is the one to report
            pass
        raise
    store.update(LOG, claim, {"sent_on": services.clock.now()})
    return True


def _claim(services: Services, email: emails.Email) -> Optional[str]:
    """The name of the log row this run now holds, or None when the email was sent."""
    store = services.store
    row = {
        "key": email.key,
        "booking": email.reference[1],
        "recipient": email.recipient[:140],
        "kind": email.kind,
        "sent_on": None,
    }
    try:
        with store.atomic():
            return store.insert(LOG, row)["name"]
    except DuplicateEntry:
        pass
    existing = store.list(LOG, {"key": email.key}, fields=("name", "sent_on", "creation"), limit=1)
    if not existing:  # released meanwhile by a failed attempt: claim it again
        with store.atomic():
            return store.insert(LOG, row)["name"]
    found = existing[0]
    if found.get("sent_on"):
        return None
    created = found.get("creation")  # stamped by the store with the real time, not services.clock
    if created is not None and datetime.now(timezone.utc) - created < CLAIM_TIMEOUT:
        raise EmailInFlight(f"email {email.kind} to {email.recipient} of booking {email.reference[1]} is being sent")
    return found["name"]  # an abandoned claim: take it over
