"""Consent (GDPR) through the standalone host's public API: the booking refused without
the processing consent, subscriptions ticked and kept, legitimate interest, the defaults
of Meetings Settings, consent off and on again, and the consent on the Contact."""

from __future__ import annotations

import json

import pytest

from meetings_addon.hosts.standalone.cli import main

PROSPECT = "Legitimate interest - prospect/lead"
NOTICE = {
    "consent_enabled": 1,
    "consent_type": "Notice and consent",
    "consent_text": "Acme needs your details to arrange the meeting.",
    "processing_consent_text": "I allow Acme to store my details.",
    "processing_consent_required": 1,
    "subscriptions": [
        {"subscription_type": "Marketing", "checkbox_label": "Send me product news"},
        {"subscription_type": "One to one"},
    ],
    "privacy_text": "Unsubscribe at any time.",
}


def count(services, doctype: str) -> int:
    return len(services.store.list(doctype, fields=("name",)))


def first_slot(h, server, slug: str) -> str:
    monday = h.next_monday()
    answer = server.method("get_slots", get={"link": slug, "start": str(monday), "end": str(monday), "timezone": "UTC"})
    assert answer.status_code == 200, answer.text
    return answer.json()["message"]["slots"][0]["start"]


def stored(services, name: str) -> dict:
    booking = services.store.get("Booking", name)
    subscriptions = booking.get("consent_subscriptions")
    booking["consent_subscriptions"] = json.loads(subscriptions) if isinstance(subscriptions, str) else subscriptions
    return booking


@pytest.fixture
def notice(h, server):
    h.token = h.add_host()
    h.add_link("gdpr", **NOTICE)
    return first_slot(h, server, "gdpr")


def test_get_link_gives_the_page_what_it_shows(notice, server):
    facts = server.method("get_link", get={"link": "gdpr"}).json()["message"]
    assert facts["consent_enabled"] is True and facts["consent_type"] == "Notice and consent"
    assert facts["notice_text"] == NOTICE["consent_text"] and facts["privacy_text"] == NOTICE["privacy_text"]
    assert facts["processing_consent_text"] == "I allow Acme to store my details."
    assert facts["processing_consent_required"] is True
    assert facts["subscriptions"] == [{"subscription_type": "Marketing", "label": "Send me product news"},
                                      {"subscription_type": "One to one", "label": "One to one"}]


def test_without_the_processing_consent_nothing_is_stored(notice, h, server, services):
    before = count(services, "Booking"), count(services, "Contact")
    for body in ({}, {"consent": False}, {"consent": False, "subscriptions": ["Marketing"]}):
        refused = server.method("book", post={"link": "gdpr", "start": notice, **h.visitor(), **body})
        assert refused.status_code == 417 and refused.json()["field"] == "consent", refused.text
    assert (count(services, "Booking"), count(services, "Contact")) == before


def test_an_unknown_subscription_type_is_refused(notice, h, server, services):
    refused = server.method("book", post={"link": "gdpr", "start": notice, "consent": True,
                                          "subscriptions": ["Marketing", "Partners"], **h.visitor()})
    assert refused.status_code == 417 and refused.json()["field"] == "subscriptions"
    assert "'Partners' is not a subscription type" in json.loads(json.loads(refused.json()["_server_messages"])[0])["message"]
    assert count(services, "Booking") == 0 and count(services, "Contact") == 0


def test_the_consent_given_is_stored_with_the_booking_and_moves_with_it(notice, h, server, services):
    made = server.method("book", post={"link": "gdpr", "start": notice, "consent": True,
                                       "subscriptions": ["One to one"], **h.visitor()})
    assert made.status_code == 200, made.text
    booking = stored(services, made.json()["message"]["booking"])
    assert booking["consent_given"] == 1 and booking["consent_type"] == "Notice and consent"
    assert booking["consent_subscriptions"] == ["One to one"] and not booking["legal_basis"]
    assert booking["consent_text"] == (
        "Acme needs your details to arrange the meeting.\nOne to one\nI allow Acme to store my details.\nUnsubscribe at any time."
    )
    assert booking["consent_time"] is not None

    token = made.json()["message"]["manage_url"].rsplit("/", 1)[1]
    monday = h.next_monday()
    later = server.method("get_slots", get={"link": "gdpr", "start": str(monday), "end": str(monday), "timezone": "UTC"})
    moved = server.method("reschedule", post={"token": token, "start": later.json()["message"]["slots"][3]["start"]})
    assert moved.status_code == 200, moved.text
    successor = stored(services, moved.json()["message"]["booking"])
    for key in ("consent_given", "consent_text", "consent_time", "consent_type", "consent_subscriptions"):
        assert successor[key] == booking[key], key


