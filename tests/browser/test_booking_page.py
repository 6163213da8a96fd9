"""The booking page in a real browser (Chromium through Playwright), against the
standalone host: booking, time zones, languages, validation, a slot taken meanwhile, the
manage page, keyboard-only use, axe-core, escaping, a 360 px phone and the embed script."""

from __future__ import annotations

import functools
import os
import re
import threading
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

from .conftest import REPO, fill_details, open_link, run_axe

DAY = "2031-03-05"  # Wednesday, the day after the fixed "today"
SPACES = re.compile(r"[\s\u202f\u00a0\u2009]+")


def text(value: str) -> str:
    """Intl's narrow and thin spaces as plain ones."""
    return SPACES.sub(" ", value or "").strip()


def slot_buttons(page):
    return page.locator("#mt-slots button.mt-slot")


def pick_day(page, day: str = DAY) -> None:
    page.click(f'#mt-days button[data-day="{day}"]')
    page.wait_for_function("day => document.querySelector(`#mt-days button[data-day='${day}']`).getAttribute('aria-pressed') === 'true'", arg=day)
    page.wait_for_selector("#mt-slots button.mt-slot")


def pick_slot(page, index: int = 0, day: str = DAY) -> str:
    pick_day(page, day)
    slot = slot_buttons(page).nth(index)
    start = slot.get_attribute("data-start")
    slot.click()
    page.wait_for_selector("#mt-step-form:not([hidden])")
    return start


def instants(page) -> dict[int, str]:
    return {
        int(b.get_attribute("data-instant")): text(b.inner_text())
        for b in slot_buttons(page).all()
    }


def no_errors(page) -> None:
    assert page.errors == [], page.errors
    assert page.dialogs == [], page.dialogs
    assert "Traceback" not in page.content()


# --- booking ----------------------------------------------------------------------------


def test_book_a_slot_end_to_end(site, page):
    open_link(page, site, "intro")
    assert page.inner_text("h1") == "Intro meeting"
    assert "Alex Morgan" in page.inner_text(".mt-host-name")
    assert "Video call" in page.inner_text(".mt-facts")
    # Today (4 March) is open, the days before it are not, weekends are not.
    assert page.locator('#mt-days button[data-day="2031-03-04"]').count() == 1
    assert page.locator('#mt-days button[data-day="2031-03-03"]').count() == 0
    assert page.locator('#mt-days button[data-day="2031-03-08"]').count() == 0
    assert page.locator("#mt-prev").is_disabled()

    # Two durations: 60 minutes gives one start an hour.
    page.click("label.mt-chip:has-text('60 min')")
    page.wait_for_function("() => document.querySelectorAll('#mt-slots .mt-slot').length === 7")
    start = pick_slot(page, 1)
    assert text(page.inner_text("#mt-chosen-text")).startswith("Wednesday, March 5, 2031")
    assert "10:00" in page.inner_text("#mt-chosen-text")
    assert page.evaluate("document.activeElement.id") == "mt-first-name"

    fill_details(page)
    page.fill("#mt-q0", "Acme")
    page.fill("#mt-q1", "Our onboarding\nand pricing")
    page.fill("#mt-q2", "12")
    page.fill("#mt-q3", "+33 1 23 45 67 89")
    page.select_option("#mt-q4", "Growth")
    page.check("#mt-q5")
    page.check("#mt-consent")
    page.click("#mt-submit")

    page.wait_for_selector("#mt-done-title")
    assert page.inner_text("#mt-done-title") == "You're booked"
    assert page.evaluate("document.activeElement.id") == "mt-done-title"
    when = text(page.inner_text("#mt-done-when"))
    assert when.startswith("Wednesday, March 5, 2031") and "10:00" in when and "11:00 AM" in when and "Europe/Paris" in when
    assert "Our onboarding" in page.inner_text(".mt-answers")
    ics = page.get_attribute("#mt-calendar-file", "href")
    assert ics.startswith("/api/method/meetings_addon.api.booking.calendar_file?token=")
    manage = page.get_attribute("#mt-manage-link", "href")
    assert manage.startswith(site.url + "/meetings/manage/") and manage.endswith(ics.split("token=")[1])
    download = page.request.get(site.url + ics)  # the .ics the link downloads (the emails' invitation)
    assert download.status == 200 and download.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in download.text()

    [booking] = site.bookings()
    assert booking["status"] == "Confirmed" and booking["duration"] == 60
    assert booking["start"] == datetime.fromisoformat(start)
    assert (booking["first_name"], booking["last_name"], booking["email"]) == ("Vera", "Visitor", "vera@client.example")
    assert booking["timezone"] == "Europe/Paris"
    answers = booking["answers"] if isinstance(booking["answers"], dict) else __import__("json").loads(booking["answers"])
    assert answers == {"company": "Acme", "topic": "Our onboarding\nand pricing", "team_size": 12,
                       "phone": "+33 1 23 45 67 89", "plan": "Growth", "newsletter": True}
    no_errors(page)


