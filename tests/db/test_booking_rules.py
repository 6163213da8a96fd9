"""book / cancel / reschedule rules through the real store, on SQLite (fast).

Every refused request names the field at fault and leaves nothing behind; round robin
picks the right host; contacts and timeline Events are made only for outsiders; the
token in manage_url follows the meeting when it moves.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest

from meetings_addon.booking import service
from meetings_addon.errors import InvalidBooking, NotFound, SlotUnavailable

from .support import NOW, TUESDAY, WEDNESDAY, add_link, add_user, booking_payload, count, local

SLOT = local(TUESDAY, 10)
HOST = "host@example.com"


@pytest.fixture
def services(sqlite_services):
    add_user(sqlite_services.store, HOST, "Grace Hopper")
    return sqlite_services


@pytest.fixture
def store(services):
    return services.store


def totals(store) -> dict[str, int]:
    return {doctype: count(store, doctype) for doctype in ("Booking", "Contact", "Event", "Event Participants")}


def token_of(answer: dict) -> str:
    url = urlparse(answer["manage_url"])
    assert url.path.startswith("/meetings/manage/")
    return url.path.rsplit("/", 1)[1]


def book(services, **changes):
    answer = service.book(services, booking_payload(changes.pop("link", "intro"), changes.pop("start", SLOT), changes.pop("email", "guest@example.com"), **changes))
    services.jobs.drain()  # the host's Local calendar gets the event: later checks see it
    return answer


# --- Refusals: the field is named, nothing is stored ------------------------------------

QUESTIONS = (
    {"label": "Company", "fieldname": "company", "fieldtype": "Data", "required": 1},
    {"label": "Team size", "fieldname": "team_size", "fieldtype": "Int", "required": 0},
)


@pytest.mark.parametrize(
    "field, changes",
    [
        ("email", {"email": "not-an-address"}),
        ("email", {"email": "ada@@example.com"}),
        ("email", {"email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + ".com"}),  # valid, longer than its column
        ("first_name", {"first_name": ""}),
        ("first_name", {"first_name": "   "}),
        ("company", {"answers": {"team_size": 4}}),  # required question left out
        ("company", {"answers": {"company": "  "}}),
        ("budget", {"answers": {"company": "Acme", "budget": "1M"}}),  # not a question of this link
        ("team_size", {"answers": {"company": "Acme", "team_size": "many"}}),
        ("start", {"start": local(TUESDAY, 10, 7).isoformat()}),  # off the 30-minute grid
        ("start", {"start": local(TUESDAY, 19).isoformat()}),  # outside the weekly hours
        ("start", {"start": (NOW - timedelta(hours=1)).isoformat()}),  # in the past
        ("start", {"start": NOW.isoformat()}),  # now is not in the future
        ("start", {"start": local(TUESDAY + timedelta(weeks=5), 10).isoformat()}),  # beyond the 4 rolling weeks
        ("start", {"start": "2030-01-08T10:00:00"}),  # no UTC offset
        ("start", {"start": "tuesday at ten"}),
        ("duration", {"duration": 45}),
        ("duration", {"duration": "thirty"}),
        ("consent", {"link": "gdpr", "consent": False}),
        ("consent", {"link": "gdpr", "consent": "yes please"}),
        ("first_name", {"first_name": "A" * 10_000}),
        ("last_name", {"last_name": "L" * 10_000}),
        ("last_name", {"last_name": "<b>Lovelace</b>"}),
        ("first_name", {"first_name": "Ada\x00"}),
        ("timezone", {"timezone": "Mars/Olympus_Mons"}),
        ("timezone", {"timezone": ""}),
    ],
)
def test_bad_requests_name_the_field_and_store_nothing(services, store, field, changes):
    add_link(store, "intro", HOST, questions=QUESTIONS, durations="30,60")
    add_link(store, "gdpr", HOST, consent_enabled=1, consent_text="I agree")
    before = totals(store)
    changes.setdefault("answers", {"company": "Acme"})
    with pytest.raises(InvalidBooking) as error:
        book(services, **changes)
    assert error.value.field == field, error.value.message
    assert error.value.http_status == 417 and error.value.message.startswith(f"{field}: ")
    assert totals(store) == before


@pytest.mark.parametrize("slug", ["nope", "", None, "x" * 500, "draft"])
def test_unknown_or_unpublished_link_is_not_found(services, store, slug):
    add_link(store, "draft", HOST, published=0)
    before = totals(store)
    with pytest.raises(NotFound) as error:
        book(services, link=slug)
    assert error.value.http_status == 404
    assert totals(store) == before


def test_a_good_request_with_answers_and_consent_is_stored(services, store):
    add_link(store, "intro", HOST, questions=QUESTIONS, consent_enabled=1, consent_text="I agree")
    answer = book(services, answers={"company": " Acme ", "team_size": "12"}, consent=True, email="Ada@Example.COM")
    assert answer["status"] == "Confirmed"
    assert answer["start"] == "2030-01-08T10:00:00+01:00" and answer["end"] == "2030-01-08T10:30:00+01:00"
    assert answer["host"] == "Grace Hopper"
    booking = store.get("Booking", answer["booking"])
    assert booking["answers"] == {"company": "Acme", "team_size": 12}
    assert booking["email"] == "ada@example.com"
    assert booking["consent_given"] == 1 and booking["consent_text"] == "I agree" and booking["consent_time"] == NOW
    assert booking["start"] == SLOT and booking["duration"] == 30
    with pytest.raises(SlotUnavailable):
        book(services, answers={"company": "Other"}, consent=True, email="other@example.com")


# --- Round robin and group --------------------------------------------------------------


def team(store, kind="Round Robin", size=3, slug="team"):
    hosts = [add_user(store, f"rep{i}@example.com", f"Rep {i}") for i in range(size)]
    add_link(store, slug, hosts[0], meeting_type=kind, hosts=tuple(hosts))
    return hosts


def past_booking(store, link, host, start, status="Confirmed"):
    store.insert("Booking", {"meeting_link": link, "host": host, "status": status, "start": start,
                             "end": start + timedelta(minutes=30), "duration": 30, "email": "x@example.com"})


def host_of(store, answer) -> str:
    return store.get("Booking", answer["booking"])["host"]


def test_round_robin_picks_the_free_host_with_fewest_bookings_in_the_lookback(services, store):
    reps = team(store)
    # rep0: 2 counted; rep1: 1; rep2: 1 + 3 more than 90 days ago (outside the lookback: not counted)
    past_booking(store, "team", reps[0], local(WEDNESDAY, 9))
    past_booking(store, "team", reps[0], local(WEDNESDAY, 10))
    for day in (14, 15, 16):
        past_booking(store, "team", reps[2], local(TUESDAY - timedelta(weeks=day), 10))
    past_booking(store, "team", reps[2], local(WEDNESDAY, 11))  # rep2's last booking is older than rep1's
    past_booking(store, "team", reps[1], local(WEDNESDAY, 12))
    past_booking(store, "team", reps[1], local(WEDNESDAY, 13), status="Cancelled")  # cancelled: not counted
    past_booking(store, "other", reps[1], local(WEDNESDAY, 14))  # another link: not counted

    assert host_of(store, book(services, link="team", start=SLOT)) == reps[2]  # tie 1-1: longest since last
    # now rep1 has the fewest (1)
    assert host_of(store, book(services, link="team", start=SLOT + timedelta(hours=1), email="b@example.com")) == reps[1]
    # rep0 has 2, rep1 2, rep2 2: rep0's last booking is the oldest
    assert host_of(store, book(services, link="team", start=SLOT + timedelta(hours=2), email="c@example.com")) == reps[0]


def test_round_robin_skips_a_busy_host(services, store):
    reps = team(store)
    past_booking(store, "team", reps[1], local(WEDNESDAY, 9))
    past_booking(store, "team", reps[2], local(WEDNESDAY, 10))
    # rep0 has the fewest bookings but is busy in its own calendar at the slot
    store.insert("Local Calendar Event", {"user": reps[0], "summary": "Dentist", "start": SLOT, "end": SLOT + timedelta(hours=1)})
    assert host_of(store, book(services, link="team")) == reps[1]
    assert host_of(store, book(services, link="team", email="b@example.com")) == reps[2]
    with pytest.raises(SlotUnavailable):
        book(services, link="team", email="c@example.com")


def test_group_needs_every_host_and_stores_the_others(services, store):
    reps = team(store, kind="Group")
    answer = book(services, link="team")
    booking = store.get("Booking", answer["booking"])
    assert booking["host"] == reps[0]
    assert booking["other_hosts"].splitlines() == reps[1:]
    # Every host is now busy at 10:00, for other links too.
    add_link(store, "rep2-solo", reps[2])
    with pytest.raises(SlotUnavailable):
        book(services, link="rep2-solo", email="solo@example.com")
    # One busy host is enough to refuse a group slot.
    later = SLOT + timedelta(hours=2)
    store.insert("Local Calendar Event", {"user": reps[1], "summary": "Busy", "start": later, "end": later + timedelta(minutes=30)})
    with pytest.raises(SlotUnavailable):
        book(services, link="team", start=later, email="late@example.com")
    assert count(store, "Booking") == 1


# --- Contacts and the timeline ------------------------------------------------------------


def test_internal_domain_booker_gets_no_contact(services, store):
    store.update("Meetings Settings", "Meetings Settings", {"internal_domains": "acme.com\n@Example.org"})
    add_link(store, "intro", HOST)
    for i, email in enumerate(["colleague@acme.com", "Boss@EXAMPLE.org"]):
        answer = book(services, email=email, start=SLOT + i * timedelta(hours=1))
        booking = store.get("Booking", answer["booking"])
        assert booking["contact"] is None
        event = store.get("Event", booking["event"])
        assert event["event_participants"] == []
    assert count(store, "Contact") == 0


def test_a_user_booking_gets_no_contact(services, store):
    add_user(store, "teammate@example.com")
    add_link(store, "intro", HOST)
    answer = book(services, email="teammate@example.com")
    assert store.get("Booking", answer["booking"])["contact"] is None
    assert count(store, "Contact") == 0


def test_an_outsider_gets_one_contact_and_an_event_on_its_timeline(services, store):
    add_link(store, "intro", HOST, title="Intro")
    first = store.get("Booking", book(services, email="Ann@Example.com", first_name="Ann", last_name="Lee")["booking"])
    second = store.get("Booking", book(services, email="ann@example.com", start=SLOT + timedelta(days=1))["booking"])
    assert first["contact"] and second["contact"] == first["contact"]
    assert count(store, "Contact") == 1
    contact = store.get("Contact", first["contact"])
    assert (contact["first_name"], contact["last_name"], contact["email_id"]) == ("Ann", "Lee", "ann@example.com")
    assert [row["email_id"] for row in contact["email_ids"]] == ["ann@example.com"]
    for booking in (first, second):
        event = store.get("Event", booking["event"])
        assert event["event_category"] == "Meeting"
        assert (event["starts_on"], event["ends_on"]) == (booking["start"], booking["end"])
        assert [(row["reference_doctype"], row["reference_docname"]) for row in event["event_participants"]] == [
            ("Contact", first["contact"])
        ]
    assert count(store, "Event") == 2


# --- Managing with the token --------------------------------------------------------------


def test_reschedule_moves_the_meeting_and_the_token_follows_it(services, store):
    add_link(store, "intro", HOST)
    answer = book(services)
    token = token_of(answer)
    old = store.get("Booking", answer["booking"])
    assert service.manage_view(services, token)["booking"] == old["name"]

    new_start = local(WEDNESDAY, 15)
    moved = service.reschedule(services, {"token": token, "start": new_start.isoformat(), "timezone": "America/New_York"})
    services.jobs.drain()
    assert token_of(moved) == token
    assert moved["start"] == "2030-01-09T09:00:00-05:00"  # in the visitor's new zone
    new = store.get("Booking", moved["booking"])
    old_after = store.get("Booking", old["name"])
    assert new["name"] != old["name"]
    assert old_after["status"] == "Rescheduled" and old_after["manage_token"] is None
    assert new["status"] == "Confirmed" and new["rescheduled_from"] == old["name"]
    assert new["manage_token"] == old["manage_token"]
    assert new["ical_uid"] == old["ical_uid"]
    assert new["sequence"] == old["sequence"] + 1
    assert (new["start"], new["end"]) == (new_start, new_start + timedelta(minutes=30))
    assert new["event"] == old["event"] and count(store, "Event") == 1
    event = store.get("Event", new["event"])
    assert (event["starts_on"], event["ends_on"]) == (new["start"], new["end"])
    assert new["contact"] == old["contact"]
    # The same token now manages the new booking; the old one answers to no token.
    view = service.manage_view(services, token)
    assert view["booking"] == new["name"] and view["status"] == "Confirmed"
    # The old time is free again, the new one is taken.
    book(services, email="next@example.com")
    with pytest.raises(SlotUnavailable):
        book(services, email="late@example.com", start=new_start)
    # The Local calendar holds one event, at the new time.
    events = store.list("Local Calendar Event", {"uid": new["ical_uid"]}, fields=("start", "status"))
    assert events == [{"start": new_start, "status": "Confirmed"}]


def test_reschedule_onto_an_overlapping_time(services, store):
    """Moving 10:00 to 10:15: the meeting's own time (and its own calendar event) must not
    block the move."""
    add_link(store, "intro", HOST, start_increment=15)
    token = token_of(book(services))
    moved = service.reschedule(services, {"token": token, "start": (SLOT + timedelta(minutes=15)).isoformat(), "timezone": "Europe/Paris"})
    assert moved["start"] == "2030-01-08T10:15:00+01:00"


def test_reschedule_refuses_bad_times_and_keeps_the_meeting(services, store):
    add_link(store, "intro", HOST)
    token = token_of(book(services))
    book(services, email="other@example.com", start=SLOT + timedelta(hours=1))
    before = totals(store)
    with pytest.raises(SlotUnavailable):
        service.reschedule(services, {"token": token, "start": (SLOT + timedelta(hours=1)).isoformat(), "timezone": "Europe/Paris"})
    with pytest.raises(InvalidBooking) as error:
        service.reschedule(services, {"token": token, "start": local(TUESDAY, 10, 5).isoformat(), "timezone": "Europe/Paris"})
    assert error.value.field == "start"
    with pytest.raises(InvalidBooking) as error:
        service.reschedule(services, {"token": token, "start": local(WEDNESDAY, 10).isoformat(), "timezone": "Nowhere/City"})
    assert error.value.field == "timezone"
    assert totals(store) == before
    assert service.manage_view(services, token)["start"] == SLOT.isoformat()


def test_cancel_with_the_token_then_again(services, store):
    add_link(store, "intro", HOST)
    answer = book(services)
    token = token_of(answer)
    assert service.cancel(services, {"token": token, "reason": "Something came up"}) == {
        "booking": answer["booking"], "status": "Cancelled"
    }
    services.jobs.drain()
    booking = store.get("Booking", answer["booking"])
    assert booking["status"] == "Cancelled" and booking["cancel_reason"] == "Something came up"
    assert booking["sequence"] == 1
    assert store.get("Event", booking["event"])["status"] == "Cancelled"
    with pytest.raises(InvalidBooking) as error:
        service.cancel(services, {"token": token})
    assert error.value.field == "token"
    with pytest.raises(InvalidBooking) as error:
        service.reschedule(services, {"token": token, "start": local(WEDNESDAY, 10).isoformat(), "timezone": "Europe/Paris"})
    assert error.value.field == "token"
    book(services, email="next@example.com")  # the cancelled time is free again


def test_cancel_after_reschedule_cancels_the_new_booking(services, store):
    add_link(store, "intro", HOST)
    answer = book(services)
    token = token_of(answer)
    moved = service.reschedule(services, {"token": token, "start": local(WEDNESDAY, 10).isoformat(), "timezone": "Europe/Paris"})
    assert service.cancel(services, {"token": token})["booking"] == moved["booking"]
    assert store.get("Booking", answer["booking"])["status"] == "Rescheduled"
    assert store.get("Booking", moved["booking"])["status"] == "Cancelled"
    with pytest.raises(InvalidBooking) as error:
        service.reschedule(services, {"token": token, "start": local(WEDNESDAY, 11).isoformat(), "timezone": "Europe/Paris"})
    assert error.value.field == "token"


@pytest.mark.parametrize("token", [None, "", "short", "x" * 43, "x" * 500, 12345])
def test_unknown_tokens_are_not_found(services, store, token):
    add_link(store, "intro", HOST)
    book(services)
    with pytest.raises(NotFound):
        service.cancel(services, {"token": token})
    with pytest.raises(NotFound):
        service.reschedule(services, {"token": token, "start": local(WEDNESDAY, 10).isoformat(), "timezone": "Europe/Paris"})
