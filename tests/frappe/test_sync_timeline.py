"""Calendar sync on a real bench with Frappe CRM (issue 6): an event created in a
connected Google calendar (the emulator) after the connection, with an attendee who is a
Contact and a CRM Lead, is logged by sync_calendar and shows on the Contact's form
timeline (getdoc's docinfo communications) and in Frappe CRM's get_lead_activities.

The connection is made as in test_provider_oauth: a desk user connects Google over real
HTTP (a gunicorn started here, the emulator's consent page, the callback route); the
sync then runs in this process with the site's Frappe services. Everything committed is
deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta, timezone

import pytest

frappe = pytest.importorskip("frappe")
requests = pytest.importorskip("requests")

from tests.frappe.conftest import cleanup, web_server  # noqa: E402
from tests.frappe.test_provider_oauth import (  # noqa: E402
    World, _configure, _desk_user, _restore, connect, saved_connection,
)


@pytest.fixture(scope="module")
def world(site, tmp_path_factory):
    for module in ("msal", "googleapiclient", "google_auth_oauthlib", "cryptography"):
        pytest.importorskip(module)
    from tests.emulators.base import make_test_ca
    from tests.emulators.google import GoogleEmulator
    from tests.emulators.microsoft import MicrosoftEmulator

    ca, cert, key = make_test_ca(tmp_path_factory.mktemp("sync-ca"))
    google = GoogleEmulator(cert, key).start()
    microsoft = MicrosoftEmulator(cert, key).start()  # _configure points both providers at emulators
    patch = pytest.MonkeyPatch()
    for name in [n for n in os.environ if n.startswith(("MEETINGS_GOOGLE_", "MEETINGS_MS_", "MEETINGS_GRAPH_"))]:
        patch.delenv(name)
    patch.setenv("MEETINGS_CA_BUNDLE", str(ca))  # this process runs the sync
    tag = secrets.token_hex(3)
    ann = f"ann.sync.{tag}@meetings-host.example.com"
    passwords = {ann: secrets.token_urlsafe(18) + "aA1!"}
    saved = None
    made: dict[str, list] = {"emails": []}
    try:
        frappe.db.rollback()
        saved = _configure(google, microsoft)
        _desk_user(ann, "Ann", passwords[ann])
        frappe.db.commit()
        with web_server(site, {"MEETINGS_CA_BUNDLE": str(ca)}, own=True) as http:
            yield World(http, google, microsoft, str(ca), "", ann, "", passwords, emails=made["emails"])
    finally:
        frappe.db.rollback()
        frappe.set_user("Administrator")
        for booking in frappe.get_all("Booking", {"host": ann}, ["name", "event"]):
            if booking.event and frappe.db.exists("Event", booking.event):
                frappe.delete_doc("Event", booking.event, force=True, ignore_permissions=True)
            frappe.db.delete("Booking", {"name": booking.name})
        for email in made["emails"]:
            for lead in frappe.get_all("CRM Lead", {"email": email}, pluck="name") if frappe.db.exists("DocType", "CRM Lead") else []:
                frappe.delete_doc("CRM Lead", lead, force=True, ignore_permissions=True)
        frappe.db.commit()
        if saved is not None:
            _restore(saved)
        cleanup([], [ann], made["emails"])
        google.stop()
        microsoft.stop()
        patch.undo()


def test_synced_event_is_on_the_contacts_timeline_and_the_leads_activities(world):
    from frappe.desk.form.load import getdoc

    from meetings_addon.hosts.frappe.services import services as build
    from meetings_addon.sync.service import sync_calendar

    if not frappe.db.exists("DocType", "CRM Lead"):
        pytest.skip("Frappe CRM is not installed on this site")
    world.google.add_account(world.ann)
    session = world.login(world.ann)
    _, answer = connect(world, session, "google")
    connection = saved_connection(world, answer, "Google")
    calendar_id = next(row.calendar_id for row in connection.calendars if row.is_default)

    email = f"lena.{secrets.token_hex(4)}@client.example"
    world.emails.append(email)
    contact = frappe.get_doc({"doctype": "Contact", "first_name": "Lena", "last_name": "Lead",
                              "email_ids": [{"email_id": email, "is_primary": 1}]}).insert(ignore_permissions=True)
    lead = frappe.get_doc({"doctype": "CRM Lead", "first_name": "Lena", "last_name": "Lead", "email": email,
                           "organization": "Lead Corp"}).insert(ignore_permissions=True)
    frappe.db.commit()

    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    subject = f"Synced demo {secrets.token_hex(3)}"
    created = datetime.now(timezone.utc) + timedelta(seconds=2)  # after the connection, to the second
    event = world.google.add_event(world.ann, calendar_id, start, start + timedelta(minutes=30), summary=subject,
                                   attendees=[email], description="From Google", created=created)

    result = sync_calendar(build(), connection.name, calendar_id)
    frappe.db.commit()
    assert result.ran and result.counts["logged"] == 1, result

    booking = frappe.get_doc("Booking", {"provider_event_id": event["id"]})
    assert (booking.source, booking.host, booking.contact) == ("Calendar", world.ann, contact.name)
    timeline_event = frappe.get_doc("Event", booking.event)
    assert timeline_event.event_category == "Meeting" and timeline_event.subject == subject
    assert {(p.reference_doctype, p.reference_docname) for p in timeline_event.event_participants} == {
        ("Contact", contact.name), ("CRM Lead", lead.name)}

    # The Contact's form: getdoc's docinfo carries the timeline's communications.
    frappe.response.docs = []
    frappe.response.pop("docinfo", None)
    getdoc("Contact", contact.name)
    docinfo = frappe.response["docinfo"]
    assert any(c.get("reference_doctype") == "Event" and c.get("reference_name") == timeline_event.name
               and c.get("subject") == subject for c in docinfo["communications"]), docinfo["communications"]

    # Frappe CRM's Lead page: the meeting is among its activities.
    from crm.api.activities import get_lead_activities

    activities = get_lead_activities(lead.name)[0]
    assert any(a.get("activity_type") == "communication" and (a.get("data") or {}).get("subject") == subject
               for a in activities), activities