def test_months_are_fetched_once_and_the_window_ends_the_navigation(site, page):
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "get_slots" in r.url else None)
    open_link(page, site, "quick")
    page.click("#mt-next")
    page.wait_for_function("() => document.getElementById('mt-month').textContent === 'April 2031'")
    page.wait_for_function("() => document.getElementById('mt-loading').hidden")
    # A rolling window of 4 weeks from 4 March ends on 31 March: April is empty (a visitor
    # ahead of Paris might still see 1 April), May out of reach.
    assert page.locator("#mt-days button.mt-day").count() == 0
    assert page.inner_text("#mt-slots-status") == "No times are available this month."
    assert page.is_disabled("#mt-next") and page.evaluate("document.activeElement.id") == "mt-prev"
    page.click("#mt-prev")
    page.wait_for_function("() => document.getElementById('mt-month').textContent === 'March 2031'")
    page.wait_for_selector("#mt-days button.mt-day")
    assert [re.search(r"start=([\d-]+)", url).group(1) for url in fetched] == ["2031-03-01", "2031-04-01"]
    no_errors(page)


def test_switching_time_zone_relabels_the_same_instants(site, page):
    open_link(page, site, "quick")
    pick_day(page)
    paris = instants(page)
    assert len(paris) == 14 and text(paris[min(paris)]) == "9:00 AM"

    page.click("#mt-tz-toggle")
    assert page.get_attribute("#mt-tz-toggle", "aria-expanded") == "true"
    page.fill("#mt-tz-search", "new york")
    assert page.locator("#mt-tz-list option").first.get_attribute("value") == "America/New_York"
    page.press("#mt-tz-search", "Enter")
    page.wait_for_function("() => document.getElementById('mt-tz-label').textContent.includes('New York')")
    assert page.is_hidden("#mt-tz-panel")
    page.wait_for_function("() => document.querySelector('#mt-slots .mt-slot') && "
                           "document.querySelector('#mt-slots .mt-slot').textContent.trim().startsWith('3:00')")
    new_york = instants(page)
    assert set(new_york) == set(paris)  # the same instants...
    zone = ZoneInfo("America/New_York")
    for instant, label in new_york.items():  # ...labelled in New York's clock
        expected = datetime.fromtimestamp(instant / 1000, zone).strftime("%I:%M %p").lstrip("0")
        assert label == expected, (instant, label, expected)

    # Booking from New York stores the same instant and the visitor's zone.
    first = min(new_york)
    page.click(f'#mt-slots button[data-instant="{first}"]')
    fill_details(page)
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    assert "New York" in page.inner_text("#mt-done-when") and "3:00" in page.inner_text("#mt-done-when")
    [booking] = site.bookings()
    assert booking["start"].timestamp() * 1000 == first and booking["timezone"] == "America/New_York"
    no_errors(page)


