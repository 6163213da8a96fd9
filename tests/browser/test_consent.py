"""The consent part of the booking form in Chromium: notice and consent checkboxes,
the processing consent refused beside its checkbox, the ticked subscriptions kept with
the booking, legitimate interest without a checkbox, French, and axe-core."""

from __future__ import annotations

import json

from .conftest import fill_details, link, open_link, run_axe

DAY = "2031-03-05"
PROSPECT = "Legitimate interest - prospect/lead"
NOTICE = {
    "consent_enabled": 1,
    "consent_type": "Notice and consent",
    "consent_text": "Acme needs your details to arrange this meeting.\nRead on before you book.",
    "processing_consent_text": "I allow Acme to store and use my details.",
    "processing_consent_required": 1,
    "subscriptions": [
        {"subscription_type": "Marketing", "checkbox_label": "Send me product news"},
        {"subscription_type": "One to one", "checkbox_label": ""},
    ],
    "privacy_text": "You can unsubscribe at any time. See our privacy policy.",
}


def add(site, slug: str, **fields) -> None:
    site.services.store.insert("Meeting Link", link(slug, **fields))


def pick_slot(page) -> str:
    page.click(f'#mt-days button[data-day="{DAY}"]')
    page.wait_for_selector("#mt-slots button.mt-slot")
    slot = page.locator("#mt-slots button.mt-slot").first
    start = slot.get_attribute("data-start")
    slot.click()
    page.wait_for_selector("#mt-step-form:not([hidden])")
    return start


def consent_of(site) -> list[dict]:
    rows = site.services.store.list("Booking", fields=("name", "consent_given", "consent_type", "consent_subscriptions", "consent_text"))
    for row in rows:
        if isinstance(row["consent_subscriptions"], str):
            row["consent_subscriptions"] = json.loads(row["consent_subscriptions"])
    return rows


def test_notice_and_consent_checkboxes_refuse_then_book(site, page):
    add(site, "gdpr", **NOTICE)
    open_link(page, site, "gdpr")
    pick_slot(page)
    # The notice keeps its line break, each checkbox has its own label, the privacy text follows.
    assert page.inner_text("#mt-consent-notice") == NOTICE["consent_text"]
    assert page.inner_text('label[for="mt-sub0"]') == "Send me product news"
    assert page.inner_text('label[for="mt-sub1"]') == "One to one"
    assert page.inner_text('label[for="mt-consent"]').startswith("I allow Acme to store and use my details.")
    assert "unsubscribe at any time" in page.inner_text("#mt-consent-box .mt-privacy")
    assert page.locator("#mt-consent-box legend").inner_text() == "Privacy and consent"

    fill_details(page)
    page.check("#mt-sub0")
    page.click("#mt-submit")
    assert page.inner_text("#mt-consent-error") == "Please accept to continue."
    assert page.get_attribute("#mt-consent", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "mt-consent"
    assert page.is_hidden("#mt-sub0-error") and page.is_hidden("#mt-sub1-error")  # subscriptions are optional
    assert site.bookings() == []

    page.check("#mt-consent")
    assert page.is_hidden("#mt-consent-error")
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    [booking] = consent_of(site)
    assert booking["consent_given"] == 1 and booking["consent_type"] == "Notice and consent"
    assert booking["consent_subscriptions"] == ["Marketing"]
    assert booking["consent_text"].splitlines() == [
        "Acme needs your details to arrange this meeting.", "Read on before you book.", "Send me product news",
        "I allow Acme to store and use my details.", "You can unsubscribe at any time. See our privacy policy.",
    ]
    assert page.errors == []


def test_the_server_refusal_is_shown_beside_the_checkbox(site, page):
    """A visitor whose script-side check is bypassed still gets the message beside the box."""
    add(site, "gdpr", **NOTICE)
    open_link(page, site, "gdpr")
    pick_slot(page)
    fill_details(page)
    page.evaluate("document.getElementById('mt-consent').removeAttribute('required')")
    page.click("#mt-submit")
    page.wait_for_selector("#mt-consent-error:not([hidden])")
    assert page.inner_text("#mt-consent-error") == "Please accept to continue."
    assert site.bookings() == []


def test_legitimate_interest_shows_the_notice_and_no_checkbox(site, page):
    add(site, "li", **{**NOTICE, "consent_type": "Legitimate interest", "legal_basis": PROSPECT})
    open_link(page, site, "li")
    pick_slot(page)
    assert page.locator("#mt-consent-box input[type=checkbox]").count() == 0
    assert page.locator("#mt-consent").count() == 0
    assert "Read on before you book." in page.inner_text("#mt-consent-notice")
    assert "unsubscribe at any time" in page.inner_text("#mt-consent-box .mt-privacy")
    fill_details(page)
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    [booking] = consent_of(site)
    assert booking["consent_type"] == "Legitimate interest"
    assert booking["consent_subscriptions"] == ["Marketing", "One to one"]


def test_the_default_checkbox_text_in_french_is_kept_in_french(site, page):
    add(site, "fr", language="fr", consent_enabled=1, consent_text="", subscriptions=[])
    open_link(page, site, "fr")
    pick_slot(page)
    label = page.inner_text('label[for="mt-consent"]')
    assert label.startswith("J'accepte que mes coordonnées")
    assert page.locator("#mt-consent-box legend").inner_text() == "Confidentialité et consentement"
    fill_details(page)
    page.check("#mt-consent")
    page.click("#mt-submit")
    page.wait_for_selector("#mt-done-title")
    [booking] = consent_of(site)
    assert booking["consent_text"] == label.rstrip(" *")


def test_axe_finds_nothing_serious_on_the_consent_form(site, new_page):
    page = new_page(bypass_csp=True)  # axe is injected as an inline script
    add(site, "gdpr", **NOTICE)
    add(site, "li", **{**NOTICE, "consent_type": "Legitimate interest", "legal_basis": PROSPECT})
    found = {}
    open_link(page, site, "gdpr")
    pick_slot(page)
    found["consent form"] = run_axe(page)
    page.click("#mt-submit")
    page.wait_for_selector("#mt-consent-error:not([hidden])")
    found["consent form with errors"] = run_axe(page)
    open_link(page, site, "li")
    pick_slot(page)
    found["legitimate interest"] = run_axe(page)
    assert {name: v for name, v in found.items() if v} == {}
