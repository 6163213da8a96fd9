"""The emails of book / reschedule / cancel in the standalone outbox: recipients, each
reader's time zone and language, links, escaping of visitor input."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_time
from markupsafe import escape

from meetings_addon.notifications import jobs
from meetings_addon.notifications.emails import compose
from meetings_addon.notifications.i18n import gettext
from meetings_addon.notifications.meeting import load

from .conftest import GUEST, HOST, PARIS, token_of


def clock(moment, language: str = "en") -> str:
    """The wall-clock time of `moment` (in its own zone) as the language writes it:
    `4:00 PM` in English, `16:00` in French."""
    return format_time(moment, "short", locale=language).replace("\u202f", "\xa0")


def plain(text: str) -> str:
    """Spaces as typed: Babel's times put no-break spaces before AM / PM."""
    return text.replace("\xa0", " ")


def test_book_sends_the_invitee_a_confirmation_and_the_host_a_notification(scene):
    scene.host()
    scene.link(location="Zoom")
    start = scene.at(10)
    answer = scene.book(start)
    emails = scene.sent()
    assert sorted(e.to for e in emails) == sorted([GUEST, HOST])

    (invitee,) = scene.sent_to(GUEST)
    assert invitee.subject.startswith("Confirmed: Intro call")
    assert "Your meeting is confirmed" in invitee.html
    assert answer["manage_url"] in invitee.html and answer["manage_url"] in invitee.text
    assert invitee.invitation() is not None
    # The invitee booked from Paris: their email shows Paris time.
    assert clock(start.astimezone(PARIS)) in invitee.html and "Paris" in invitee.html

    (host,) = scene.sent_to(HOST)
    assert host.subject.startswith("New booking: Vera Visitor")
    assert "Vera Visitor booked a meeting with you" in host.html
    assert GUEST in host.html
    assert host.attachments == []  # the host's calendar gets the event from the calendar job
    doc = scene.services.store.get("Booking", answer["booking"])
    base = scene.services.site_url
    assert f'href="{base}/api/resource/Contact/{doc["contact"]}"' in host.html
    assert f'href="{base}/api/resource/Booking/{answer["booking"]}"' in host.html


def test_each_reader_sees_their_own_time_zone_and_language(scene):
    """A French link: the invitee (Paris) reads French; the host (New York, English) reads
    New York time in English."""
    scene.host(tz="America/New_York")
    scene.link(language="fr")
    start = scene.at(10)  # 10:00 in New York
    scene.book(start)

    (invitee,) = scene.sent_to(GUEST)
    assert invitee.subject.startswith("Confirmé : Intro call")
    assert "Votre rendez-vous est confirmé" in invitee.html and "Bonjour Vera Visitor" in invitee.html
    assert 'lang="fr"' in invitee.html
    assert "lundi" in invitee.html  # Babel's French day name
    paris = start.astimezone(PARIS)
    assert f"{clock(paris, 'fr')} – {clock(paris + timedelta(minutes=30), 'fr')}" in invitee.html
    assert escape(gettext("Reschedule or cancel", "fr")) in invitee.html

    (host,) = scene.sent_to(HOST)
    assert "Vera Visitor booked a meeting with you" in host.html
    assert "Monday" in host.html and "10:00 AM – 10:30 AM" in plain(host.html) and "New York" in host.html
    assert "10:00 AM" in plain(host.subject)


def test_portuguese_link_and_a_host_who_reads_french_in_lisbon(scene):
    scene.host()
    scene.services.store.update("User", HOST, {"language": "fr", "time_zone": "Europe/Lisbon"})
    scene.link(language="pt")
    start = scene.at(10)
    scene.book(start)
    (invitee,) = scene.sent_to(GUEST)
    assert invitee.subject.startswith("Confirmado: Intro call")
    assert "A sua reunião está confirmada" in invitee.html and "segunda-feira" in invitee.html
    (host,) = scene.sent_to(HOST)
    assert "Vera Visitor a réservé un rendez-vous avec vous" in host.html
    lisbon = start.astimezone(ZoneInfo("Europe/Lisbon"))
    assert f"{clock(lisbon, 'fr')} – {clock(lisbon + timedelta(minutes=30), 'fr')}" in host.html
    assert "Lisbonne" in host.html


