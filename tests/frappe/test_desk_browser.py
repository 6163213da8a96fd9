"""The desk's "Schedule meeting" (issue 6) driven in Chromium as a user would use it.

public/js/schedule_meeting.js reaches the Contact form through hooks.py doctype_js; a
System Manager with a Meeting Link signs in through /login, opens a Contact, picks
Meetings > Schedule meeting, fills the dialog and schedules. The Booking (source CRM,
reference = the Contact) and its Event on the Contact's timeline are then read
in-process, after the web server committed. A subject with markup is refused by the
server and its message is shown over the dialog, which stays open.

The desk needs its assets (/assets/frappe/dist/..., sites/assets/<app> links made by
`bench build`): the web server here is a gunicorn serving frappe.app's
application_with_statics() (the app plus /assets and /files, as `bench serve` does;
in production nginx serves them). Chromium maps the site's name to 127.0.0.1 so the
requests carry the site in their Host header.

Skips off-bench (conftest.py) and, saying why, where Chromium (/usr/bin/chromium) or
Playwright for Python is missing (no `playwright install`: Debian's Chromium is used).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import datetime, time
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from tests.chromium import launch, why_not

from .conftest import Http, _free_port, _wait_for, cleanup, link_values, next_day, unique, visitor_email

PARIS = ZoneInfo("Europe/Paris")
PASSWORD = "Desk-" + secrets.token_urlsafe(12)


pytestmark = pytest.mark.skipif(why_not() is not None, reason=f"desk browser tests skipped: {why_not()}")


# --- the web server with the desk's assets -----------------------------------------------------


@pytest.fixture(scope="module")
def desk(site) -> Iterator[str]:
    """A gunicorn serving the site with /assets; yields its base URL (the site's name)."""
    sites_path = os.path.abspath(os.environ.get("MEETINGS_FRAPPE_SITES_PATH", "."))
    if not os.path.exists(os.path.join(sites_path, "assets", "frappe", "dist")) or not os.path.exists(
        os.path.join(sites_path, "assets", "assets.json")
    ):
        pytest.fail(f"{sites_path}/assets has no built Frappe desk: run `bench build --app frappe`", pytrace=False)
    if not os.path.exists(os.path.join(sites_path, "assets", "meetings_addon")):
        pytest.fail(f"{sites_path}/assets/meetings_addon is missing: run `bench build --app meetings_addon`", pytrace=False)
    port = _free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
         "--worker-class", "gthread", "--timeout", "120", "--graceful-timeout", "5",
         "frappe.app:application_with_statics()"],
        cwd=sites_path,
        env={**os.environ, "SITES_PATH": sites_path},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(Http(f"http://127.0.0.1:{port}", site), server)
        yield f"http://{site}:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p.chromium, site)
        yield browser
        browser.close()


# --- committed data: a System Manager with a password and a link, a Contact ----------------------


@pytest.fixture
def scene(site) -> Iterator[dict[str, Any]]:
    import frappe
    from frappe.utils.password import update_password

    slug = unique("desk")
    user = f"{slug}@meetings-host.example.com"
    frappe.get_doc(
        {
            "doctype": "User",
            "email": user,
            "first_name": "Dora",
            "last_name": "Desk",
            "send_welcome_email": 0,
            "time_zone": "Europe/Paris",
            # Frappe CRM's desk scripts read its lists: a CRM user has its roles too
            "roles": [{"role": role} for role in ("System Manager", "Sales Manager", "Sales User")],
        }
    ).insert(ignore_permissions=True)
    update_password(user, PASSWORD)
    frappe.get_doc(link_values(slug, user, is_default=1)).insert(ignore_permissions=True)
    email = visitor_email("carl")
    contact = frappe.get_doc(
        {
            "doctype": "Contact",
            "first_name": "Carl",
            "last_name": "Client",
            "company_name": "Client SA",
            "email_ids": [{"email_id": email, "is_primary": 1}],
        }
    ).insert(ignore_permissions=True)
    frappe.db.commit()
    facts = {"slug": slug, "user": user, "email": email, "contact": contact.name}
    yield facts
    frappe.db.rollback()
    frappe.db.delete("Activity Log", {"user": user})
    frappe.db.delete("Sessions", {"user": user})
    frappe.db.commit()
    cleanup([slug], [user], [email, *facts.get("emails", [])])