def test_the_page_in_french_and_portuguese(site, page):
    open_link(page, site, "rdv")
    assert page.get_attribute("html", "lang") == "fr"
    assert page.inner_text("#mt-flow-title") == "Choisissez une date et une heure"
    assert page.inner_text("#mt-month").lower() == "mars 2031"
    assert page.locator("#mt-weekdays th").first.get_attribute("abbr") == "lundi"  # weeks start on Monday
    assert text(page.inner_text("#mt-slots .mt-slot >> nth=0")) == "09:00"  # 24-hour clock
    assert page.inner_text("#mt-slots-status") == "14 créneaux disponibles"
    pick_slot(page)
    assert page.inner_text("label[for=mt-first-name]").startswith("Prénom")
    assert text(page.inner_text("#mt-chosen-text")).startswith("mercredi 5 mars 2031")
    page.click("#mt-submit")
    assert page.inner_text("#mt-first-name-error") == "Ce champ est obligatoire."

    # The visitor's own choice of language wins over the link's; the page reloads in it.
    page.click(".mt-languages a[lang=pt]")
    page.wait_for_url(re.compile(r"lang=pt"))
    page.wait_for_selector("#mt-slots button.mt-slot")
    assert page.get_attribute("html", "lang") == "pt"
    assert page.inner_text("#mt-flow-title") == "Escolha uma data e uma hora"
    assert page.inner_text("#mt-month").lower() == "março de 2031"
    assert page.get_attribute(".mt-languages a[lang=pt]", "aria-current") == "true"

    page.goto(f"{site.url}/meetings/rdv?lang=en")
    page.wait_for_selector("#mt-slots button.mt-slot")
    assert page.inner_text("#mt-flow-title") == "Choose a date and time"
    no_errors(page)


def test_request_mode_says_so_and_sends_a_request(site, page):
    # A calendar this host cannot read: the link still takes requests, and says so.
    site.services.store.insert("Calendar Connection", {"user": "alex@team.example", "provider": "Exchange",
                                                       "status": "Connected", "account": "alex@team.example"})
    open_link(page, site, "quick")
    assert page.is_visible("#mt-request-note")
    assert "cannot be checked right now" in page.inner_text("#mt-request-note")
    pick_slot(page)
    assert page.inner_text("#mt-submit") == "Send request"
    fill_details(page)
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    assert page.inner_text("#mt-done-title") == "Request sent"
    assert "will confirm this time by email to vera@client.example" in page.inner_text(".mt-lead")
    assert page.locator("#mt-calendar-file").count() == 0 and page.locator("#mt-manage-link").count() == 1
    [booking] = site.bookings()
    assert booking["status"] == "Requested"
    no_errors(page)


def test_missing_required_answer_is_shown_beside_the_field(site, page):
    open_link(page, site, "intro")
    pick_slot(page)
    fill_details(page)
    page.click("#mt-submit")
    assert page.is_visible("#mt-q0-error")
    assert page.inner_text("#mt-q0-error") == "This field is required."
    assert page.get_attribute("#mt-q0", "aria-invalid") == "true"
    assert "mt-q0-error" in page.get_attribute("#mt-q0", "aria-describedby")
    assert page.evaluate("document.activeElement.id") == "mt-q0"
    assert page.inner_text("#mt-consent-error") == "Please accept to continue."
    assert page.is_hidden("#mt-first-name-error")
    assert site.bookings() == []

    page.fill("#mt-q0", "Acme")  # fixed: the message goes as the visitor types
    assert page.is_hidden("#mt-q0-error") and page.get_attribute("#mt-q0", "aria-invalid") is None
    page.fill("#mt-q2", "twelve")
    page.check("#mt-consent")
    page.click("#mt-submit")
    assert page.inner_text("#mt-q2-error") == "Enter a whole number."
    page.fill("#mt-q2", "")

    # A field only the server can judge: its message is shown beside that field too.
    page.fill("#mt-email", "vera@client.invalid")
    page.click("#mt-submit")
    page.wait_for_selector("#mt-email-error:not([hidden])")
    assert page.inner_text("#mt-email-error") == "Enter a valid email address, like name@example.com."
    assert page.evaluate("document.activeElement.id") == "mt-email"
    assert site.bookings() == []
    no_errors(page)