def test_reschedule_and_cancel_emails(scene):
    scene.host()
    scene.link()
    first, moved = scene.at(10), scene.at(15)
    token = token_of(scene.book(first))
    scene.reschedule(token, moved)
    scene.cancel(token, "Double-booked, sorry")

    invitee = scene.sent_to(GUEST)
    assert [e.subject.split(":")[0] for e in invitee] == ["Confirmed", "Updated", "Cancelled"]
    updated, cancelled = invitee[1], invitee[2]
    assert "Your meeting has been rescheduled" in updated.html
    assert clock(first.astimezone(PARIS)) in updated.html and clock(moved.astimezone(PARIS)) in updated.html  # was / now
    assert "/meetings/manage/" + token in updated.html
    assert "Your meeting has been cancelled" in cancelled.html
    assert "Double-booked, sorry" in cancelled.html
    assert "/meetings/manage/" not in cancelled.html  # nothing left to manage
    assert "/meetings/hana-30" in cancelled.html  # book another time

    host = scene.sent_to(HOST)
    assert [e.subject.split(":")[0] for e in host] == ["New booking", "Rescheduled", "Cancelled"]
    assert "Vera Visitor rescheduled their meeting" in host[1].html
    assert "10:00 AM" in plain(host[1].html) and "3:00 PM" in plain(host[1].html)
    assert "Vera Visitor cancelled their meeting" in host[2].html and "Double-booked, sorry" in host[2].html


def test_visitor_input_is_escaped_in_html(scene):
    """Answers arrive through the booking form; names may come from the CRM or the API."""
    scene.host()
    scene.link(questions=[{"label": "Company <b>bold</b>", "fieldname": "company", "fieldtype": "Data"}])
    answer = scene.book(scene.at(10), answers={"company": "<script>alert('answer')</script>"})
    (host,) = scene.sent_to(HOST)
    assert "<script>" not in host.html and "<b>" not in host.html
    assert "&lt;script&gt;alert(&#39;answer&#39;)&lt;/script&gt;" in host.html
    assert "Company &lt;b&gt;bold&lt;/b&gt;" in host.html

    # A name with markup (the booking form refuses one; the CRM or the API may not).
    scene.services.store.update("Booking", answer["booking"], {"first_name": "<script>alert(1)</script>", "last_name": "Lee & Co"})
    assert jobs.send_booking_emails(scene.services, answer["booking"], "rescheduled", sequence=1) == 2
    for email in scene.sent()[2:]:
        assert "<script>" not in email.html, email.to
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Lee &amp; Co" in email.html, email.to
        assert "\n" not in email.subject


def test_a_desk_url_hook_links_the_host_to_frappe_desk(scene):
    scene.host()
    scene.link()
    answer = scene.book(scene.at(10))
    scene.services.document_url = lambda doctype, name: f"https://crm.example/app/{doctype.lower()}/{name}"
    doc = scene.services.store.get("Booking", answer["booking"])
    host = [e for e in compose(scene.services, load(scene.services, doc), "booked") if e.recipient == HOST][0]
    assert f'href="https://crm.example/app/contact/{doc["contact"]}"' in host.html
    assert f'href="https://crm.example/app/booking/{doc["name"]}"' in host.html


def test_a_request_gets_no_invitation_until_confirmed(scene):
    """A booking in request mode (a calendar was unreachable) waits for the host."""
    scene.host()
    scene.link()
    answer = scene.book(scene.at(10))
    scene.services.store.update("Booking", answer["booking"], {"status": "Requested"})
    doc = scene.services.store.get("Booking", answer["booking"])
    invitee, host = compose(scene.services, load(scene.services, doc), "booked")
    assert invitee.subject.startswith("Requested:") and invitee.attachments == ()
    assert "Hana Host will confirm the time shortly." in invitee.html
    assert host.subject.startswith("New request:")


def test_superseded_changes_send_nothing(scene, outbox):
    """A confirmation job that runs after the booking was cancelled stays silent: the
    cancellation's own email tells the reader."""
    scene.host()
    scene.link()
    answer = scene.book(scene.at(10))
    scene.cancel(token_of(answer))
    before = len(scene.sent())
    assert jobs.send_booking_emails(scene.services, answer["booking"], "booked", sequence=5) == 0
    assert len(scene.sent()) == before