@pytest.fixture
def page(browser, desk):
    context = browser.new_context(
        base_url=desk, locale="en-US", timezone_id="Europe/Paris", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


# --- the user's steps ---------------------------------------------------------------------------


def at(day_offset: int, hour: int) -> str:
    """A start as the dialog's options carry it: ISO in the user's zone (Europe/Paris)."""
    return datetime.combine(next_day(day_offset), time(hour), PARIS).isoformat()


def log_in(page, user: str) -> None:
    page.goto("/login")
    page.fill("#login_email", user)
    page.fill("#login_password", PASSWORD)
    page.click(".btn-login")
    page.wait_for_url(lambda url: "/login" not in url)  # to /app, or /crm where Frappe CRM is the home


def open_schedule_dialog(page, contact: str):
    page.goto(f"/app/contact/{contact}")
    group = page.locator('.page-actions .inner-group-button[data-label="Meetings"]')
    group.locator("button.dropdown-toggle, button").first.click()
    with page.expect_response(lambda r: "meetings_addon.api.schedule.free_slots" in r.url):
        group.locator(".dropdown-item", has_text="Schedule meeting").click()
    dialog = page.locator(".modal.show", has=page.locator(".modal-title", has_text="Schedule meeting"))
    dialog.wait_for()
    return dialog


def choose_slot(page, dialog, day_offset: int, hour: int) -> str:
    """Type the day in the user's date format, then pick the hour among the free times."""
    day = next_day(day_offset).isoformat()
    typed = page.evaluate("(d) => frappe.datetime.str_to_user(d)", day)
    with page.expect_response(lambda r: "meetings_addon.api.schedule.free_slots" in r.url) as answer:
        date = dialog.locator('[data-fieldname="date"] input')
        date.fill(typed)
        date.press("Tab")
    assert answer.value.ok, answer.value.text()
    start = at(day_offset, hour)
    select = dialog.locator('[data-fieldname="start"] select')
    select.locator(f'option[value="{start}"]').wait_for(state="attached")
    select.select_option(start)
    return start


def submit(dialog):
    page = dialog.page
    with page.expect_response(lambda r: "meetings_addon.api.schedule.schedule" in r.url) as answer:
        dialog.locator(".modal-footer .btn-primary", has_text="Schedule").click()
    return answer.value


# --- tests --------------------------------------------------------------------------------------


def test_schedule_a_meeting_from_a_contact_in_the_desk(site, scene, page):
    import frappe
    from frappe.desk.form.load import get_communication_data

    log_in(page, scene["user"])
    dialog = open_schedule_dialog(page, scene["contact"])
    assert dialog.locator('[data-fieldname="subject"] input').input_value() == "Meeting with {{ first_name }} {{ last_name }}"
    start = choose_slot(page, dialog, 3, 10)
    # a new duration asks for the times again (the first is preselected): pick 10:00 again
    with page.expect_response(lambda r: "meetings_addon.api.schedule.free_slots" in r.url):
        dialog.locator('[data-fieldname="duration"] select').select_option("45")
    select = dialog.locator('[data-fieldname="start"] select')
    # the answer resets the time to the first free one (09:00): wait for it, then choose
    page.wait_for_function(
        "(v) => cur_dialog.get_value('start') !== v && cur_dialog.get_field('start').df.options.some(o => o.value === v)",
        arg=start,
    )
    select.select_option(start)
    assert page.evaluate("() => cur_dialog.get_value('start')") == start
    dialog.locator('[data-fieldname="subject"] input').fill("Intro {{ first_name }} / {{ company }}")
    dialog.locator('[data-fieldname="location"] input').fill("Room 4")
    dialog.locator('[data-fieldname="description"] textarea').fill("Agenda: pricing")

    answer = submit(dialog)
    assert answer.ok, answer.text()
    dialog.wait_for(state="hidden")
    page.locator("#alert-container", has_text="logged on the record only").wait_for()

    # after the form's reload, the Meetings group offers to change the new meeting
    group = page.locator('.page-actions .inner-group-button[data-label="Meetings"]')
    group.locator("button").first.click()
    group.locator(".dropdown-item", has_text=f"Change: {next_day(3).isoformat()}").wait_for()

    page.locator(".new-timeline", has_text="Intro Carl / Client SA").first.wait_for()  # the Event, on the form's timeline

    frappe.db.rollback()  # a fresh snapshot: the web server committed
    rows = frappe.get_all(
        "Booking",
        {"reference_doctype": "Contact", "reference_name": scene["contact"]},
        ["name", "source", "status", "contact", "host", "subject", "location", "description", "event", "start", "end", "meeting_link"],
    )
    assert len(rows) == 1, rows
    booking = rows[0]
    assert (booking.source, booking.status, booking.contact, booking.host, booking.meeting_link) == (
        "CRM", "Confirmed", scene["contact"], scene["user"], scene["slug"]
    )
    assert (booking.subject, booking.location, booking.description) == ("Intro Carl / Client SA", "Room 4", "Agenda: pricing")
    starts = frappe.utils.get_datetime(booking.start)
    assert (frappe.utils.get_datetime(booking.end) - starts).total_seconds() == 45 * 60
    event = frappe.get_doc("Event", booking.event)
    assert event.subject == "Intro Carl / Client SA" and event.event_category == "Meeting"
    assert [(p.reference_doctype, p.reference_docname) for p in event.event_participants] == [("Contact", scene["contact"])]
    timeline = get_communication_data("Contact", scene["contact"], fields="C.name, C.subject, C.reference_doctype, C.reference_name, C.communication_date")
    assert [(c.reference_doctype, c.reference_name) for c in timeline] == [("Event", event.name)]
    system_zone = ZoneInfo(frappe.utils.get_system_timezone())
    assert frappe.utils.get_datetime(event.starts_on) == datetime.fromisoformat(start).astimezone(system_zone).replace(tzinfo=None)
    assert page.errors == [], page.errors


def test_the_server_error_is_shown_over_the_dialog_and_nothing_is_booked(site, scene, page):
    import frappe

    log_in(page, scene["user"])
    dialog = open_schedule_dialog(page, scene["contact"])
    choose_slot(page, dialog, 4, 11)
    dialog.locator('[data-fieldname="subject"] input').fill("Intro <b>call</b>")

    answer = submit(dialog)
    assert answer.status == 417, answer.text()
    error_modal = page.locator(".modal.show", has=page.locator(".msgprint", has_text="subject: may not contain markup"))
    error_modal.wait_for()
    assert "Invalid Input" in error_modal.locator(".modal-title").inner_text()
    assert dialog.is_visible()  # the dialog stays, with what the user typed
    assert dialog.locator('[data-fieldname="subject"] input').input_value() == "Intro <b>call</b>"

    # the user closes the message, corrects the subject and schedules
    error_modal.locator(".btn-modal-close, .modal-header .close").first.click()
    error_modal.wait_for(state="hidden")
    dialog.locator('[data-fieldname="subject"] input').fill("Intro call")
    answer = submit(dialog)
    assert answer.ok, answer.text()
    dialog.wait_for(state="hidden")

    frappe.db.rollback()
    subjects = frappe.get_all("Booking", {"reference_doctype": "Contact", "reference_name": scene["contact"]}, pluck="subject")
    assert subjects == ["Intro call"]
    assert page.errors == [], page.errors


def test_schedule_a_meeting_from_a_lead_in_frappe_crm(site, scene, page):
    """Frappe CRM's own UI (/crm/leads/<name>): the CRM Form Script fixture's action."""
    import frappe

    if not frappe.db.exists("CRM Form Script", "Meetings: Schedule meeting (Lead)"):
        pytest.skip("Frappe CRM or the app's CRM Form Script is not on this site")
    email = visitor_email("lena")
    lead = frappe.get_doc(
        {"doctype": "CRM Lead", "first_name": "Lena", "last_name": "Lead", "email": email, "organization": "Lead Corp"}
    ).insert(ignore_permissions=True)
    frappe.db.commit()
    try:
        log_in(page, scene["user"])
        page.goto(f"/crm/leads/{lead.name}")
        page.get_by_role("button", name="Schedule meeting").click()
        dialog = page.get_by_role("dialog").filter(has_text="Schedule meeting")
        dialog.locator("#mt-start option").first.wait_for(state="attached")  # today's answer
        with page.expect_response(lambda r: "meetings_addon.api.schedule.free_slots" in r.url):
            dialog.locator("#mt-date").fill(next_day(5).isoformat())
        start = at(5, 14)
        dialog.locator(f'#mt-start option[value="{start}"]').wait_for(state="attached")
        dialog.locator("#mt-start").select_option(start)
        dialog.locator("#mt-subject").fill("{{ first_name }} at {{ company }}")
        with page.expect_response(lambda r: "meetings_addon.api.schedule.schedule" in r.url) as answer:
            dialog.get_by_role("button", name="Schedule", exact=True).click()
        assert answer.value.ok, answer.value.text()
        page.get_by_text("Meeting logged").first.wait_for()

        frappe.db.rollback()
        rows = frappe.get_all("Booking", {"reference_doctype": "CRM Lead", "reference_name": lead.name},
                              ["source", "subject", "email", "contact", "event", "host"])
        assert len(rows) == 1, rows
        assert (rows[0].source, rows[0].subject, rows[0].email, rows[0].host) == ("CRM", "Lena at Lead Corp", email, scene["user"])
        participants = frappe.get_all("Event Participants", {"parent": rows[0].event}, ["reference_doctype", "reference_docname"])
        assert {(p.reference_doctype, p.reference_docname) for p in participants} == {
            ("Contact", rows[0].contact), ("CRM Lead", lead.name)}
    finally:
        frappe.db.rollback()
        frappe.delete_doc("CRM Lead", lead.name, force=True, ignore_permissions=True)
        frappe.db.commit()
        scene.setdefault("emails", []).append(email)