def test_the_consent_is_on_the_contacts_timeline(notice, h, server, services, db_url, capsys):
    made = server.method("book", post={"link": "gdpr", "start": notice, "consent": True,
                                       "subscriptions": ["Marketing", "One to one"], **h.visitor()})
    assert made.status_code == 200, made.text
    services.jobs.drain(10)
    assert main(["contact", "timeline", "vera@client.example", "--timezone", "UTC", "--db", db_url]) == 0
    out = capsys.readouterr().out
    line = out.strip().splitlines()[-1]
    assert line.strip().startswith("Consent: Notice and consent — processing: yes — subscriptions: Marketing, One to one — ")
    assert line.endswith(f"booking {made.json()['message']['booking']}")
    # What Frappe's desk shows on the Contact: an Info comment with the text the visitor read.
    [comment] = services.store.list("Comment", {"reference_doctype": "Contact"}, fields=("comment_type", "content", "reference_name"))
    assert comment["comment_type"] == "Info" and "Send me product news" in comment["content"]
    assert comment["reference_name"] == services.store.get("Booking", made.json()["message"]["booking"])["contact"]


def test_legitimate_interest_needs_no_checkbox_and_gives_the_subscriptions(h, server, services):
    h.add_host()
    h.add_link("li", **{**NOTICE, "consent_type": "Legitimate interest", "legal_basis": PROSPECT})
    facts = server.method("get_link", get={"link": "li"}).json()["message"]
    assert facts["processing_consent_required"] is False and facts["legal_basis"] == PROSPECT
    made = server.method("book", post={"link": "li", "start": first_slot(h, server, "li"), **h.visitor()})
    assert made.status_code == 200, made.text
    booking = stored(services, made.json()["message"]["booking"])
    assert booking["consent_type"] == "Legitimate interest" and booking["legal_basis"] == PROSPECT
    assert booking["consent_subscriptions"] == ["Marketing", "One to one"]
    assert "Unsubscribe at any time." in booking["consent_text"] and "Send me product news" not in booking["consent_text"]


def link_body(slug: str, **fields) -> dict:
    body = {"slug": slug, "title": "Intro", "host": "host@team.example", "durations": "30", "timezone": "UTC",
            "availability": [{"weekday": "Monday", "start_time": "09:00", "end_time": "17:00"}], "published": 1}
    body.update(fields)
    return body


def test_legitimate_interest_needs_a_legal_basis_on_the_link(h, server, services):
    token = h.add_host()
    refused = server.resource("POST", "Meeting Link", token, json=link_body(
        "li", consent_enabled=1, consent_type="Legitimate interest", consent_text="Notice"))
    assert refused.status_code == 417 and refused.json()["field"] == "legal_basis"
    assert count(services, "Meeting Link") == 0
    made = server.resource("POST", "Meeting Link", token, json=link_body(
        "li", consent_enabled=1, consent_type="Legitimate interest", consent_text="Notice", legal_basis=PROSPECT))
    assert made.status_code == 200, made.text
    cleared = server.resource("PUT", "Meeting Link/li", token, json={"legal_basis": ""})
    assert cleared.status_code == 417 and cleared.json()["field"] == "legal_basis"
    assert services.store.get("Meeting Link", "li")["legal_basis"] == PROSPECT


