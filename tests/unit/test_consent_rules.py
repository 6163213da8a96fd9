"""booking/consent.py: the form a link shows, the visitor's answer checked and recorded,
the link's settings validated, and the defaults a new link takes from Meetings Settings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from meetings_addon.booking import consent
from meetings_addon.errors import InvalidBooking, InvalidRule

NOW = datetime(2031, 3, 4, 8, 0, tzinfo=timezone.utc)
PROSPECT = "Legitimate interest - prospect/lead"


def notice_link(**fields):
    link = {
        "consent_enabled": 1,
        "consent_type": "Notice and consent",
        "consent_text": "Acme needs your details to arrange the meeting.",
        "processing_consent_text": "I allow Acme to store my details.",
        "processing_consent_required": 1,
        "subscriptions": [
            {"subscription_type": "Marketing", "checkbox_label": "Send me product news"},
            {"subscription_type": "One to one", "checkbox_label": None},
        ],
        "privacy_text": "Unsubscribe at any time.",
    }
    link.update(fields)
    return link


def legitimate_link(**fields):
    return notice_link(consent_type="Legitimate interest", legal_basis=PROSPECT, **fields)


def test_a_link_from_before_issue_7_keeps_its_one_checkbox_labelled_by_consent_text():
    shown = consent.form({"consent_enabled": 1, "consent_text": "I agree"})
    assert (shown.notice, shown.processing_text, shown.processing_required) == ("", "I agree", True)
    record = consent.record({"consent_enabled": 1, "consent_text": "I agree"}, consent.Choice(True), NOW)
    assert record["consent_text"] == "I agree" and record["consent_given"] == 1 and record["consent_time"] == NOW


def test_public_settings_name_every_checkbox_with_its_label():
    facts = consent.public(notice_link())
    assert facts["notice_text"] == "Acme needs your details to arrange the meeting."
    assert facts["subscriptions"] == [
        {"subscription_type": "Marketing", "label": "Send me product news"},
        {"subscription_type": "One to one", "label": "One to one"},
    ]
    assert facts["processing_consent_required"] is True and facts["legal_basis"] == ""
    assert consent.public(legitimate_link())["processing_consent_required"] is False
    assert consent.public(legitimate_link())["legal_basis"] == PROSPECT


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"consent": False}, "consent"),
        ({}, "consent"),
        ({"consent": "maybe"}, "consent"),
        ({"consent": True, "subscriptions": ["Newsletter"]}, "subscriptions"),
        ({"consent": True, "subscriptions": "Marketing"}, "subscriptions"),
        ({"consent": True, "subscriptions": [1]}, "subscriptions"),
    ],
)
def test_a_wrong_answer_names_its_field(payload, field):
    with pytest.raises(InvalidBooking) as error:
        consent.check(notice_link(), payload)
    assert error.value.field == field


def test_subscriptions_are_optional_and_the_processing_consent_may_be_optional():
    assert consent.check(notice_link(), {"consent": True}) == consent.Choice(True, ())
    assert consent.check(notice_link(), {"consent": "1", "subscriptions": '["Marketing", "Marketing"]'}).subscriptions == ("Marketing",)
    assert consent.check(notice_link(processing_consent_required=0), {"consent": False}) == consent.Choice(False, ())


def test_the_record_keeps_what_the_visitor_read_and_ticked():
    record = consent.record(notice_link(), consent.Choice(True, ("One to one",)), NOW)
    assert record["consent_text"] == (
        "Acme needs your details to arrange the meeting.\nOne to one\nI allow Acme to store my details.\nUnsubscribe at any time."
    )
    assert record["consent_subscriptions"] == ["One to one"] and record["consent_type"] == "Notice and consent"
    summary = consent.summary({**record, "name": "BK-1"})
    assert summary == "Consent: Notice and consent — processing: yes — subscriptions: One to one — 2031-03-04 08:00 UTC — booking BK-1"


def test_the_default_processing_label_is_kept_in_the_pages_language():
    link = notice_link(processing_consent_text="", consent_text="", subscriptions=[], privacy_text="")
    record = consent.record(link, consent.Choice(True), NOW, lang="fr")
    assert record["consent_text"].startswith("J'accepte que mes coordonnées")


def test_legitimate_interest_needs_no_checkbox_and_gives_every_subscription():
    link = legitimate_link()
    assert consent.check(link, {}) == consent.Choice(False, ())
    record = consent.record(link, consent.Choice(False), NOW)
    assert record["consent_subscriptions"] == ["Marketing", "One to one"] and record["legal_basis"] == PROSPECT
    assert record["consent_given"] == 0 and record["consent_time"] == NOW
    assert "Send me product news" not in record["consent_text"] and "Unsubscribe at any time." in record["consent_text"]
    assert "legal basis: " + PROSPECT in consent.summary(record)


def test_a_link_without_consent_offers_no_subscription():
    with pytest.raises(InvalidBooking) as error:
        consent.check(notice_link(consent_enabled=0), {"subscriptions": ["Marketing"]})
    assert error.value.field == "subscriptions"
    assert consent.record(notice_link(consent_enabled=0), consent.Choice(False), NOW)["consent_type"] == ""


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"consent_type": "Legitimate interest", "legal_basis": ""}, "legal_basis"),
        ({"legal_basis": "Because"}, "legal_basis"),
        ({"consent_type": "Opt out"}, "consent_type"),
        ({"subscriptions": [{"subscription_type": "A"}, {"subscription_type": "A "}]}, "subscriptions"),
        ({"subscriptions": [{"subscription_type": ""}]}, "subscriptions"),
    ],
)
def test_link_settings_are_checked(fields, field):
    with pytest.raises(InvalidRule) as error:
        consent.validate_link(notice_link(**fields))
    assert error.value.field == field


def test_a_link_with_consent_off_may_keep_an_unfinished_legitimate_interest():
    consent.validate_link(notice_link(consent_enabled=0, consent_type="Legitimate interest", legal_basis=""))


SETTINGS = {
    "consent_enabled_by_default": 1,
    "default_consent_text": "We keep your details.",
    "default_privacy_text": "Our privacy policy.",
    "default_consent_type": "Notice and consent",
    "default_processing_consent_text": "I agree.",
    "default_subscription_type": "One to one",
}


def test_a_new_link_takes_the_settings_when_it_chose_nothing():
    changes = consent.new_link_defaults({"title": "Intro"}, SETTINGS)
    assert changes == {
        "consent_enabled": 1,
        "consent_type": "Notice and consent",
        "consent_text": "We keep your details.",
        "privacy_text": "Our privacy policy.",
        "processing_consent_text": "I agree.",
        "subscriptions": [{"subscription_type": "One to one"}],
    }


def test_a_new_links_own_choices_stay():
    assert consent.new_link_defaults({"consent_enabled": 0}, SETTINGS) == {}
    changes = consent.new_link_defaults(
        {"consent_enabled": 1, "consent_text": "Mine", "subscriptions": [{"subscription_type": "Marketing"}]},
        {**SETTINGS, "consent_enabled_by_default": 0},
    )
    assert "consent_text" not in changes and "subscriptions" not in changes and "consent_enabled" not in changes
    assert consent.new_link_defaults({}, {}) == {"consent_enabled": 0}