def test_a_slot_taken_meanwhile_says_so_and_refreshes_the_slots(site, page):
    open_link(page, site, "quick")
    start = pick_slot(page, 2)
    fill_details(page)
    taken = site.book("quick", start)  # someone else books it between showing and submitting
    assert taken.status_code == 200, taken.text
    page.click("#mt-submit")

    page.wait_for_selector("#mt-pick-alert:not([hidden])")
    assert page.inner_text("#mt-pick-alert") == "Sorry, that time was just taken. Please choose another one."
    assert page.is_visible("#mt-step-pick") and page.is_hidden("#mt-step-form")
    page.wait_for_function("(s) => document.querySelectorAll('#mt-slots .mt-slot').length === 13 && "
                           "!document.querySelector(`#mt-slots [data-start='${s}']`)", arg=start)
    assert page.get_attribute('#mt-days button[data-day="2031-03-05"]', "aria-pressed") == "true"

    # The next time works, with the details typed before.
    slot_buttons(page).nth(2).click()
    assert page.input_value("#mt-email") == "vera@client.example"
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    assert len(site.bookings()) == 2
    no_errors(page)


def test_cancel_and_reschedule_from_the_manage_link(site, page):
    start = site.slots("quick", "2031-03-06")[2]["start"]  # Thursday 10:00 Paris
    made = site.book("quick", start, email="vera@client.example")
    assert made.status_code == 200, made.text
    manage_url = made.json()["message"]["manage_url"]

    page.goto(manage_url)
    assert page.get_attribute("#meetings-page", "data-kind") == "manage"
    assert page.inner_text("#mt-manage-status") == "Confirmed"
    when = text(page.inner_text("#mt-manage-when"))
    assert when.startswith("Thursday, March 6, 2031") and "10:00" in when and "Europe/Paris" in when
    assert "calendar_file?token=" in page.get_attribute("#mt-calendar-file", "href")

    page.click("#mt-reschedule-open")
    assert page.evaluate("document.activeElement.id") == "mt-reschedule-title"
    page.wait_for_selector("#mt-slots button.mt-slot")
    pick_day(page, "2031-03-07")
    new_start = slot_buttons(page).nth(0).get_attribute("data-start")
    slot_buttons(page).nth(0).click()
    assert "Friday, March 7, 2031" in text(page.inner_text("#mt-reschedule-chosen"))
    page.click("#mt-reschedule-confirm")
    page.wait_for_selector("#mt-manage-alert:not([hidden])")
    assert "moved" in page.inner_text("#mt-manage-alert")
    assert "Friday, March 7, 2031" in text(page.inner_text("#mt-manage-when"))
    statuses = sorted((b["status"], b["start"].timestamp()) for b in site.bookings())
    assert statuses == sorted([("Rescheduled", datetime.fromisoformat(start).timestamp()),
                               ("Confirmed", datetime.fromisoformat(new_start).timestamp())])

    page.click("#mt-cancel-open")
    assert page.evaluate("document.activeElement.id") == "mt-cancel-reason"
    page.fill("#mt-cancel-reason", "Something came up")
    page.click("#mt-cancel-confirm")
    page.wait_for_function("() => document.getElementById('mt-manage-status').textContent === 'Cancelled'")
    assert page.is_hidden("#mt-manage-actions") and page.locator("#mt-calendar-file").count() == 0
    cancelled = [b for b in site.bookings() if b["status"] == "Cancelled"]
    assert len(cancelled) == 1 and cancelled[0]["cancel_reason"] == "Something came up"

    page.reload()
    assert page.inner_text("#mt-manage-status") == "Cancelled"
    assert page.locator("#mt-manage-actions").count() == 0
    no_errors(page)


