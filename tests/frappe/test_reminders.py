"""Reminders on Frappe: the scheduler's per-minute hook sends the due reminder through
Frappe's Email Queue, once; the preview is a whitelisted method for the link's readers."""

from __future__ import annotations

from datetime import timedelta

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.booking import service  # noqa: E402
from tests.frappe.conftest import next_day, visitor_email  # noqa: E402
from tests.frappe.test_emails import ensure_outgoing  # noqa: E402

HOOK = "meetings_addon.hosts.frappe.jobs.queue_due_reminders"


def test_the_scheduler_hook_queues_a_due_reminder_and_its_job_sends_it_once(services, link, monkeypatch):
    from frappe.utils import add_to_date, now_datetime

    assert HOOK in frappe.get_hooks("scheduler_events")["cron"]["* * * * *"]
    ensure_outgoing()
    day = next_day(1).isoformat()
    slots = service.get_slots(services, {"link": link["slug"], "start": day, "end": day, "timezone": "Europe/Paris"})
    email = visitor_email("rita")
    answer = service.book(services, {"link": link["slug"], "start": slots["slots"][-1]["start"], "duration": 30,
                                     "timezone": "Europe/Paris", "first_name": "Rita", "last_name": "Reminder",
                                     "email": email})
    # Booked four days ago: the 3-days-before reminder is due now.
    frappe.db.set_value("Booking", answer["booking"], "creation", add_to_date(now_datetime(), days=-4),
                        update_modified=False)
    from meetings_addon.hosts.frappe import jobs
    from meetings_addon.hosts.frappe.services import FrappeJobs

    queued = []
    monkeypatch.setattr(FrappeJobs, "enqueue", lambda self, method, job_id=None, **kw: queued.append((method, kw)))
    poll = frappe.get_attr(HOOK)
    assert poll() >= 1
    mine = [(method, kw) for method, kw in queued if kw.get("booking") == answer["booking"]]
    assert [method for method, _ in mine] == ["meetings_addon.notifications.reminders.send_reminder"]
    assert frappe.get_all("Email Queue", {"reference_name": answer["booking"], "message": ["like", "%Reminder%"]}) == []

    def run():  # what a worker does with the queued job
        jobs.run(*mine[0])

    run()
    queued = frappe.get_all("Email Queue", {"reference_doctype": "Booking", "reference_name": answer["booking"]},
                            ["name", "message"])
    reminders = [q for q in queued if "Reminder" in q.message]
    assert len(reminders) == 1
    assert frappe.get_all("Email Queue Recipient", {"parent": reminders[0].name}, pluck="recipient") == [email]
    run()  # the job again (a retry, a second worker): nothing more
    again = frappe.get_all("Email Queue", {"reference_doctype": "Booking", "reference_name": answer["booking"]},
                           pluck="message")
    assert sum("Reminder" in m for m in again) == 1


def test_the_preview_is_whitelisted_and_checks_permission(link):
    from meetings_addon.api.reminders import preview_reminder

    assert preview_reminder in frappe.whitelisted
    answer = preview_reminder(link=link["slug"], language="fr")
    assert "Rappel" in answer["subject"] and 'lang="fr"' in answer["html"]
    frappe.set_user("Guest")
    with pytest.raises(frappe.PermissionError):
        preview_reminder(link=link["slug"])
