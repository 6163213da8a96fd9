"""Issue 7's link features on a real Frappe CRM site, in-process (rolled back after each
test): round robin preferring the CRM Lead's owner, hosts validation, consent defaults from
Meetings Settings and the consent on the Contact's timeline, video and domain validation."""

from __future__ import annotations

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.booking import service  # noqa: E402
from tests.frappe.conftest import link_values, make_user, next_day, unique, visitor_email  # noqa: E402


def _slots(services, slug, offset):
    day = next_day(offset).isoformat()
    answer = service.get_slots(services, {"link": slug, "start": day, "end": day, "timezone": "Europe/Paris"})
    return [slot["start"] for slot in answer["slots"]]


def _visitor(slug, start, email, **extra):
    return {"link": slug, "start": start, "duration": 30, "timezone": "Europe/Paris", "first_name": "Lia",
            "last_name": "Lead", "email": email, **extra}


def _team(**values):
    one = make_user(f"{unique('rr')}@meetings-host.example.com", "Una")
    two = make_user(f"{unique('rr')}@meetings-host.example.com", "Tom")
    slug = unique("rr")
    frappe.get_doc(link_values(slug, one, meeting_type="Round Robin", hosts=[{"user": one}, {"user": two}],
                               **values)).insert(ignore_permissions=True)
    return slug, one, two


def test_round_robin_prefers_the_crm_leads_owner(services):
    assert frappe.db.exists("DocType", "CRM Lead"), "Frappe CRM is installed on the bench"
    slug, one, two = _team(prefer_contact_owner=1)
    email = visitor_email("lia")
    frappe.get_doc({"doctype": "CRM Lead", "first_name": "Lia", "email": email, "lead_owner": two}).insert(
        ignore_permissions=True)
    starts = _slots(services, slug, 8)
    first = service.book(services, _visitor(slug, starts[0], email))
    again = service.book(services, _visitor(slug, starts[1], email))
    hosts = [frappe.db.get_value("Booking", b["booking"], "host") for b in (first, again)]
    assert hosts == [two, two]  # the owner each time, not the usual alternation
    stranger = service.book(services, _visitor(slug, starts[2], visitor_email("sam")))
    assert frappe.db.get_value("Booking", stranger["booking"], "host") == one  # fairness for everyone else


def test_round_robin_hosts_are_validated_naming_the_field(site):
    one = make_user(f"{unique('rr')}@meetings-host.example.com", "Una")
    doc = frappe.get_doc(link_values(unique("rr"), one, meeting_type="Round Robin",
                                     hosts=[{"user": one, "weight": 0}]))
    with pytest.raises(frappe.ValidationError) as refused:
        doc.insert(ignore_permissions=True)
    assert str(refused.value).startswith(frappe.get_meta("Meeting Link").get_label("hosts") + ": ")


def test_a_new_link_takes_consent_from_the_settings_and_keeps_its_own_text(site):
    settings = frappe.get_single("Meetings Settings")
    settings.update({"consent_enabled_by_default": 1, "default_consent_text": "We keep your data safe.",
                     "default_privacy_text": "Privacy policy: example.org/privacy",
                     "default_consent_type": "Notice and consent", "default_subscription_type": "One to one",
                     "default_processing_consent_text": "I agree to the processing of my data."})
    settings.save(ignore_permissions=True)
    host = make_user(f"{unique('gd')}@meetings-host.example.com", "Gina")
    doc = frappe.get_doc(link_values(unique("gd"), host)).insert(ignore_permissions=True)
    assert doc.consent_enabled and doc.consent_text == "We keep your data safe."
    assert [row.subscription_type for row in doc.subscriptions] == ["One to one"]
    doc.consent_text = "Our own words."
    doc.save(ignore_permissions=True)
    doc.consent_enabled = 0
    doc.save(ignore_permissions=True)
    doc.consent_enabled = 1
    doc.save(ignore_permissions=True)
    assert frappe.get_doc("Meeting Link", doc.name).consent_text == "Our own words."


def test_a_ticked_new_link_without_a_type_takes_the_settings_type(site):
    settings = frappe.get_single("Meetings Settings")
    settings.update({"default_consent_type": "Legitimate interest",
                     "default_legal_basis": "Legitimate interest - existing customer"})
    settings.save(ignore_permissions=True)
    host = make_user(f"{unique('gd')}@meetings-host.example.com", "Gina")
    doc = frappe.get_doc(link_values(unique("gd"), host, consent_enabled=1)).insert(ignore_permissions=True)
    assert (doc.consent_type, doc.legal_basis) == ("Legitimate interest", "Legitimate interest - existing customer")


