"""Team links through the standalone HTTP surface: the hosts table is checked on save
(resource API), and a round robin link that prefers the CRM owner gives them the meeting
(booking API)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

NY = ZoneInfo("America/New_York")


def team_body(hosts, **fields):
    body = {
        "slug": "team-30", "title": "Talk to sales", "durations": "30", "meeting_type": "Round Robin",
        "availability": [{"weekday": "Tuesday", "start_time": "09:00", "end_time": "12:00"}],
        "published": 1, "hosts": hosts,
    }
    body.update(fields)
    return body


@pytest.mark.parametrize("hosts, message", [
    ([{"user": "host@team.example", "weight": -1}], "weight must be 0 or more"),
    ([{"user": "host@team.example", "weight": 0}, {"user": "ann@team.example", "weight": 0}], "at least one host"),
    ([{"user": "host@team.example"}, {"user": "host@team.example", "weight": 3}], "listed twice"),
])
def test_a_bad_hosts_table_is_refused_naming_hosts(h, server, services, hosts, message):
    token = h.add_host()
    h.add_host("ann@team.example", name="Ann")
    answer = server.resource("POST", "Meeting Link", token, json=team_body(hosts))
    assert answer.status_code == 417, answer.text
    assert answer.json()["field"] == "hosts" and message in answer.text
    assert not services.store.list("Meeting Link", {"name": "team-30"})


def test_weight_0_is_accepted_beside_a_positive_weight(h, server):
    token = h.add_host()
    h.add_host("ann@team.example", name="Ann")
    hosts = [{"user": "host@team.example", "weight": 0}, {"user": "ann@team.example", "weight": 2, "priority": 1}]
    answer = server.resource("POST", "Meeting Link", token, json=team_body(hosts))
    assert answer.status_code == 200, answer.text
    assert [(r["weight"], r["priority"]) for r in answer.json()["data"]["hosts"]] == [(0, 0), (2, 1)]


def test_the_leads_owner_gets_the_meeting_booked_on_the_page(h, server, services):
    token = h.add_host()
    h.add_host("ann@team.example", name="Ann Owner")
    hosts = [{"user": "host@team.example"}, {"user": "ann@team.example"}]
    made = server.resource("POST", "Meeting Link", token, json=team_body(hosts, prefer_contact_owner=1))
    assert made.status_code == 200, made.text
    services.store.insert("CRM Lead", {"first_name": "Vera", "email": "vera@client.example", "lead_owner": "ann@team.example"})
    tuesday = h.next_monday().toordinal() + 1
    day = datetime.fromordinal(tuesday)

    def book(hour, minute, email):
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).isoformat()
        answer = server.method("book", post={"link": "team-30", "start": start, **h.visitor(email=email)})
        assert answer.status_code == 200, answer.text
        return answer.json()["message"]["host"]

    assert book(9, 0, "vera@client.example") == "Ann Owner"  # the owner, though Hana is first in turn
    assert book(9, 30, "other@client.example") == "Hana Host"  # not Ann's contact: the rule (Hana holds none)
    assert book(10, 0, "third@client.example") == "Ann Owner"  # 1 each: the least recently assigned
    assert book(10, 30, "vera@client.example") == "Ann Owner"  # the rule would pick Hana (1 against 2)
