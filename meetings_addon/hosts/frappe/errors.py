"""The domain exceptions (meetings_addon.errors) as Frappe exceptions.

Frappe answers an exception raised in a whitelisted method with the class's
`http_status_code` and `exc_type` = the class's __name__, and `frappe.throw` puts the
message in `_server_messages`. The names are those the standalone host sends
(hosts/standalone/web.py), so the page's script handles both hosts the same way:
NotFound answers as Frappe's own DoesNotExistError (404) and DuplicateEntry as
DuplicateEntryError (409); every other class keeps its domain name.

Needs Frappe: imported only by the Frappe host.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import frappe
from frappe import _

from ... import errors as domain


class MeetingsError(frappe.ValidationError):
    http_status_code = 400


class InvalidInput(frappe.ValidationError):
    http_status_code = 417


class InvalidRule(InvalidInput):
    pass


class InvalidBooking(InvalidInput):
    pass


class SlotUnavailable(frappe.ValidationError):
    http_status_code = 409


class CalendarUnavailable(frappe.ValidationError):
    http_status_code = 503


class TransactionConflict(frappe.ValidationError):
    """The database undid the transaction (deadlock, lock wait): nothing was stored."""

    http_status_code = 409


class DuplicateEntryError(frappe.DuplicateEntryError):
    """A unique value or name repeated: 409 (Frappe's own class has no status: 500)."""

    http_status_code = 409


# Domain class -> Frappe class. A domain class not listed (a subclass added later)
# answers under its own name, with its own status, as the standalone host answers it.
CLASSES: dict[type[domain.MeetingsError], type[Exception]] = {
    domain.MeetingsError: MeetingsError,
    domain.InvalidInput: InvalidInput,
    domain.InvalidRule: InvalidRule,
    domain.InvalidBooking: InvalidBooking,
    domain.NotFound: frappe.DoesNotExistError,
    domain.SlotUnavailable: SlotUnavailable,
    domain.CalendarUnavailable: CalendarUnavailable,
    domain.DuplicateEntry: DuplicateEntryError,
    domain.TransactionConflict: TransactionConflict,
}
# Message titles by status (hosts/standalone/web.py TITLES).
TITLES = {400: "Invalid Request", 404: "Not Found", 409: "Not Available", 417: "Invalid Input",
          429: "Too Many Requests", 503: "Unavailable"}


def frappe_class(error: domain.MeetingsError) -> type[Exception]:
    """The Frappe exception class for a domain exception."""
    kind = type(error)
    if kind not in CLASSES:
        parent = next(CLASSES[c] for c in kind.__mro__ if c in CLASSES)
        CLASSES[kind] = type(kind.__name__, (parent,), {"http_status_code": kind.http_status, "__module__": __name__})
    return CLASSES[kind]


def throw(error: domain.MeetingsError) -> None:
    """Raise `error` the Frappe way: frappe.throw with the mapped class.

    A wrong field is also named in the response body's `field`, as the standalone
    host does.
    """
    exc = frappe_class(error)
    title = TITLES.get(getattr(exc, "http_status_code", 417), "Error")
    field = getattr(error, "field", None)
    if field and getattr(frappe.local, "response", None) is not None:
        frappe.local.response["field"] = field
    frappe.throw(error.message, exc=exc, title=_(title))


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the domain exceptions raised inside into their Frappe classes."""
    try:
        yield
    except domain.MeetingsError as error:
        throw(error)
