"""The booking API for visitors (CONTRACT.md): guest methods, rate-limited per client.

GET  get_link, get_slots, manage (manage also POST: the token stays out of server logs)
GET  calendar_file (the booking's .ics, a download)
POST book, cancel, reschedule

Each calls meetings_addon.booking.service with the Frappe host's services. The domain
exceptions answer with the status and exc_type the standalone host gives them
(hosts/frappe/errors.py). Permissions are the use-cases' business: the store inserts
with ignore_permissions, so a guest's booking runs Frappe's validations and hooks
without the guest being granted anything.

The arguments carry no type annotations on purpose: the core checks every field and
names the wrong one, so both hosts answer bad input with the same message.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any, Callable, Mapping

import frappe

from meetings_addon.booking import service
from meetings_addon.errors import DuplicateEntry, InvalidInput, MeetingsError, TransactionConflict
from meetings_addon.hosts.frappe.errors import domain_errors, throw
from meetings_addon.hosts.frappe.http import guest_limited
from meetings_addon.hosts.frappe.services import services
from meetings_addon.hosts.frappe.store import is_conflict

# A use-case whose transaction MariaDB undid (TransactionConflict: two locking re-reads
# of the bookings deadlocked), or that raced another request to a new Contact's name
# (DuplicateEntry), runs again from the start, in a new transaction that sees what the
# other request committed.
WRITE_ATTEMPTS = 5


@frappe.whitelist(allow_guest=True, methods=["GET", "POST"], xss_safe=True)
@guest_limited
def get_link(link=None):
    with domain_errors():
        return service.get_link(services(), link)


@frappe.whitelist(allow_guest=True, methods=["GET", "POST"], xss_safe=True)
@guest_limited
def get_slots(link=None, start=None, end=None, timezone=None, duration=None):
    payload = {"link": link, "start": start, "end": end, "timezone": timezone, "duration": duration}
    with domain_errors():
        return service.get_slots(services(), payload)


@frappe.whitelist(allow_guest=True, methods=["POST"], xss_safe=True)
@guest_limited
def book(
    link=None,
    start=None,
    duration=None,
    timezone=None,
    first_name=None,
    last_name=None,
    email=None,
    answers=None,
    consent=None,
    subscriptions=None,
    lang=None,
):
    payload = {
        "link": link,
        "start": start,
        "duration": duration,
        "timezone": timezone,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "answers": answers,
        "consent": consent,
        "subscriptions": subscriptions,  # the subscription types ticked (booking/consent.py)
        "lang": lang,  # the page's language: the consent text is kept as the visitor read it
    }
    return _write(service.book, payload)


@frappe.whitelist(allow_guest=True, methods=["POST"], xss_safe=True)
@guest_limited
def cancel(token=None, reason=None):
    return _write(service.cancel, {"token": token, "reason": reason})


@frappe.whitelist(allow_guest=True, methods=["POST"], xss_safe=True)
@guest_limited
def reschedule(token=None, start=None, timezone=None):
    return _write(service.reschedule, {"token": token, "start": start, "timezone": timezone})


@frappe.whitelist(allow_guest=True, methods=["GET", "POST"], xss_safe=True)
@guest_limited
def manage(token=None):
    with domain_errors():
        return service.manage_view(services(), token)


@frappe.whitelist(allow_guest=True, methods=["GET"], xss_safe=True)
@guest_limited
def calendar_file(token=None):
    """The booking's current invitation (.ics: REQUEST, or CANCEL once cancelled) as a
    download; 404 for an unknown token."""
    from meetings_addon.notifications.ics import calendar_file as build

    with domain_errors():
        filename, content, content_type = build(services(), token)
    frappe.response["type"] = "download"
    frappe.response["filename"] = filename
    frappe.response["filecontent"] = content
    frappe.response["content_type"] = content_type
    frappe.response["display_content_as"] = "attachment"


def _write(use_case: Callable[..., Any], payload: Mapping[str, Any]) -> Any:
    """Run a use-case that writes; run again after a transaction conflict or a race."""
    payload = _parsed_answers(payload)
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        messages = len(frappe.local.message_log)
        try:
            return use_case(services(), payload)
        except (TransactionConflict, DuplicateEntry) as error:
            if attempt == WRITE_ATTEMPTS:
                throw(error)
        except MeetingsError as error:
            throw(error)
        except Exception as error:
            if attempt == WRITE_ATTEMPTS or not is_conflict(error):  # a conflict outside store.atomic()
                raise
        frappe.db.rollback()
        del frappe.local.message_log[messages:]
        time.sleep(random.uniform(0.02, 0.1) * attempt)


def _parsed_answers(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A form post sends the answers as JSON text (the standalone host reads it alike)."""
    payload = dict(payload)
    answers = payload.get("answers")
    if isinstance(answers, str):
        if not answers.strip():
            payload["answers"] = None
        else:
            try:
                payload["answers"] = json.loads(answers)
            except ValueError:
                with domain_errors():
                    raise InvalidInput("answers", "must be a JSON object of {fieldname: value}") from None
    return payload