def test_the_consent_given_is_stored_and_shown_on_the_contact(services):
    host = make_user(f"{unique('gd')}@meetings-host.example.com", "Gina")
    slug = unique("gd")
    frappe.get_doc(link_values(slug, host, consent_enabled=1, consent_type="Notice and consent",
                               consent_text="Notice.", processing_consent_required=1,
                               processing_consent_text="I agree.", privacy_text="Privacy.",
                               subscriptions=[{"subscription_type": "Marketing"}, {"subscription_type": "One to one"}],
                               )).insert(ignore_permissions=True)
    start = _slots(services, slug, 9)[0]
    email = visitor_email("cora")
    from meetings_addon.errors import InvalidBooking

    with pytest.raises(InvalidBooking) as refused:
        service.book(services, _visitor(slug, start, email, consent=False))
    assert refused.value.field == "consent"
    answer = service.book(services, _visitor(slug, start, email, consent=True, subscriptions=["Marketing"]))
    booking = frappe.get_doc("Booking", answer["booking"])
    assert booking.consent_given and booking.consent_type == "Notice and consent"
    assert frappe.parse_json(booking.consent_subscriptions) == ["Marketing"]
    comments = frappe.get_all("Comment", {"reference_doctype": "Contact", "reference_name": booking.contact,
                                          "comment_type": "Info"}, ["subject", "content"])
    assert len(comments) == 1 and "Marketing" in comments[0].subject and "I agree." in comments[0].content
    # What the desk shows on the Contact: Frappe's own timeline data for the form.
    from frappe.desk.form.load import get_docinfo

    get_docinfo(frappe.get_doc("Contact", booking.contact))
    infos = frappe.response["docinfo"]["info_logs"]
    assert any("Marketing" in (info.get("content") or "") for info in infos)


def test_video_and_domain_fields_are_validated_naming_the_field(site):
    host = make_user(f"{unique('vd')}@meetings-host.example.com", "Vic")
    settings = frappe.get_single("Meetings Settings")
    # meet.example.com is one of the site's domains (a link may only use those: domains.py).
    settings.update({"zoom_account_id": "", "zoom_client_id": "", "custom_domains": "meet.example.com"})
    settings.save(ignore_permissions=True)
    meta = frappe.get_meta("Meeting Link")
    zoom = frappe.get_doc(link_values(unique("vd"), host, video_conferencing="Zoom"))
    with pytest.raises(frappe.ValidationError) as refused:
        zoom.insert(ignore_permissions=True)
    assert str(refused.value).startswith(meta.get_label("video_conferencing") + ": ")
    bad = frappe.get_doc(link_values(unique("vd"), host, custom_domain="https://meet.example.com/x"))
    with pytest.raises(frappe.ValidationError) as refused:
        bad.insert(ignore_permissions=True)
    assert str(refused.value).startswith(meta.get_label("custom_domain") + ": ")
    good = frappe.get_doc(link_values(unique("vd"), host, custom_domain="Meet.Example.COM.")).insert(
        ignore_permissions=True)
    assert good.custom_domain == "meet.example.com"


def test_settings_refuse_a_legitimate_interest_default_without_its_legal_basis(site):
    settings = frappe.get_single("Meetings Settings")
    settings.update({"default_consent_type": "Legitimate interest", "default_legal_basis": ""})
    with pytest.raises(frappe.ValidationError) as refused:
        settings.save(ignore_permissions=True)
    assert str(refused.value).startswith(frappe.get_meta("Meetings Settings").get_label("default_legal_basis") + ": ")


def test_a_connection_holding_booked_meetings_can_still_be_disconnected(services):
    """Bookings record the connection whose calendar holds their event; that record must
    not stop Frappe from deleting the connection (it is not a Link)."""
    host = make_user(f"{unique('dc')}@meetings-host.example.com", "Dan")
    connection = frappe.get_doc({"doctype": "Calendar Connection", "user": host, "provider": "Local",
                                 "calendars": [{"calendar_id": host, "is_default": 1, "check_availability": 1}]})
    connection.insert(ignore_permissions=True)
    slug = unique("dc")
    frappe.get_doc(link_values(slug, host)).insert(ignore_permissions=True)
    start = _slots(services, slug, 10)[0]
    answer = service.book(services, _visitor(slug, start, visitor_email("dina")))
    from meetings_addon.booking.jobs import sync_calendar_event

    sync_calendar_event(services, answer["booking"])
    assert frappe.db.get_value("Booking", answer["booking"], "calendar_connection") == connection.name
    from meetings_addon.connections import manage

    manage.disconnect(services, host, {"connection": connection.name})
    assert not frappe.db.exists("Calendar Connection", connection.name)
