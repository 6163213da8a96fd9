"""When a calendar cannot be read: request mode, nothing lost, one email, instant recovery.

Against a real Radicale (stopped, or a calendar deleted on it) and a fake provider that
fails on demand and counts its calls. Also: the free/busy cache of page views, and the
booking that always re-checks live."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.booking import jobs as booking_jobs
from meetings_addon.booking import service
from meetings_addon.calendars import caldav as caldav_adapter
from meetings_addon.calendars.caldav import unavailable
from meetings_addon.connections import health, manage, registry
from meetings_addon.errors import CalendarUnavailable, SlotUnavailable
from tests.calendars.caldav_servers import (  # noqa: F401 - fixtures
    add_link, add_user, next_monday, own_radicale, radicale, secret_key, site, visitor,
)

UTC = timezone.utc
HOST = "hana@team.example"
CONNECTION = "Calendar Connection"


def week(services, slug="hana-30"):
    monday = next_monday()
    return {"link": slug, "start": monday.isoformat(), "end": (monday + timedelta(days=4)).isoformat(),
            "timezone": "Europe/Paris"}


def book(services, start, slug="hana-30", **who):
    return service.book(services, {**visitor(**who), "link": slug, "start": start})


def disconnection_emails(services):
    return services.mailer.about("disconnected")


# --- a fake provider ----------------------------------------------------------------------------


class FakeProvider:
    """Three calendars; busy times set by the test; `down` makes every read fail (marking
    the connection as an adapter does for a lasting failure); `failing_writes` makes the
    next writes fail like a 503. Counts its calls; events are kept by UID."""

    instances: list["FakeProvider"] = []
    state: dict = {}

    def __init__(self, services, connection):
        self.services, self.connection = services, connection
        FakeProvider.instances.append(self)

    @classmethod
    def reset(cls, calendars=("cal-1", "cal-2", "cal-3")):
        cls.instances = []
        cls.state = {"busy": {c: [] for c in calendars}, "down": None, "failing_writes": 0,
                     "busy_calls": 0, "busy_calendars": 0, "creates": 0, "events": {}}

    def list_calendars(self):
        return [{"calendar_id": c, "calendar_name": c.title(), "access_role": "owner", "is_default": int(i == 0)}
                for i, c in enumerate(self.state["busy"])]

    def busy(self, calendar_ids, start, end):
        self.state["busy_calls"] += 1
        self.state["busy_calendars"] += len(calendar_ids)
        if self.state["down"]:
            health.mark_failing(self.services, self.connection, self.state["down"])
            raise CalendarUnavailable(self.state["down"])
        return {c: [(a, b) for a, b in self.state["busy"].get(c, []) if a < end and b > start] for c in calendar_ids}

    def create_event(self, calendar_id, event):
        if self.state["failing_writes"] > 0:
            self.state["failing_writes"] -= 1
            raise unavailable("Service Unavailable (HTTP 503)", transient=True, retry_after=0.05, status=503)
        self.state["creates"] += 1
        self.state["events"][event["uid"]] = dict(event, calendar=calendar_id)
        return {"id": event["uid"], "uid": event["uid"]}

    def update_event(self, calendar_id, event_id, event):
        self.state["events"][event_id] = dict(event, calendar=calendar_id)
        return {"id": event_id, "uid": event.get("uid")}

    def cancel_event(self, calendar_id, event_id):
        self.state["events"].pop(event_id, None)


@pytest.fixture
def fake(site, monkeypatch):
    """Hana with a "Google" connection served by FakeProvider: three calendars checked."""
    FakeProvider.reset()
    monkeypatch.setitem(registry.FACTORIES, "Google", FakeProvider)
    add_user(site, HOST)
    add_link(site, "hana-30", HOST)
    rows = [{"calendar_id": c, "calendar_name": c.title(), "check_availability": 1, "is_default": int(i == 0),
             "access_role": "owner", "status": "OK"} for i, c in enumerate(FakeProvider.state["busy"])]
    doc = site.store.insert(CONNECTION, {"user": HOST, "owner": HOST, "provider": "Google", "account": HOST,
                                         "status": "Connected", "calendars": rows})
    return doc["name"]


# --- a dead calendar: request mode, one email, recovery -----------------------------------------------


def test_a_stopped_caldav_server_means_request_mode_one_email_and_recovery_on_reconnect(site, own_radicale):
    add_user(site, HOST)
    add_link(site, "hana-30", HOST)
    work = own_radicale.make_calendar("Work")
    manage.add_caldav(site, HOST, {"caldav_url": own_radicale.url, "caldav_username": "alice",
                                   "caldav_password": own_radicale.users["alice"]})
    slots = service.get_slots(site, week(site))
    assert slots["mode"] == "book" and len(slots["slots"]) > 6

    own_radicale.stop()
    assert service.get_link(site, "hana-30")["mode"] == "request"
    # A view computed before may be served for its minute; any new one knows, and the
    # booking itself always reads the calendars.
    assert service.get_slots(site, {**week(site), "timezone": "America/New_York"})["mode"] == "request"
    made = [book(site, slots["slots"][i]["start"], email=f"v{i}@client.example") for i in range(3)]
    site.jobs.drain(20)
    assert [m["status"] for m in made] == ["Requested"] * 3  # saved: nothing a visitor sent is lost
    assert {b["status"] for b in site.store.list("Booking", {"meeting_link": "hana-30"}, fields=("status",))} == {"Requested"}
    mails = disconnection_emails(site)
    assert len(mails) == 1 and mails[0]["to"] == [HOST]  # told of the failure once
    assert "CalDAV" in mails[0]["html"] and "Vera" in mails[0]["html"]
    # One email to the owner per request: the first says which calendar is disconnected,
    # the later ones are the usual "new request" notice; never both for one request.
    to_owner = [mail for mail in site.mailer.sent if mail["to"] == [HOST]]
    assert len(to_owner) == 3 and len(site.mailer.about("new request")) == 2
    connection = manage.list_connections(site, HOST)[0]
    assert connection["status"] == "Error" and connection["failing"]
    links = manage.list_links(site, HOST)
    assert links[0]["mode"] == "request" and links[0]["alert"] and links[0]["failing_calendars"][0]["provider"] == "CalDAV"

    own_radicale.start()  # back on the same port, and the user reconnects
    manage.add_caldav(site, HOST, {"caldav_url": own_radicale.url, "caldav_username": "alice",
                                   "caldav_password": own_radicale.users["alice"]})
    assert service.get_link(site, "hana-30")["mode"] == "book"  # at once
    assert service.get_slots(site, week(site))["mode"] == "book"
    assert manage.list_links(site, HOST)[0]["alert"] is None
    confirmed = book(site, slots["slots"][5]["start"], email="late@client.example")
    site.jobs.drain(20)
    assert confirmed["status"] == "Confirmed"
    assert any("late" in text or "Intro call" in text for text in own_radicale.events(work))
    assert len(disconnection_emails(site)) == 1

    own_radicale.stop()  # a new failure is a new episode: told again
    book(site, slots["slots"][6]["start"], email="again@client.example")
    site.jobs.drain(20)
    assert len(disconnection_emails(site)) == 2


def test_a_revoked_account_marks_the_connection_and_repairing_it_restores_booking(site, fake):
    FakeProvider.state["down"] = "Google refused the saved sign-in (invalid_grant): connect the account again"
    view = service.get_slots(site, week(site))
    assert view["mode"] == "request"
    for i in range(3):
        assert book(site, view["slots"][i]["start"], email=f"r{i}@client.example")["status"] == "Requested"
    site.jobs.drain(20)
    mails = disconnection_emails(site)
    assert len(mails) == 1 and "invalid_grant" in mails[0]["html"]
    assert site.store.get(CONNECTION, fake)["failure_notified_on"] is not None

    FakeProvider.state["down"] = None
    health.mark_ok(site, {"name": fake})  # what the OAuth callback does on reconnect
    assert service.get_link(site, "hana-30")["mode"] == "book"
    assert site.store.get(CONNECTION, fake)["failure_notified_on"] is None
    assert book(site, view["slots"][4]["start"], email="ok@client.example")["status"] == "Confirmed"


def test_a_calendar_deleted_at_the_provider_is_marked_failing_and_removing_it_restores_booking(site, radicale):
    add_user(site, HOST)
    add_link(site, "hana-30", HOST)
    work, gone = radicale.make_calendar("Work"), radicale.make_calendar("Team")
    name = manage.add_caldav(site, HOST, {"caldav_url": radicale.url, "caldav_username": "alice",
                                          "caldav_password": radicale.users["alice"]})["name"]
    manage.set_calendars(site, HOST, {"connection": name, "calendars": [work, gone], "default_calendar": work})
    assert service.get_slots(site, week(site))["mode"] == "book"

    radicale.delete_calendar(gone)
    site.cache.incr("meetings:availability-epoch")  # the next view reads the calendars again (no 60 s wait)
    view = service.get_slots(site, week(site))
    assert view["mode"] == "request"
    doc = site.store.get(CONNECTION, name)
    rows = {row["calendar_id"]: row for row in doc["calendars"]}
    assert rows[gone]["status"] == "Failing" and "404" in rows[gone]["error"]
    assert rows[work]["status"] == "OK" and doc["status"] == "Connected"
    assert book(site, view["slots"][0]["start"])["status"] == "Requested"
    site.jobs.drain(20)
    assert "Team" in disconnection_emails(site)[0]["subject"]
    assert manage.list_links(site, HOST)[0]["failing_calendars"][0]["calendar_id"] == gone

    manage.remove_calendar(site, HOST, {"connection": name, "calendar_id": gone})
    assert service.get_slots(site, week(site))["mode"] == "book"  # at once
    assert site.store.get(CONNECTION, name)["failure_notified_on"] is None
    assert book(site, view["slots"][1]["start"], email="b@client.example")["status"] == "Confirmed"


# --- provider down while a visitor books -------------------------------------------------------------


def test_writes_failing_with_503_keep_the_booking_and_write_the_event_once(site, fake):
    FakeProvider.state["failing_writes"] = 3
    start = service.get_slots(site, week(site))["slots"][0]["start"]
    made = book(site, start)
    assert made["status"] == "Confirmed"  # saved before any calendar write
    site.jobs.drain(30)
    assert FakeProvider.state["creates"] == 1 and len(FakeProvider.state["events"]) == 1
    booking = site.store.get("Booking", made["booking"])
    assert booking["provider_event_id"] == booking["ical_uid"] and not site.jobs.failures
    booking_jobs.sync_calendar_event(site, made["booking"])  # run again (a duplicate job): no second event
    assert FakeProvider.state["creates"] == 1 and len(FakeProvider.state["events"]) == 1


def test_radicale_failing_writes_then_recovering_stores_one_event(site, radicale, monkeypatch):
    add_user(site, HOST)
    add_link(site, "hana-30", HOST)
    work = radicale.make_calendar("Bookings")
    manage.add_caldav(site, HOST, {"caldav_url": radicale.url, "caldav_username": "alice",
                                   "caldav_password": radicale.users["alice"]})
    name = manage.list_connections(site, HOST)[0]["name"]
    manage.set_calendars(site, HOST, {"connection": name, "calendars": [work], "default_calendar": work})
    real_put, failures = caldav_adapter.CalDAVCalendar._put, []

    def flaky_put(self, href, body, calendar_id):
        if len(failures) < 2:
            failures.append(href)
            raise unavailable("Writing the event: the server answered HTTP 503", transient=True, status=503)
        return real_put(self, href, body, calendar_id)

    monkeypatch.setattr(caldav_adapter.CalDAVCalendar, "_put", flaky_put)
    made = book(site, service.get_slots(site, week(site))["slots"][0]["start"])
    site.jobs.drain(30)
    assert made["status"] == "Confirmed" and len(failures) == 2
    assert len(radicale.events(work)) == 1
    assert site.store.get(CONNECTION, name)["status"] == "Connected"  # passing trouble marks nothing


# --- the free/busy cache and the live re-check ------------------------------------------------------------


def test_page_views_share_one_read_per_calendar_and_booking_reads_live(site, fake):
    FakeProvider.state["busy_calls"] = 0
    assert service.get_link(site, "hana-30")["mode"] == "book"
    first = service.get_slots(site, week(site))
    assert (FakeProvider.state["busy_calls"], FakeProvider.state["busy_calendars"]) == (1, 3)  # one call, 3 calendars
    service.get_slots(site, {**week(site), "timezone": "America/New_York"})  # another visitor's view
    service.get_link(site, "hana-30")
    assert FakeProvider.state["busy_calls"] == 1  # warm: none

    # The calendar gains an event the cached views do not know yet; the booking reads live.
    taken = datetime.fromisoformat(first["slots"][0]["start"]).astimezone(UTC)
    FakeProvider.state["busy"]["cal-2"].append((taken, taken + timedelta(minutes=30)))
    with pytest.raises(SlotUnavailable):
        book(site, first["slots"][0]["start"])
    assert FakeProvider.state["busy_calls"] == 2
    assert book(site, first["slots"][1]["start"])["status"] == "Confirmed"
    # The booking dropped the cache: the next view reads again, and shows the busy time.
    after = service.get_slots(site, week(site))
    assert first["slots"][0] not in after["slots"] and first["slots"][1] not in after["slots"]
    assert FakeProvider.state["busy_calls"] == 4


def test_a_failing_provider_is_not_asked_on_every_view(site, fake):
    FakeProvider.state["down"] = "Google: 401 after refresh"
    for _ in range(5):
        assert service.get_slots(site, week(site))["mode"] == "request"
    assert FakeProvider.state["busy_calls"] <= 2  # the failure is remembered for the cache's minute


def test_a_connection_answering_again_is_repaired_by_the_next_read(site, fake):
    health.mark_failing(site, {"name": fake}, "Google: 503 for a while")
    assert service.get_link(site, "hana-30")["mode"] == "book"  # it answered: working again
    assert site.store.get(CONNECTION, fake)["status"] == "Connected"


def test_month_views_past_the_booking_window_ask_no_calendar(site, fake):
    far = next_monday() + timedelta(weeks=10)
    view = service.get_slots(site, {"link": "hana-30", "start": far.isoformat(),
                                    "end": (far + timedelta(days=30)).isoformat(), "timezone": "Europe/Paris"})
    assert view["slots"] == [] and FakeProvider.state["busy_calls"] == 0


def test_a_server_without_its_secret_key_still_takes_requests(site, radicale, monkeypatch):
    """The key gone from the environment: the password cannot be read, so the page takes
    requests (nothing lost) instead of failing, and the owner is told why."""
    add_user(site, HOST)
    add_link(site, "hana-30", HOST)
    radicale.make_calendar("Work")
    manage.add_caldav(site, HOST, {"caldav_url": radicale.url, "caldav_username": "alice",
                                   "caldav_password": radicale.users["alice"]})
    start = service.get_slots(site, week(site))["slots"][0]["start"]
    monkeypatch.delenv("MEETINGS_SECRET_KEY")
    site.cache.incr("meetings:availability-epoch")
    assert service.get_link(site, "hana-30")["mode"] == "request"
    assert book(site, start)["status"] == "Requested"
    site.jobs.drain(20)
    assert "MEETINGS_SECRET_KEY" in disconnection_emails(site)[0]["html"]
