"""Booking emails on Frappe: queued in Frappe's Email Queue with the .ics invitation,
once (the Meetings Email Log), with desk links for the host; calendar_file over HTTP."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest

frappe = pytest.importorskip("frappe")

from icalendar import Calendar  # noqa: E402

from meetings_addon.hosts.frappe import jobs  # noqa: E402
from tests.frappe.conftest import next_day  # noqa: E402
from tests.frappe.test_booking_http import book, slots_of  # noqa: E402

EMAILS = "meetings_addon.notifications.jobs.send_booking_emails"


def ensure_outgoing():
    """An outgoing Email Account (rolled back after the test), as a site that sends mail has.
    (Frappe's validation skips the SMTP check in tests: frappe.flags.in_test.)"""
    if not frappe.db.exists("Email Account", {"default_outgoing": 1, "enable_outgoing": 1}):
        frappe.get_doc(
            {
                "doctype": "Email Account",
                "email_account_name": "Meetings Test Outgoing",
                "email_id": "meetings@example.org",
                "enable_outgoing": 1,
                "default_outgoing": 1,
                "smtp_server": "127.0.0.1",
                "smtp_port": 2525,
                "no_smtp_authentication": 1,
            }
        ).insert(ignore_permissions=True)


def drop_email_job(booking: str, change: str, sequence: int) -> None:
    """The server queued the job for workers this bench does not run: remove it."""
    from frappe.utils.background_jobs import get_job

    job = get_job(f"emails:{booking}:{change}:{sequence}")
    if job is not None:
        job.delete()


def queued_for(booking: str) -> list:
    names = frappe.get_all("Email Queue", {"reference_doctype": "Booking", "reference_name": booking}, pluck="name",
                           order_by="creation asc")
    return [frappe.get_doc("Email Queue", name) for name in names]


def parsed(message: str):
    import email
    from email import policy

    return email.message_from_string(message, policy=policy.default)


def html_of(message: str) -> str:
    return parsed(message).get_body(preferencelist=("html",)).get_content()


def invitation_in(message: str) -> Calendar:
    parsed_message = parsed(message)
    parts = [p for p in parsed_message.walk() if p.get_filename() == "invite.ics"]
    assert len(parts) == 1, "one invite.ics attachment"
    assert parts[0].get_content_type() == "text/calendar" and parts[0].get_param("method") == "REQUEST"
    return Calendar.from_ical(parts[0].get_payload(decode=True))


def test_booking_emails_are_queued_once_with_the_invitation(http, link):
    start = slots_of(http, link, next_day(9))[1]["start"]
    response, email = book(http, link, start, tag="ivy")
    assert response.status_code == 200, response.text
    answer = response.json()["message"]
    drop_email_job(answer["booking"], "booked", 0)
    frappe.db.rollback()
    ensure_outgoing()

    # What a worker runs once the booking committed (then Frappe commits the job's work).
    kwargs = {"booking": answer["booking"], "change": "booked", "manage_url": answer["manage_url"], "sequence": 0}
    jobs.run(EMAILS, kwargs)
    queued = queued_for(answer["booking"])
    assert sorted(r.recipient for q in queued for r in q.recipients) == sorted([email, link["host"]])

    invitee = next(q for q in queued if q.recipients[0].recipient == email)
    calendar = invitation_in(invitee.message)
    (event,) = calendar.walk("VEVENT")
    booking = frappe.get_doc("Booking", answer["booking"])
    assert str(calendar["METHOD"]) == "REQUEST" and str(event["UID"]) == booking.ical_uid
    assert event.decoded("DTSTART") == datetime.fromisoformat(start)
    assert str(event["ORGANIZER"]) == f"mailto:{link['host']}" and str(event["ATTENDEE"]) == f"mailto:{email}"

    host = next(q for q in queued if q.recipients[0].recipient == link["host"])
    site = frappe.utils.get_url()
    html = html_of(host.message)
    assert f'href="{site}/app/contact/{quote(booking.contact)}"' in html
    assert f'href="{site}/app/booking/{booking.name}"' in html
    # The host (Europe/Paris) reads the slot in Paris time.
    assert "Paris" in html and datetime.fromisoformat(start).strftime("%-I:%M") in html

    logs = frappe.get_all("Meetings Email Log", {"booking": booking.name}, ["recipient", "kind", "sent_on"])
    assert sorted((r.recipient, r.kind) for r in logs) == sorted([(email, "invitee:booked"), (link["host"], "host:booked")])
    assert all(r.sent_on for r in logs)

    jobs.run(EMAILS, kwargs)  # a retry of the same job: nothing new
    assert len(queued_for(answer["booking"])) == len(queued)


def test_a_failing_email_job_rolls_back_its_queue_rows_and_logs(http, link, monkeypatch):
    start = slots_of(http, link, next_day(10))[2]["start"]
    response, email = book(http, link, start, tag="jo")
    answer = response.json()["message"]
    drop_email_job(answer["booking"], "booked", 0)
    frappe.db.rollback()
    ensure_outgoing()

    from meetings_addon.hosts.frappe import mailer

    real = mailer.FrappeMailer.send

    def host_down(self, recipients, *args, **kwargs):
        if recipients == [link["host"]]:
            raise ConnectionError("boom")
        return real(self, recipients, *args, **kwargs)

    monkeypatch.setattr(mailer.FrappeMailer, "send", host_down)
    scheduled = []
    monkeypatch.setattr(jobs, "schedule_retry", lambda *a, **k: scheduled.append(k["attempt"]))
    monkeypatch.setattr(frappe, "log_error", lambda *a, **k: None)
    kwargs = {"booking": answer["booking"], "change": "booked", "manage_url": answer["manage_url"], "sequence": 0}
    jobs.run(EMAILS, kwargs)  # rolls back, as a failing job does
    assert scheduled == [1]
    assert queued_for(answer["booking"]) == []  # the invitee's row went with the failure
    assert not frappe.get_all("Meetings Email Log", {"booking": answer["booking"]})
    assert frappe.db.get_value("Booking", answer["booking"], "status") == "Confirmed"

    monkeypatch.setattr(mailer.FrappeMailer, "send", real)
    ensure_outgoing()
    jobs.run(EMAILS, kwargs)  # the retry sends both, once
    assert len(queued_for(answer["booking"])) == 2


def test_calendar_file_downloads_the_current_invitation(http, link):
    start = slots_of(http, link, next_day(11))[0]["start"]
    response, email = book(http, link, start, tag="kai")
    answer = response.json()["message"]
    token = answer["manage_url"].rsplit("/", 1)[1]

    ics = http.method("calendar_file", get={"token": token})
    assert ics.status_code == 200, ics.text
    assert ics.headers["Content-Type"].startswith("text/calendar") and "method=REQUEST" in ics.headers["Content-Type"]
    assert ics.headers["Content-Disposition"].startswith("attachment") and "invite.ics" in ics.headers["Content-Disposition"]
    calendar = Calendar.from_ical(ics.content)
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST" and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == datetime.fromisoformat(start)

    assert http.method("cancel", post={"token": token}).status_code == 200
    cancelled = Calendar.from_ical(http.method("calendar_file", get={"token": token}).content)
    (event,) = cancelled.walk("VEVENT")
    assert (str(cancelled["METHOD"]), str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCEL", "CANCELLED", 1)
    for change, sequence in (("booked", 0), ("cancelled", 1)):
        drop_email_job(answer["booking"], change, sequence)

    unknown = http.method("calendar_file", get={"token": "x" * 43})
    assert unknown.status_code == 404 and unknown.json()["exc_type"] == "DoesNotExistError"