def test_a_new_link_takes_the_defaults_of_meetings_settings(h, server, services):
    token = h.add_host()
    services.store.update("Meetings Settings", "Meetings Settings", {
        "consent_enabled_by_default": 1,
        "default_consent_text": "Acme keeps your details.",
        "default_privacy_text": "See our privacy policy.",
        "default_processing_consent_text": "I agree.",
    })
    made = server.resource("POST", "Meeting Link", token, json=link_body("plain"))
    assert made.status_code == 200, made.text
    doc = made.json()["data"]
    assert doc["consent_enabled"] == 1 and doc["consent_type"] == "Notice and consent"
    assert (doc["consent_text"], doc["privacy_text"], doc["processing_consent_text"]) == (
        "Acme keeps your details.", "See our privacy policy.", "I agree.")
    assert [row["subscription_type"] for row in doc["subscriptions"]] == ["One to one"]

    # A link that says otherwise keeps what it said.
    own = server.resource("POST", "Meeting Link", token, json=link_body("own", consent_enabled=1, consent_text="Mine"))
    own = own.json()["data"]
    assert own["consent_text"] == "Mine" and own["privacy_text"] == "See our privacy policy."
    off = server.resource("POST", "Meeting Link", token, json=link_body("off", consent_enabled=0))
    assert off.json()["data"]["consent_enabled"] == 0
    facts = server.method("get_link", get={"link": "plain"}).json()["message"]
    assert facts["consent_enabled"] is True and facts["subscriptions"] == [{"subscription_type": "One to one", "label": "One to one"}]

    # With legitimate interest as the account's type, a link that turns consent on without
    # choosing a type takes it, and its legal basis.
    services.store.update("Meetings Settings", "Meetings Settings", {
        "default_consent_type": "Legitimate interest", "default_legal_basis": PROSPECT})
    ticked = server.resource("POST", "Meeting Link", token, json=link_body("ticked", consent_enabled=1)).json()["data"]
    assert (ticked["consent_type"], ticked["legal_basis"]) == ("Legitimate interest", PROSPECT)


def test_consent_off_and_on_again_restores_the_links_own_text(h, server, services):
    token = h.add_host()
    services.store.update("Meetings Settings", "Meetings Settings", {
        "consent_enabled_by_default": 1, "default_consent_text": "The account's text."})
    made = server.resource("POST", "Meeting Link", token, json=link_body("mine"))
    assert made.status_code == 200, made.text
    custom = {"consent_text": "Our own notice.", "privacy_text": "Our own privacy text.",
              "subscriptions": [{"subscription_type": "Marketing", "checkbox_label": "News, please"}]}
    assert server.resource("PUT", "Meeting Link/mine", token, json=custom).status_code == 200
    off = server.resource("PUT", "Meeting Link/mine", token, json={"consent_enabled": 0})
    assert off.status_code == 200, off.text
    assert server.method("get_link", get={"link": "mine"}).json()["message"]["consent_enabled"] is False
    # Saved again while off (another field): nothing of the consent is lost or replaced.
    assert server.resource("PUT", "Meeting Link/mine", token, json={"title": "Renamed"}).status_code == 200
    on = server.resource("PUT", "Meeting Link/mine", token, json={"consent_enabled": 1})
    assert on.status_code == 200, on.text
    facts = server.method("get_link", get={"link": "mine"}).json()["message"]
    assert facts["consent_enabled"] is True and facts["consent_text"] == "Our own notice."
    assert facts["privacy_text"] == "Our own privacy text."
    assert facts["subscriptions"] == [{"subscription_type": "Marketing", "label": "News, please"}]
    page = server.http.get(server.url + "/meetings/mine", timeout=5).text
    assert "Our own notice." in page and "News, please" in page and "The account&#39;s text." not in page


def test_the_page_shows_the_consent_texts_escaped(h, server):
    h.add_host()
    h.add_link("xss", **{**NOTICE, "consent_text": "Line one <script>alert(1)</script>\nLine two",
                         "subscriptions": [{"subscription_type": "M", "checkbox_label": "<img src=x onerror=alert(2)>News"}]})
    html = server.http.get(server.url + "/meetings/xss", timeout=5).text
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "Line one &lt;script&gt;alert(1)&lt;/script&gt;\nLine two" in html
    assert 'name="subscriptions" value="M"' in html and "&lt;img src=x onerror=alert(2)&gt;News" in html


def test_settings_refuse_legitimate_interest_without_a_legal_basis(h, server, services):
    """Else every new link that turns consent on would be refused for want of one."""
    admin = h.add_host("Administrator", tz="UTC", name="Administrator")
    path = "Meetings Settings/Meetings Settings"
    refused = server.resource("PUT", path, admin, json={"default_consent_type": "Legitimate interest"})
    assert refused.status_code == 417 and refused.json()["field"] == "default_legal_basis", refused.text
    assert not services.store.get("Meetings Settings", "Meetings Settings").get("default_consent_type") == "Legitimate interest"
    fine = server.resource("PUT", path, admin,
                           json={"default_consent_type": "Legitimate interest", "default_legal_basis": PROSPECT})
    assert fine.status_code == 200, fine.text
