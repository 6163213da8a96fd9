"""A team link with a host whose Google calendar is disconnected (token revoked), against
the Google emulator and the real client libraries.

Round robin: that host is busy (never offered alone, never assigned), the others keep
taking bookings, the link's owner is emailed once per failure; reconnecting brings the
host back. Group: nothing can be confirmed, so visitors' requests are saved."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from meetings_addon.booking import service
from meetings_addon.connections import google_oauth
from meetings_addon.errors import SlotUnavailable
from tests.calendars.caldav_servers import RecordingMailer
from tests.calendars.support import at, starts

OWNER = "host@team.example"  # Hana, the link's owner and a host
BO = "bo@team.example"


def connect(services, google, kit, email):
    if email not in google.accounts:
        google.add_account(email, calendars=0)
    google.approving = email  # who signs in on the consent page
    connection = google_oauth.callback(services, kit.consent(google_oauth.start(services, email), _ca()))
    rows = [dict(row, check_availability=1) for row in connection["calendars"]]
    services.store.update("Calendar Connection", connection["name"], {"calendars": rows})
    return connection["name"]


def _ca():
    import os

    return os.environ["MEETINGS_CA_BUNDLE"]


def week(kit, slug="team"):
    monday = kit.next_monday()
    return {"link": slug, "start": monday.isoformat(), "end": (monday + timedelta(days=4)).isoformat(),
            "timezone": "America/New_York"}


def book(services, kit, start, email, slug="team"):
    return service.book(services, {**kit.visitor(email=email), "link": slug, "start": start.isoformat(),
                                   "timezone": "America/New_York"})


def alerts(services, slug=None):
    """The owner's alerts (of one link, when `slug` is given: one alert per team link)."""
    return [mail for mail in services.mailer.sent if "is disconnected" in mail["subject"] and mail["to"] == [OWNER]
            and (slug is None or mail["reference"] == ("Meeting Link", slug))]


@pytest.fixture
def team(services, google, kit):
    """Hana and Bo on Google, both checked; two links: round robin and group."""
    services.mailer = RecordingMailer()
    kit.add_host(services)
    kit.add_host(services, BO)
    services.store.update("User", BO, {"full_name": "Bo Brown"})
    hosts = [{"user": OWNER}, {"user": BO}]
    kit.add_link(services, "team", meeting_type="Round Robin", hosts=hosts)
    kit.add_link(services, "crew", meeting_type="Group", hosts=hosts)
    return {OWNER: connect(services, google, kit, OWNER), BO: connect(services, google, kit, BO)}


def test_round_robin_books_the_healthy_host_and_tells_the_owner_once(services, google, kit, team):
    monday = kit.next_monday()
    # Hana is busy at 10:00 and 11:00: at those times only Bo is free.
    google.add_event(OWNER, OWNER, at(monday, 10), at(monday, 10, 30))
    google.add_event(OWNER, OWNER, at(monday, 11), at(monday, 11, 30))
    assert at(monday, 10).astimezone(timezone.utc) in starts(service.get_slots(services, week(kit)))
    google.revoke(BO)

    for _ in range(3):  # page views
        assert service.get_link(services, "team")["mode"] == "book"
        slots = service.get_slots(services, week(kit))
        assert slots["mode"] == "book"
    offered = starts(slots)
    # Bo's times are not offered where only Bo was free; Hana's are.
    assert at(monday, 10).astimezone(timezone.utc) not in offered
    assert at(monday, 11).astimezone(timezone.utc) not in offered
    assert at(monday, 9).astimezone(timezone.utc) in offered
    with pytest.raises(SlotUnavailable):
        book(services, kit, at(monday, 10), "late@client.example")

    hosts = [services.store.get("Booking", book(services, kit, at(monday, hour), f"g{hour}@client.example")["booking"])["host"]
             for hour in (9, 12, 13, 14)]
    assert hosts == [OWNER] * 4  # Bo would have had every other one
    services.jobs.drain(20)

    sent = alerts(services, "team")
    assert len(sent) == 1, [m["subject"] for m in services.mailer.sent]
    assert "Bo Brown" in sent[0]["subject"] and "Bo Brown" in sent[0]["html"]
    assert BO in sent[0]["html"] and "invalid_grant" in sent[0]["html"]
    assert service.get_link(services, "team")["mode"] == "book"
    services.jobs.drain(20)
    assert len(alerts(services, "team")) == 1  # still once

    connect(services, google, kit, BO)  # Bo reconnects
    answer = book(services, kit, at(monday, 15), "back@client.example")
    assert services.store.get("Booking", answer["booking"])["host"] == BO  # Bo is behind: Bo first
    assert at(monday, 10).astimezone(timezone.utc) in starts(service.get_slots(services, week(kit)))

    google.revoke(BO)  # a new failure: a new alert
    assert service.get_link(services, "team")["mode"] == "book"
    services.jobs.drain(20)
    assert len(alerts(services, "team")) == 2


