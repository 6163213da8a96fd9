"""Helpers the sync tests of every provider share."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def add_contact(services, email, first="Gia"):
    return services.store.insert("Contact", {"first_name": first, "email_id": email,
                                             "email_ids": [{"email_id": email, "is_primary": 1}]})["name"]


def soon(hours=48):
    """A 30-minute meeting on the hour, `hours` from now."""
    base = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)
    return base, base + timedelta(minutes=30)


def calendar_bookings(services):
    return services.store.list("Booking", {"source": "Calendar"}, fields=("*",), order_by="creation asc")
