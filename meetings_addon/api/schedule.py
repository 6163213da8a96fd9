"""Scheduling a meeting from a Contact, CRM Lead or CRM Deal (booking/from_record.py), for
signed-in users: the desk's "Schedule meeting" button (public/js/schedule_meeting.js) and
Frappe CRM's form script (fixtures/crm_form_script.json) call these.

GET  free_slots(start, end, duration, timezone, link)  the user's free starts
GET  meetings(reference_doctype, reference_name)       the record's scheduled meetings
POST schedule(reference_doctype, reference_name, start, duration, subject, description,
     location, link, timezone)
POST update(booking, start, description, subject, location)
POST cancel(booking, reason)

Every call acts as frappe.session.user, who must be able to read the record (for update
and cancel: the booking's record) and, for update and cancel, host the meeting.
"""

from __future__ import annotations

import frappe

from meetings_addon.booking import from_record
from meetings_addon.hosts.frappe.errors import domain_errors
from meetings_addon.hosts.frappe.services import services

from .booking import _write


def _user() -> str:
    user = frappe.session.user
    if user in (None, "", "Guest"):
        frappe.throw("Sign in to schedule meetings", frappe.PermissionError)
    return user


def _can_read(doctype, name) -> None:
    if doctype not in from_record.RECORD_DOCTYPES:
        with domain_errors():
            from_record.record_person(services(), doctype, name)  # names the field
    if not name or not frappe.db.exists(doctype, name):
        frappe.throw(f"{doctype} {name} does not exist", frappe.DoesNotExistError)
    if not frappe.has_permission(doctype, "read", name):
        frappe.throw(f"You cannot read {doctype} {name}", frappe.PermissionError)


def _booking_record(booking) -> None:
    row = frappe.db.get_value("Booking", booking, ["reference_doctype", "reference_name"], as_dict=True) if booking else None
    if not row:
        frappe.throw("This meeting does not exist.", frappe.DoesNotExistError)
    if row.reference_doctype and row.reference_name:
        _can_read(row.reference_doctype, row.reference_name)


@frappe.whitelist(methods=["GET", "POST"])
def free_slots(start=None, end=None, duration=None, timezone=None, link=None):
    user = _user()
    with domain_errors():
        return from_record.free_slots_for_user(services(), user, start, end, duration, timezone, link)


@frappe.whitelist(methods=["GET", "POST"])
def meetings(reference_doctype=None, reference_name=None):
    _user()
    _can_read(reference_doctype, reference_name)
    with domain_errors():
        return from_record.meetings_of_record(services(), reference_doctype, reference_name)


@frappe.whitelist(methods=["POST"])
def schedule(
    reference_doctype=None,
    reference_name=None,
    start=None,
    duration=None,
    subject=None,
    description=None,
    location=None,
    link=None,
    timezone=None,
):
    user = _user()
    _can_read(reference_doctype, reference_name)
    payload = {
        "reference_doctype": reference_doctype,
        "reference_name": reference_name,
        "start": start,
        "duration": duration,
        "subject": subject,
        "description": description,
        "location": location,
        "link": link,
        "timezone": timezone,
    }
    return _write(lambda s, p: from_record.schedule_from_record(s, user, p), payload)


@frappe.whitelist(methods=["POST"])
def update(booking=None, start=None, description=None, subject=None, location=None):
    user = _user()
    _booking_record(booking)
    payload = {"start": start, "description": description, "subject": subject, "location": location}
    return _write(lambda s, p: from_record.update_from_record(s, user, booking, p), payload)


@frappe.whitelist(methods=["POST"])
def cancel(booking=None, reason=None):
    user = _user()
    _booking_record(booking)
    return _write(lambda s, p: from_record.cancel_from_record(s, user, booking, p), {"reason": reason})
