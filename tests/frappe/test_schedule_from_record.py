"""Scheduling from a record on a real bench with Frappe CRM: a Contact, a CRM Lead, a CRM
Deal. The meeting's Event reaches the Contact's timeline (docinfo communications) and
Frappe CRM's Lead/Deal activities; moving it from the record moves the Event.

In-process, as Administrator scheduling for a host user, rolled back after each test.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from .conftest import link_values, make_user, next_day, unique

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def host(site):
    import frappe

    slug = unique("rec")
    user = make_user(f"{slug}@meetings-host.example.com", "Rhea")
    frappe.get_doc(link_values(slug, user, is_default=1)).insert(ignore_permissions=True)
    return user


def at(hour: int, offset: int = 3) -> str:
    return datetime.combine(next_day(offset), time(hour), PARIS).isoformat()


def contact(first: str, email: str, company: str = "Client SA") -> str:
    import frappe

    doc = frappe.get_doc(
        {
            "doctype": "Contact",
            "first_name": first,
            "last_name": "Client",
            "company_name": company,
            "email_ids": [{"email_id": email, "is_primary": 1}],
        }
    ).insert(ignore_permissions=True)
    return doc.name


def needs_crm():
    import frappe

    if not frappe.db.exists("DocType", "CRM Lead"):
        pytest.skip("Frappe CRM is not installed on this site")


def communications(doctype: str, name: str) -> list[dict]:
    from frappe.desk.form.load import get_communication_data

    return get_communication_data(doctype, name, fields="C.name, C.subject, C.reference_doctype, C.reference_name, C.communication_date")


def schedule(services, user, doctype, name, **values):
    from meetings_addon.booking import from_record

    payload = {"reference_doctype": doctype, "reference_name": name, "start": at(10), "duration": 45, **values}
    return from_record.schedule_from_record(services, user, payload)


def test_schedule_from_a_contact_reaches_its_timeline_and_moves(services, host):
    import frappe

    from meetings_addon.booking import from_record

    name = contact("Carla", f"carla.{unique('c')}@client.example")
    answer = schedule(services, host, "Contact", name, subject="Intro {{ first_name }} / {{ company }}", description="Agenda")
    assert answer["invited"] is False and "logged on the record only" in answer["message"]  # only the Local calendar
    booking = frappe.get_doc("Booking", answer["booking"])
    assert (booking.source, booking.reference_doctype, booking.reference_name, booking.contact) == ("CRM", "Contact", name, name)
    assert booking.subject == "Intro Carla / Client SA"
    event = frappe.get_doc("Event", booking.event)
    assert event.event_category == "Meeting" and event.subject == "Intro Carla / Client SA"
    assert [(p.reference_doctype, p.reference_docname) for p in event.event_participants] == [("Contact", name)]
    timeline = communications("Contact", name)
    assert [(c.reference_doctype, c.reference_name) for c in timeline] == [("Event", event.name)]

    moved = from_record.update_from_record(services, host, booking.name, {"start": at(15), "description": "New agenda"})
    assert moved["start"] == at(15)
    event.reload()
    wanted = datetime.fromisoformat(at(15)).astimezone(ZoneInfo(frappe.utils.get_system_timezone())).replace(tzinfo=None)
    assert frappe.utils.get_datetime(event.starts_on) == wanted and event.description == "New agenda"
    assert frappe.utils.get_datetime(communications("Contact", name)[0].communication_date) == wanted
    assert frappe.db.get_value("Booking", booking.name, "sequence") == 1

    from_record.cancel_from_record(services, host, booking.name)
    assert frappe.db.get_value("Event", event.name, "status") == "Cancelled"


def test_schedule_from_a_lead_finds_or_creates_the_contact_and_shows_in_crm(services, host):
    import frappe
    from crm.api.activities import get_lead_activities

    needs_crm()
    email = f"lena.{unique('l')}@client.example"
    lead = frappe.get_doc(
        {"doctype": "CRM Lead", "first_name": "Lena", "last_name": "Lead", "email": email, "organization": "Lead Corp"}
    ).insert(ignore_permissions=True)
    answer = schedule(services, host, "CRM Lead", lead.name, subject="{{ first_name }} at {{ company }}")
    booking = frappe.get_doc("Booking", answer["booking"])
    assert booking.contact and frappe.db.get_value("Contact Email", {"parent": booking.contact}, "email_id") == email
    event = frappe.get_doc("Event", booking.event)
    assert {(p.reference_doctype, p.reference_docname) for p in event.event_participants} == {
        ("Contact", booking.contact),
        ("CRM Lead", lead.name),
    }
    assert frappe.get_meta("CRM Lead").allow_events_in_timeline  # the app's Property Setter
    activities = get_lead_activities(lead.name)[0]
    assert any(
        a["activity_type"] == "communication" and a["data"]["subject"] == "Lena at Lead Corp" for a in activities
    ), "the meeting is not among Frappe CRM's activities of the lead"
    assert [c.reference_name for c in communications("Contact", booking.contact)] == [event.name]


def test_schedule_from_a_deal_invites_its_primary_contact_and_shows_in_crm(services, host):
    import frappe
    from crm.api.activities import get_deal_activities

    needs_crm()
    other = contact("Otto", f"otto.{unique('d')}@client.example")
    primary = contact("Dina", f"dina.{unique('d')}@client.example", company="Deal GmbH")
    deal = frappe.get_doc(
        {
            "doctype": "CRM Deal",
            "contacts": [{"contact": other, "is_primary": 0}, {"contact": primary, "is_primary": 1}],
        }
    ).insert(ignore_permissions=True)
    answer = schedule(services, host, "CRM Deal", deal.name)
    booking = frappe.get_doc("Booking", answer["booking"])
    assert booking.contact == primary and booking.subject == "Meeting with Dina Client"
    assert frappe.get_meta("CRM Deal").allow_events_in_timeline
    activities = get_deal_activities(deal.name)[0]
    assert any(a["activity_type"] == "communication" and a["data"]["subject"] == "Meeting with Dina Client" for a in activities)


def test_api_refuses_a_record_the_user_cannot_read(site, host):
    import frappe

    from meetings_addon.api import schedule as api

    name = contact("Pia", f"pia.{unique('p')}@client.example")
    reader = make_user(f"{unique('nobody')}@meetings-host.example.com", "Nobody")
    frappe.get_doc("User", reader).remove_roles("System Manager")
    frappe.set_user(reader)
    with pytest.raises(frappe.PermissionError):
        api.schedule(reference_doctype="Contact", reference_name=name, start=at(10), duration=30)