def test_booking_with_the_keyboard_only(site, page):
    open_link(page, site, "quick")

    def focused() -> dict:
        return page.evaluate("""() => { const e = document.activeElement;
            return {id: e.id, day: e.getAttribute('data-day'), start: e.getAttribute('data-start'),
                    outline: getComputedStyle(e).outlineStyle, tag: e.tagName}; }""")

    for _ in range(30):
        page.keyboard.press("Tab")
        if focused()["day"]:
            break
    assert focused()["day"] == "2031-03-04"  # the selected day is the grid's one tab stop
    assert focused()["outline"] != "none"  # focus is visible
    page.keyboard.press("ArrowRight")
    assert focused()["day"] == DAY
    page.keyboard.press("ArrowDown")
    assert focused()["day"] == "2031-03-12"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#mt-days button[data-day=\"2031-03-05\"]').getAttribute('aria-pressed') === 'true'")
    page.keyboard.press("Tab")
    slot = focused()
    assert slot["start"] and slot["start"].startswith(DAY)
    assert slot["outline"] != "none"
    page.keyboard.press("Enter")
    page.wait_for_selector("#mt-step-form:not([hidden])")
    assert focused()["id"] == "mt-first-name"
    page.keyboard.type("Kim")
    page.keyboard.press("Tab")
    page.keyboard.type("Keys")
    page.keyboard.press("Tab")
    page.keyboard.type("kim@client.example")
    page.keyboard.press("Tab")
    page.keyboard.type("Only the keyboard")
    page.keyboard.press("Tab")
    assert focused()["id"] == "mt-submit"
    page.keyboard.press("Enter")
    page.wait_for_selector("#mt-done-title")
    assert focused()["id"] == "mt-done-title"
    [booking] = site.bookings()
    assert booking["start"] == datetime.fromisoformat(slot["start"]) and booking["email"] == "kim@client.example"
    no_errors(page)


def test_axe_finds_no_serious_or_critical_violation(site, new_page):
    page = new_page(bypass_csp=True)  # axe is injected as an inline script
    found = {}

    def check(name: str) -> None:
        found[name] = run_axe(page)

    open_link(page, site, "intro")
    check("booking page")
    page.click("#mt-tz-toggle")
    check("time zone list")
    page.click("#mt-tz-toggle")
    pick_slot(page)
    page.click("#mt-submit")
    check("form with errors")
    fill_details(page)
    page.fill("#mt-q0", "Acme")
    page.check("#mt-consent")
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    check("confirmation")
    page.goto(page.get_attribute("#mt-manage-link", "href"))
    check("manage page")
    page.click("#mt-reschedule-open")
    page.wait_for_selector("#mt-slots button.mt-slot")
    check("reschedule")
    open_link(page, site, "rdv")
    check("French page")
    page.goto(f"{site.url}/meetings/no-such-link")
    check("not found")
    phone = new_page(bypass_csp=True, viewport={"width": 360, "height": 740})
    open_link(phone, site, "intro")
    found["phone"] = run_axe(phone)
    assert {name: v for name, v in found.items() if v} == {}
    # The check itself works: an image without a text alternative is reported (critical).
    phone.evaluate("document.querySelector('main').append(Object.assign(document.createElement('img'), {src: 'data:,'}))")
    assert "image-alt" in [v["id"] for v in run_axe(phone)]


def test_markup_in_a_question_and_an_answer_is_shown_as_text(site, page):
    open_link(page, site, "xss")
    assert page.inner_text("h1") == "<script>alert('title')</script>Demo"
    pick_slot(page)
    label = page.inner_text("label[for=mt-q0]")
    assert label.startswith("<img src=x onerror=alert('label')>Your goal")
    fill_details(page)
    payload = "<script>alert('answer')</script><img src=y onerror=alert('answer')>"
    page.fill("#mt-q0", payload)
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    answers = page.inner_text(".mt-answers")
    assert "<img src=x onerror=alert('label')>Your goal" in answers and payload in answers
    assert page.locator("img[src=x], img[src=y]").count() == 0
    assert page.locator("script").count() == 2  # the page's configuration and its script
    page.wait_for_timeout(300)
    no_errors(page)
    [booking] = site.bookings()
    assert payload in str(booking["answers"])  # kept as typed; escaped wherever shown