def test_round_robin_with_every_host_disconnected_takes_requests(services, google, kit, team):
    monday = kit.next_monday()
    google.revoke(BO)
    google.revoke(OWNER)
    assert service.get_slots(services, week(kit))["mode"] == "request"
    answer = book(services, kit, at(monday, 9), "vera@client.example")
    assert answer["status"] == "Requested"
    assert services.store.get("Booking", answer["booking"])["status"] == "Requested"


def test_a_group_with_a_disconnected_host_takes_requests(services, google, kit, team):
    monday = kit.next_monday()
    google.revoke(BO)
    assert service.get_link(services, "crew")["mode"] == "request"
    assert service.get_slots(services, week(kit, "crew"))["mode"] == "request"
    answer = book(services, kit, at(monday, 9), "vera@client.example", slug="crew")
    assert answer["status"] == "Requested"
    saved = services.store.get("Booking", answer["booking"])
    assert saved["status"] == "Requested" and saved["email"] == "vera@client.example"
    services.jobs.drain(20)
    assert len(alerts(services, "crew")) == 1  # the owner hears which host's calendar is the cause
    assert "Bo Brown" in alerts(services, "crew")[0]["html"]


def test_a_group_meeting_is_one_event_on_the_organisers_calendar_with_the_other_hosts_invited(services, google, kit, team):
    """Listed second in the hosts table, the link's owner still organises: one event, on
    the owner's default calendar, Bo and the visitor as attendees; nothing written to Bo's."""
    kit.add_link(services, "duo", meeting_type="Group", hosts=[{"user": BO}, {"user": OWNER}])
    monday = kit.next_monday()
    google.add_event(BO, BO, at(monday, 10), at(monday, 10, 30))  # Bo busy: no group slot then
    offered = starts(service.get_slots(services, week(kit, "duo")))
    assert at(monday, 10).astimezone(timezone.utc) not in offered
    assert at(monday, 9).astimezone(timezone.utc) in offered
    answer = book(services, kit, at(monday, 9), "vera@client.example", slug="duo")
    booking = services.store.get("Booking", answer["booking"])
    assert booking["host"] == OWNER and booking["other_hosts"].splitlines() == [BO]
    services.jobs.drain(20)
    services.jobs.drain(20)  # a second run of every job changes nothing
    (event,) = [e for e in google.events(OWNER, OWNER) if e.get("summary") != "Busy"]
    assert sorted(a["email"] for a in event["attendees"]) == sorted(["vera@client.example", BO])
    assert [e for e in google.events(BO, BO) if e.get("summary") != "Busy"] == []
    assert len(google.matching("POST", "/events")) == 1  # one insert, whatever ran twice
    # Both hosts are now busy at 09:00 for every link.
    assert at(monday, 9).astimezone(timezone.utc) not in starts(service.get_slots(services, week(kit, "team")))


def test_the_owner_is_told_when_the_failure_is_noticed_anywhere_else(services, google, kit, team):
    """Bo's own one-on-one page notices the revoked token: the team links' owner is
    alerted from that, with no view of the team links at all."""
    kit.add_link(services, "bo-solo", host=BO)
    services.store.update("User", OWNER, {"language": "fr"})  # the owner reads French
    google.revoke(BO)
    assert service.get_slots(services, week(kit, "bo-solo"))["mode"] == "request"
    services.jobs.drain(20)
    sent = [mail for mail in services.mailer.sent if mail["to"] == [OWNER]]
    # One per team link Bo hosts (round robin "team", group "crew"), each naming Bo, in French.
    assert len(sent) == 2 and all("le calendrier" in m["subject"] and "Bo Brown" in m["subject"] for m in sent)
    assert all("Ouvrir la connexion du calendrier" in m["html"] for m in sent)
    assert service.get_link(services, "team")["mode"] == "book"
    services.jobs.drain(20)
    assert len([m for m in services.mailer.sent if m["to"] == [OWNER]]) == 2  # the link's own views add nothing
