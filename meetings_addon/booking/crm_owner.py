"""The visitor's owner in the CRM, for round robin links that prefer it.

Where the meeting is booked from a record (reference_doctype / reference_name), that
record's owner. Otherwise, by the visitor's email:
1. the `lead_owner` of the most recent CRM Lead with that email;
2. the `deal_owner` of the most recent CRM Deal listing the visitor's Contact (CRM Deal's
   `contacts` table, doctype CRM Contacts, field `contact`);
3. the Contact's own `owner`.
The first of these that is one of `hosts` wins; None when none is. Frappe CRM's doctypes
exist only where the app is installed (the standalone store keeps a minimal subset of
them): a store without them answers NotFound, which here simply means "no such owner".
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ..errors import NotFound
from ..ports import Services
from .timeline import find_contact

LEAD, DEAL, DEAL_CONTACTS = "CRM Lead", "CRM Deal", "CRM Contacts"
OWNER_FIELD = {"Contact": "owner", LEAD: "lead_owner", DEAL: "deal_owner"}


def contact_owner(services: Services, hosts: Iterable[str], fields: Mapping[str, Any]) -> Optional[str]:
    """The CRM owner of the booking's visitor, when they are one of `hosts`."""
    hosts = set(hosts)
    for owner in _owners(services, fields):
        if owner in hosts:
            return owner
    return None


def _owners(services: Services, fields: Mapping[str, Any]):
    doctype, name = fields.get("reference_doctype"), fields.get("reference_name")
    if doctype in OWNER_FIELD and name:
        yield _value(services, doctype, {"name": name}, OWNER_FIELD[doctype])
    email = (fields.get("email") or "").strip().lower()
    if email:
        yield _latest(services, LEAD, {"email": email}, "lead_owner")
    contact = fields.get("contact") or (find_contact(services, email) if email else None)
    if not contact:
        return
    deals = _rows(services, DEAL_CONTACTS, {"contact": contact, "parenttype": DEAL}, ("parent",))
    if deals:
        yield _latest(services, DEAL, {"name": ["in", sorted({row["parent"] for row in deals})]}, "deal_owner")
    yield _value(services, "Contact", {"name": contact}, "owner")


def _rows(services: Services, doctype: str, filters, fields, **kwargs) -> list[dict[str, Any]]:
    try:
        return services.store.list(doctype, filters, fields=fields, **kwargs)
    except NotFound:  # Frappe without CRM: the doctype does not exist
        return []


def _latest(services: Services, doctype: str, filters, field: str) -> Optional[str]:
    rows = _rows(services, doctype, {**filters, field: ["is", "set"]}, (field,), order_by="creation desc", limit=1)
    return rows[0][field] if rows else None


def _value(services: Services, doctype: str, filters, field: str) -> Optional[str]:
    rows = _rows(services, doctype, filters, (field,), limit=1)
    return rows[0][field] if rows else None