def test_a_360_pixel_phone_can_book(site, new_page):
    page = new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2)
    open_link(page, site, "intro")
    width = "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    assert page.evaluate(width) <= 360
    pick_slot(page)
    assert page.evaluate(width) <= 360
    fill_details(page)
    page.fill("#mt-q0", "Acme")
    page.check("#mt-consent")
    page.tap("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    assert page.evaluate(width) <= 360
    for selector in ("#mt-calendar-file", "#mt-manage-link"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert len(site.bookings()) == 1
    no_errors(page)


def test_the_embed_snippet_inserts_an_iframe_that_fits_its_content(site, page, tmp_path, request):
    open_link(page, site, "quick")
    page.click(".mt-share summary")
    assert page.input_value("#mt-share-url") == f"{site.url}/meetings/quick"
    snippet = page.input_value("#mt-share-embed")
    assert f'data-url="{site.url}/meetings/quick"' in snippet
    assert re.search(rf'<script src="{re.escape(site.url)}/assets/meetings_addon/js/embed.js\?v=\w+" async></script>', snippet)

    # Another site's page with the snippet: another origin (a second server, another port).
    (tmp_path / "index.html").write_text(
        f"<!doctype html><html lang='en'><head><title>Our site</title></head><body><h1>Our site</h1>{snippet}</body></html>")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    other = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    request.addfinalizer(lambda: (other.shutdown(), other.server_close()))
    page.goto(f"http://127.0.0.1:{other.server_port}/index.html")
    frame_element = page.wait_for_selector(".meetings-embed iframe")
    assert "embed=1" in frame_element.get_attribute("src")
    frame = frame_element.content_frame()
    frame.wait_for_selector("#mt-slots button.mt-slot")
    assert frame.locator(".mt-share").count() == 0  # no share box inside the embed

    def fits() -> bool:
        outer = frame_element.bounding_box()["height"]
        inner = frame.evaluate("Math.ceil(document.getElementById('mt-shell').getBoundingClientRect().height)")
        return abs(outer - inner) <= 12  # the shell plus the body's margins

    page.wait_for_function(
        "() => { const f = document.querySelector('.meetings-embed iframe'); return f.style.height !== '720px'; }")
    assert fits()
    first = frame_element.bounding_box()["height"]
    frame.click("#mt-slots button.mt-slot >> nth=0")
    frame.wait_for_selector("#mt-step-form:not([hidden])")
    page.wait_for_function(f"() => parseFloat(document.querySelector('.meetings-embed iframe').style.height) !== {first}")
    assert fits()
    assert frame.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")  # nothing scrolls inside
    no_errors(page)


def test_screenshots_at_desktop_and_phone_widths(site, new_page, tmp_path):
    """Pictures for the README; MEETINGS_SCREENSHOTS=docs/screenshots writes them there."""
    target = Path(os.environ.get("MEETINGS_SCREENSHOTS") or tmp_path)
    if not target.is_absolute():
        target = REPO / target
    target.mkdir(parents=True, exist_ok=True)
    desktop = new_page(viewport={"width": 1280, "height": 800})
    open_link(desktop, site, "intro")
    desktop.mouse.move(0, 0)
    desktop.screenshot(path=str(target / "booking-desktop.png"))
    pick_slot(desktop, 2)
    fill_details(desktop)
    desktop.fill("#mt-q0", "Acme")
    desktop.screenshot(path=str(target / "form-desktop.png"))
    phone = new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=1)
    open_link(phone, site, "intro")
    phone.screenshot(path=str(target / "booking-phone.png"), full_page=True)
    pick_slot(phone, 2)
    fill_details(phone)
    phone.fill("#mt-q0", "Acme")
    phone.check("#mt-consent")
    phone.tap("#mt-submit")
    phone.wait_for_selector("#mt-done-title")
    phone.evaluate("window.scrollTo(0, 0)")
    phone.screenshot(path=str(target / "confirmation-phone.png"), full_page=True)
    for name in ("booking-desktop", "form-desktop", "booking-phone", "confirmation-phone"):
        assert (target / f"{name}.png").stat().st_size > 10_000
