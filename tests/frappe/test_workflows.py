"""Workflows on Frappe: a booking, a reschedule and a cancellation run the Booking's
document events, so Frappe's own Notification and Webhook doctypes act on them with no
code (docs/WEBHOOKS.md), and the Meetings Webhook delivers its signed payload from a
Frappe worker as it does standalone (CONTRACT.md, "Outgoing webhooks")."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.booking import service  # noqa: E402
from meetings_addon.hosts.frappe import jobs  # noqa: E402
from tests.frappe.conftest import next_day, visitor_email  # noqa: E402
from tests.frappe.test_booking_http import slots_of  # noqa: E402
from tests.frappe.test_emails import ensure_outgoing  # noqa: E402


class Receiver:
    """A local HTTP endpoint that records what it is sent."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _fresh_caches(site):
    """Notifications and webhooks are cached per doctype; a test's rolled-back ones must
    not outlive it."""
    yield
    frappe.db.rollback()
    frappe.cache.hdel("notifications", "Booking")
    frappe.cache.delete_value("webhooks")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def _visitor(link, start, tag):
    email = visitor_email(tag)
    link["emails"].append(email)
    return {"link": link["slug"], "start": start, "duration": 30, "timezone": "Europe/Paris",
            "first_name": "Wanda", "last_name": "Workflow", "email": email}


def test_a_frappe_notification_on_new_bookings_emails_its_recipient(services, link):
    ensure_outgoing()
    frappe.get_doc({
        "doctype": "Notification", "name": "Meetings test: new booking", "subject": "Booked: {{ doc.first_name }}",
        "document_type": "Booking", "event": "New", "channel": "Email", "enabled": 1,
        "condition": "not doc.rescheduled_from", "message": "{{ doc.email }} at {{ doc.start }}",
        "recipients": [{"receiver_by_document_field": "host"}],
    }).insert(ignore_permissions=True)
    frappe.cache.hdel("notifications", "Booking")
    start = slots_of_in_process(services, link, 11)[0]
    answer = service.book(services, _visitor(link, start, "nora"))
    queued = frappe.get_all("Email Queue", {"reference_doctype": "Booking", "reference_name": answer["booking"]},
                            ["name", "message"])
    assert any("Booked: Wanda" in q.message for q in queued), "the Notification queued its email"
    recipients = frappe.get_all("Email Queue Recipient", {"parent": ["in", [q.name for q in queued]]}, pluck="recipient")
    assert link["host"] in recipients


def test_a_frappe_notification_on_cancellation_by_value_change(services, link):
    ensure_outgoing()
    frappe.get_doc({
        "doctype": "Notification", "name": "Meetings test: cancelled", "subject": "Cancelled: {{ doc.email }}",
        "document_type": "Booking", "event": "Value Change", "value_changed": "status", "channel": "Email",
        "enabled": 1, "condition": "doc.status == 'Cancelled'", "message": "{{ doc.cancel_reason }}",
        "recipients": [{"receiver_by_document_field": "host"}],
    }).insert(ignore_permissions=True)
    frappe.cache.hdel("notifications", "Booking")
    start = slots_of_in_process(services, link, 12)[1]
    answer = service.book(services, _visitor(link, start, "otto"))
    token = answer["manage_url"].rsplit("/", 1)[1]
    service.cancel(services, {"token": token, "reason": "Plans changed"})
    subjects = frappe.get_all("Email Queue", {"reference_doctype": "Booking", "reference_name": answer["booking"]},
                              pluck="message")
    assert sum("Cancelled: " in m for m in subjects) == 1


def test_frappe_webhooks_fire_on_booked_rescheduled_and_cancelled(services, link, receiver):
    """Frappe's Webhook runs after the commit (in tests `now`, in production a worker)."""
    names = []
    for event, condition in (("after_insert", "not doc.rescheduled_from"), ("after_insert", "doc.rescheduled_from"),
                             ("on_update", "doc.status == 'Cancelled'")):
        hook = frappe.get_doc({
            "doctype": "Webhook", "name": f"Meetings test {event} {len(names)}", "webhook_doctype": "Booking", "webhook_docevent": event, "condition": condition,
            "request_url": f"{receiver.url}/{event}/{len(names)}", "request_method": "POST",
            "request_structure": "JSON", "webhook_json": '{"booking": "{{ doc.name }}", "status": "{{ doc.status }}"}',
            "enabled": 1,
        }).insert(ignore_permissions=True)
        names.append(hook.name)
    frappe.db.commit()
    try:
        first, second = slots_of_in_process(services, link, 13)[:2]
        answer = service.book(services, _visitor(link, first, "pia"))
        frappe.db.commit()
        token = answer["manage_url"].rsplit("/", 1)[1]
        moved = service.reschedule(services, {"token": token, "start": second, "timezone": "Europe/Paris"})
        frappe.db.commit()
        service.cancel(services, {"token": token, "reason": "Plans changed"})
        frappe.db.commit()
        seen = [(path.split("/")[2], json.loads(body)) for path, _, body in receiver.received]
        assert ("0", {"booking": answer["booking"], "status": "Confirmed"}) in seen
        assert ("1", {"booking": moved["booking"], "status": "Confirmed"}) in seen
        assert ("2", {"booking": moved["booking"], "status": "Cancelled"}) in seen
        assert sum(1 for hook, _ in seen if hook == "2") == 1, "on_update with a status condition: once"
    finally:
        for name in names:
            frappe.delete_doc("Webhook", name, force=True, ignore_permissions=True)
        frappe.db.commit()


def test_the_meetings_webhook_is_queued_after_commit_and_a_worker_delivers_it_signed(services, link, receiver):
    from frappe.utils.background_jobs import get_job

    hook = frappe.get_doc({"doctype": "Meetings Webhook", "url": receiver.url + "/meetings", "secret": "s3cret",
                           "enabled": 1, "on_booked": 1, "on_rescheduled": 0, "on_cancelled": 0})
    hook.insert(ignore_permissions=True)
    frappe.db.commit()
    booking = None
    try:
        start = slots_of_in_process(services, link, 14)[2]
        answer = service.book(services, _visitor(link, start, "quin"))
        booking = answer["booking"]
        job_id = f"webhook:{hook.name}:{booking}:booked:0"
        assert get_job(job_id) is None, "queued before the commit"
        frappe.db.commit()
        job = get_job(job_id)
        assert job is not None, "queued on Frappe's RQ after the commit"
        jobs.run(job.kwargs["kwargs"]["job"], job.kwargs["kwargs"]["kwargs"])  # what a worker does
        job.delete()
        (path, headers, body), = receiver.received
        payload = json.loads(body)
        assert path == "/meetings" and payload["event"] == "booking.booked"
        assert payload["booking"]["name"] == booking and payload["booking"]["host"] == link["host"]
        assert headers["X-Meetings-Signature"] == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    finally:
        frappe.db.rollback()
        frappe.delete_doc("Meetings Webhook", hook.name, force=True, ignore_permissions=True)
        frappe.db.commit()


def slots_of_in_process(services, link, offset) -> list[str]:
    day = next_day(offset).isoformat()
    answer = service.get_slots(services, {"link": link["slug"], "start": day, "end": day, "timezone": "Europe/Paris"})
    return [slot["start"] for slot in answer["slots"]]
