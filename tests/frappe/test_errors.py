"""Domain exceptions as Frappe exceptions: the status and exc_type the standalone host
gives them (hosts/standalone/web.py)."""

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon import errors as domain  # noqa: E402
from meetings_addon.hosts.frappe.errors import frappe_class, throw  # noqa: E402


@pytest.mark.parametrize(
    "error, exc_type, status",
    [
        (domain.InvalidInput("email", "bad"), "InvalidInput", 417),
        (domain.InvalidRule("availability", "bad"), "InvalidRule", 417),
        (domain.InvalidBooking("start", "bad"), "InvalidBooking", 417),
        (domain.NotFound("gone"), "DoesNotExistError", 404),
        (domain.SlotUnavailable("taken"), "SlotUnavailable", 409),
        (domain.DuplicateEntry("twice"), "DuplicateEntryError", 409),
        (domain.TransactionConflict("again"), "TransactionConflict", 409),
        (domain.CalendarUnavailable("down"), "CalendarUnavailable", 503),
        (domain.MeetingsError("odd"), "MeetingsError", 400),
    ],
)
def test_each_domain_error_has_its_status_and_name(site, monkeypatch, error, exc_type, status):
    exc = frappe_class(error)
    assert exc.__name__ == exc_type and exc.http_status_code == status
    monkeypatch.setattr(frappe.local, "response", frappe._dict({"docs": []}))
    with pytest.raises(exc) as raised:
        throw(error)
    assert str(raised.value) == error.message
    assert frappe.local.message_log[-1]["message"] == error.message
    assert frappe.local.response.get("field") == getattr(error, "field", None)


def test_a_new_domain_class_answers_under_its_own_name(site):
    class LinkFull(domain.InvalidBooking):
        http_status = 422

    exc = frappe_class(LinkFull("start", "full"))
    assert exc.__name__ == "LinkFull" and exc.http_status_code == 422
    assert issubclass(exc, frappe_class(domain.InvalidBooking("x", "y")))
