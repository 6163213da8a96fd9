"""Google and Office 365 connections on a real bench, with the emulators of tests/emulators
standing in for Google (OAuth + Calendar v3) and Microsoft (identity platform + Graph).

The module starts both emulators (HTTPS, a CA made here: MEETINGS_CA_BUNDLE) and its own
gunicorn for the site, with that variable in its environment. The site is configured as
an administrator would: Google's client id and secret in Frappe's Google Settings, the
Microsoft app and both providers' endpoints in Meetings Settings (all restored after).

A desk user (Desk User only, signed in with a password as in a browser):
1. starts Connect Google through the whitelisted API, approves on the emulator's consent
   page and comes back through the callback route over real HTTP: the connection is saved
   for that user with its calendars (primary the default, checked), the tokens only in
   Frappe's Password storage (encrypted in __Auth, asterisks in the column, never in an
   answer);
2. the same with Office 365 (msal against the HTTPS emulator);
3. busy times at both providers block slots in get_slots; a booking writes exactly one
   event on the Google default calendar, with the guest invited, when its job runs;
4. the token revoked at Google: the connection goes Error, get_link says "request", a
   booking is saved Requested; reconnecting brings "book" back;
5. another user sees and changes none of it through the API.
And, without a browser: every method the Calendar Connection scripts call is whitelisted.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest

frappe = pytest.importorskip("frappe")
requests = pytest.importorskip("requests")

from tests.frappe.conftest import cleanup, link_values, next_day, unique, visitor_email, web_server  # noqa: E402

CONNECTION = "Calendar Connection"
API = "meetings_addon.api.connections."
PARIS = ZoneInfo("Europe/Paris")
DUMMY = "*" * 10
APP = Path(__file__).resolve().parents[2] / "meetings_addon"
GOOGLE_EVENTS = r"^/calendar/v3/calendars/[^/]+/events$"
GRAPH_EVENTS = r"/events$"
GOOGLE_SETTINGS_FIELDS = ("enable", "client_id")
MEETINGS_FIELDS = ("google_oauth_url", "google_api_url", "microsoft_client_id", "microsoft_authority", "graph_url")


@dataclass
class World:
    http: Any
    google: Any
    microsoft: Any
    ca: str
    slug: str
    ann: str
    bob: str
    passwords: dict[str, str]
    connections: dict[str, str] = field(default_factory=dict)  # provider -> name
    emails: list[str] = field(default_factory=list)

    def login(self, user: str) -> requests.Session:
        """A browser signed in as `user` (Frappe's session cookie)."""
        session = requests.Session()
        session.headers.update(self.http.session.headers)  # the site's Host header, JSON
        answer = session.post(f"{self.http.base}/api/method/login",
                              data={"usr": user, "pwd": self.passwords[user]}, timeout=60)
        assert answer.status_code == 200, answer.text
        return session

    def url(self, path: str) -> str:
        return f"{self.http.base}{path}"


def _desk_user(email: str, first_name: str, password: str) -> str:
    frappe.get_doc({"doctype": "User", "email": email, "first_name": first_name, "last_name": "Host",
                    "send_welcome_email": 0, "time_zone": "Europe/Paris", "new_password": password,
                    "roles": [{"role": "Desk User"}]}).insert(ignore_permissions=True)
    return email


def _configure(google, microsoft) -> dict[str, Any]:
    """Google Settings and Meetings Settings pointed at the emulators; what they held before."""
    from frappe.utils.password import get_decrypted_password

    saved: dict[str, Any] = {}
    settings = frappe.get_single("Google Settings")
    saved["google"] = {f: settings.get(f) for f in GOOGLE_SETTINGS_FIELDS}
    saved["google"]["client_secret"] = get_decrypted_password("Google Settings", "Google Settings", "client_secret",
                                                              raise_exception=False)
    settings.update({"enable": 1, "client_id": google.client_id, "client_secret": google.client_secret})
    settings.save(ignore_permissions=True)

    meetings = frappe.get_single("Meetings Settings")
    saved["meetings"] = {f: meetings.get(f) for f in MEETINGS_FIELDS}
    saved["meetings"]["microsoft_client_secret"] = get_decrypted_password(
        "Meetings Settings", "Meetings Settings", "microsoft_client_secret", raise_exception=False)
    meetings.update({"google_oauth_url": google.url, "google_api_url": google.url,
                     "microsoft_client_id": microsoft.client_id, "microsoft_client_secret": microsoft.client_secret,
                     "microsoft_authority": microsoft.authority, "graph_url": microsoft.graph_url})
    meetings.save(ignore_permissions=True)
    return saved


def _restore(saved: dict[str, Any]) -> None:
    frappe.db.rollback()
    settings = frappe.get_single("Google Settings")
    settings.update({**saved["google"], "client_secret": saved["google"]["client_secret"] or ""})
    settings.save(ignore_permissions=True)
    meetings = frappe.get_single("Meetings Settings")
    meetings.update({**saved["meetings"], "microsoft_client_secret": saved["meetings"]["microsoft_client_secret"] or ""})
    meetings.save(ignore_permissions=True)
    frappe.db.commit()


@pytest.fixture(scope="module")
def world(site, tmp_path_factory) -> Iterator[World]:
    for module in ("msal", "googleapiclient", "google_auth_oauthlib", "cryptography"):
        pytest.importorskip(module)
    from tests.emulators.base import make_test_ca
    from tests.emulators.google import GoogleEmulator
    from tests.emulators.microsoft import MicrosoftEmulator

    ca, cert, key = make_test_ca(tmp_path_factory.mktemp("provider-ca"))
    google = GoogleEmulator(cert, key).start()
    microsoft = MicrosoftEmulator(cert, key).start()
    patch = pytest.MonkeyPatch()
    # The settings are the site's; variables that would override them are not.
    for name in [n for n in os.environ if n.startswith(("MEETINGS_GOOGLE_", "MEETINGS_MS_", "MEETINGS_GRAPH_"))]:
        patch.delenv(name)
    patch.setenv("MEETINGS_CA_BUNDLE", str(ca))  # this process runs the calendar jobs
    saved = None
    slug = unique("po")
    tag = secrets.token_hex(3)
    passwords = {f"ann.{tag}@meetings-host.example.com": secrets.token_urlsafe(18) + "aA1!",
                 f"bob.{tag}@meetings-host.example.com": secrets.token_urlsafe(18) + "bB2!"}
    ann, bob = passwords
    emails: list[str] = []
    try:
        frappe.db.rollback()
        saved = _configure(google, microsoft)
        _desk_user(ann, "Ann", passwords[ann])
        _desk_user(bob, "Bob", passwords[bob])
        frappe.get_doc(link_values(slug, ann)).insert(ignore_permissions=True)
        frappe.db.commit()
        with web_server(site, {"MEETINGS_CA_BUNDLE": str(ca)}, own=True) as http:
            yield World(http, google, microsoft, str(ca), slug, ann, bob, passwords, emails=emails)
    finally:
        if saved is not None:
            _restore(saved)
        cleanup([slug], [ann, bob], emails)
        google.stop()
        microsoft.stop()
        patch.undo()


# --- helpers -----------------------------------------------------------------------------------------


def connect(world: World, session: requests.Session, provider: str) -> tuple[dict, requests.Response]:
    """Connect Google / Office 365 as the desk does: *_start answers the consent page; the
    browser goes there (the emulator approves at once) and back to the callback route."""
    started = session.get(world.url(f"/api/method/{API}{provider}_start"), timeout=60)
    assert started.status_code == 200, started.text
    url = started.json()["message"]["url"]
    consent = requests.get(url, allow_redirects=False, verify=world.ca, timeout=20)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    assert back.path == f"/api/method/{API}{provider}_callback"
    answer = session.get(world.url(f"{back.path}?{back.query}"), allow_redirects=False, timeout=60)
    return dict(parse_qsl(urlsplit(url).query)), answer


def saved_connection(world: World, answer: requests.Response, provider: str):
    assert answer.status_code in (301, 302, 303), answer.text[:2000]
    location = answer.headers["Location"]
    assert re.search(r"/app/calendar-connection/[^/]+$", location), location
    name = location.rsplit("/", 1)[1]
    frappe.db.rollback()  # what the server committed
    doc = frappe.get_doc(CONNECTION, name)
    assert (doc.user, doc.owner, doc.provider, doc.status) == (world.ann, world.ann, provider, "Connected")
    world.connections[provider] = name
    return doc


def stored_secret(name: str, fieldname: str) -> str:
    rows = frappe.db.sql("select password from `__Auth` where doctype=%s and name=%s and fieldname=%s",
                         (CONNECTION, name, fieldname))
    assert rows, f"no {fieldname} in __Auth"
    return rows[0][0]


def api_answers(world: World, session: requests.Session, name: str) -> list[requests.Response]:
    base = world.url(f"/api/method/{API}")
    answers = [
        session.get(base + "list_connections", timeout=60),
        session.get(base + "get_connection", params={"connection": name}, timeout=60),
        session.get(base + "available_calendars", params={"connection": name}, timeout=60),
        session.get(world.url(f"/api/resource/{CONNECTION}/{name}"), timeout=60),
        session.get(world.url(f"/api/resource/{CONNECTION}"), params={"fields": '["*"]'}, timeout=60),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
    return answers


def slots(world: World, day) -> tuple[str, set[datetime]]:
    answer = world.http.method("get_slots", get={"link": world.slug, "start": day.isoformat(), "end": day.isoformat(),
                                                 "timezone": "Europe/Paris"})
    assert answer.status_code == 200, answer.text
    message = answer.json()["message"]
    return message["mode"], {datetime.fromisoformat(s["start"]) for s in message["slots"]}


def paris(day, hour, minute=0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def book(world: World, start: datetime, tag: str) -> tuple[dict, str]:
    email = visitor_email(tag)
    world.emails.append(email)
    answer = world.http.method("book", post={"link": world.slug, "start": start.isoformat(), "duration": 30,
                                             "timezone": "Europe/Paris", "first_name": tag.title(),
                                             "last_name": "Visitor", "email": email})
    assert answer.status_code == 200, answer.text
    return answer.json()["message"], email


def run_calendar_job(booking: str) -> None:
    """The queued calendar job of `booking`, run here as a worker would (no worker runs)."""
    from frappe.utils.background_jobs import execute_job, get_job

    from meetings_addon.hosts.frappe import jobs

    job = get_job(f"calendar:{booking}")
    assert job is not None, f"no calendar job for {booking}"
    kwargs = job.kwargs["kwargs"]
    assert kwargs["kwargs"] == {"booking": booking}
    execute_job(frappe.local.site, jobs.RUN, None, jobs.RUN, kwargs, user="Guest", is_async=False)
    frappe.set_user("Administrator")
    frappe.db.rollback()


def link_mode(world: World) -> str:
    answer = world.http.method("get_link", get={"link": world.slug})
    assert answer.status_code == 200, answer.text
    return answer.json()["message"]["mode"]


# --- 1. Google --------------------------------------------------------------------------------------


def test_a_desk_user_connects_google_through_the_api_and_the_callback_route(world):
    google, ann = world.google, world.ann
    google.add_account(ann, calendars=1)  # the primary (ann) and cal0@group.calendar.google.com
    assert requests.get(world.url(f"/api/method/{API}google_start"), headers=world.http.session.headers,
                        timeout=60).status_code == 403  # a guest cannot start
    session = world.login(ann)
    asked, answer = connect(world, session, "google")
    # The consent request: Frappe's Google Settings client, PKCE, offline access.
    assert asked["client_id"] == google.client_id and asked["response_type"] == "code"
    assert asked["code_challenge_method"] == "S256" and asked["code_challenge"]
    assert asked["access_type"] == "offline" and asked["state"]
    assert asked["redirect_uri"].endswith(f"/api/method/{API}google_callback")

    doc = saved_connection(world, answer, "Google")
    assert doc.account == ann
    rows = {row.calendar_id: row for row in doc.calendars}
    assert set(rows) == {ann, "cal0@group.calendar.google.com"}
    assert (rows[ann].is_default, rows[ann].check_availability, rows[ann].status) == (1, 1, "OK")
    assert rows["cal0@group.calendar.google.com"].is_default == 0
    assert sum(row.is_default for row in doc.calendars) == 1

    # Tokens: only in Frappe's Password storage, encrypted; asterisks in the columns.
    from frappe.utils.password import get_decrypted_password

    [refresh] = [token for token, grant in google.grants.items() if grant.account == ann]
    access = get_decrypted_password(CONNECTION, doc.name, "access_token")
    assert access in google.access_tokens
    assert get_decrypted_password(CONNECTION, doc.name, "refresh_token") == refresh
    assert (doc.access_token, doc.refresh_token) == (DUMMY, DUMMY)
    for fieldname, value in (("access_token", access), ("refresh_token", refresh)):
        assert value not in stored_secret(doc.name, fieldname)
    for reply in api_answers(world, session, doc.name):
        assert refresh not in reply.text and access not in reply.text

    # The state is used once: the same callback again connects nothing.
    again = session.get(world.url(f"/api/method/{API}google_callback"),
                        params={"state": asked["state"], "code": "4/0Aused"}, allow_redirects=False, timeout=60)
    assert again.status_code >= 400 and "Calendar not connected" in again.text


# --- 2. Office 365 ----------------------------------------------------------------------------------


def test_a_desk_user_connects_office_365_with_msal_against_the_https_emulator(world):
    microsoft, ann = world.microsoft, world.ann
    mailbox = microsoft.add_mailbox(ann, "Ann Host", calendars=1)
    session = world.login(ann)
    asked, answer = connect(world, session, "microsoft")
    assert asked["client_id"] == microsoft.client_id and asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"].endswith(f"/api/method/{API}microsoft_callback")

    doc = saved_connection(world, answer, "Microsoft")
    assert doc.account == ann
    rows = {row.calendar_id: row for row in doc.calendars}
    assert set(rows) == set(mailbox.calendars)
    assert (rows[mailbox.default.id].is_default, rows[mailbox.default.id].check_availability) == (1, 1)
    assert sum(row.is_default for row in doc.calendars) == 1

    from frappe.utils.password import get_decrypted_password

    [refresh] = [token for token, grant in microsoft.refresh_tokens.items() if grant.mailbox == ann]
    cache = get_decrypted_password(CONNECTION, doc.name, "token_cache")
    assert refresh in cache and json.loads(cache)["RefreshToken"]  # msal's SerializableTokenCache
    assert doc.token_cache == DUMMY and refresh not in stored_secret(doc.name, "token_cache")
    for reply in api_answers(world, session, doc.name):
        assert refresh not in reply.text and "RefreshToken" not in reply.text
    assert [c["name"] for c in session.get(world.url(f"/api/method/{API}list_connections"),
                                           timeout=60).json()["message"]] == [world.connections["Google"], doc.name]


# --- 3. Busy times block; a booking writes one Google event -----------------------------------------------


def test_busy_times_block_slots_and_a_booking_writes_one_event_on_the_google_default(world):
    from meetings_addon.calendars.google import event_id_for

    google, microsoft, ann = world.google, world.microsoft, world.ann
    day = next_day(4)
    google.add_event(ann, ann, paris(day, 10), paris(day, 11))
    google.add_event(ann, ann, paris(day, 12), paris(day, 13), transparency="transparent")  # free: no block
    microsoft.add_event(ann, microsoft.mailboxes[ann].default.id, paris(day, 14), paris(day, 15))
    freebusy_before = google.count("POST", r"/calendar/v3/freeBusy$")

    mode, starts = slots(world, day)
    assert mode == "book"
    for blocked in (paris(day, 10), paris(day, 10, 30), paris(day, 14), paris(day, 14, 30)):
        assert blocked not in starts
    for free in (paris(day, 9), paris(day, 9, 30), paris(day, 11), paris(day, 12), paris(day, 15), paris(day, 16, 30)):
        assert free in starts
    assert google.count("POST", r"/calendar/v3/freeBusy$") > freebusy_before

    inserts, graph_writes = google.count("POST", GOOGLE_EVENTS), microsoft.count("POST", GRAPH_EVENTS)
    booked, guest = book(world, paris(day, 9), "gus")
    assert booked["status"] == "Confirmed"
    run_calendar_job(booked["booking"])
    assert google.count("POST", GOOGLE_EVENTS) == inserts + 1
    [insert] = google.matching("POST", GOOGLE_EVENTS)[-1:]
    assert insert.query.get("sendUpdates") == "all"
    [event] = [e for e in google.events(ann, ann) if e["summary"] != "Busy"]
    assert guest in [a["email"] for a in event.get("attendees") or []]
    assert [(i["kind"], i["sent"]) for i in google.invitations if i["to"] == guest] == [("invitation", True)]
    uid = frappe.db.get_value("Booking", booked["booking"], "ical_uid")
    assert event["id"] == event_id_for(uid)
    assert not google.events(ann, "cal0@group.calendar.google.com")
    assert microsoft.count("POST", GRAPH_EVENTS) == graph_writes  # the default only

    run_calendar_job_again = google.count("POST", GOOGLE_EVENTS)
    from meetings_addon.booking import jobs as booking_jobs
    from meetings_addon.hosts.frappe.services import services

    booking_jobs.sync_calendar_event(services(), booked["booking"])  # a retried job
    frappe.db.commit()
    assert len([e for e in google.events(ann, ann) if e["summary"] != "Busy"]) == 1
    assert google.count("POST", GOOGLE_EVENTS) - run_calendar_job_again <= 1

    _, after = slots(world, day)
    assert paris(day, 9) not in after


# --- 4. Revoked at Google: request mode; reconnecting restores booking ------------------------------------


def test_a_token_revoked_at_google_switches_to_request_mode_until_reconnected(world):
    google, ann = world.google, world.ann
    name = world.connections["Google"]
    google.revoke(ann)
    google.add_event(ann, ann, paris(next_day(5), 9), paris(next_day(5), 10))  # a change the cache must not hide

    assert link_mode(world) == "request"
    frappe.db.rollback()
    doc = frappe.get_doc(CONNECTION, name)
    assert doc.status == "Error" and "invalid_grant" in (doc.error or "")

    day = next_day(6)
    mode, starts = slots(world, day)
    assert mode == "request" and paris(day, 11) in starts
    inserts = google.count("POST", GOOGLE_EVENTS)
    booked, _ = book(world, paris(day, 11), "rita")
    assert booked["status"] == "Requested"
    frappe.db.rollback()
    assert frappe.db.get_value("Booking", booked["booking"], "status") == "Requested"
    from frappe.utils.background_jobs import get_job

    assert get_job(f"calendar:{booked['booking']}") is None  # nothing to write for a request
    assert google.count("POST", GOOGLE_EVENTS) == inserts

    session = world.login(ann)
    _, answer = connect(world, session, "google")
    doc = saved_connection(world, answer, "Google")
    assert doc.name == name and doc.error in (None, "")
    assert [row.calendar_id for row in doc.calendars if row.is_default] == [ann]  # the choices kept
    assert link_mode(world) == "book"
    assert slots(world, next_day(7))[0] == "book"


# --- 5. Someone else's connection -----------------------------------------------------------------------


def test_another_user_can_neither_see_nor_change_the_connections(world):
    bob = world.login(world.bob)
    base = world.url(f"/api/method/{API}")
    assert bob.get(base + "list_connections", timeout=60).json()["message"] == []
    listed = bob.get(world.url(f"/api/resource/{CONNECTION}"), timeout=60)
    assert listed.status_code == 200 and listed.json()["data"] == []
    frappe.db.rollback()
    for provider, name in world.connections.items():
        before = frappe.get_doc(CONNECTION, name).as_dict()
        first = before["calendars"][0]["calendar_id"]
        for answer in (
            bob.get(base + "get_connection", params={"connection": name}, timeout=60),
            bob.get(base + "available_calendars", params={"connection": name}, timeout=60),
            bob.post(base + "set_calendars", json={"connection": name, "calendars": [first], "default_calendar": first},
                     timeout=60),
            bob.post(base + "remove_calendar", json={"connection": name, "calendar_id": first}, timeout=60),
            bob.post(base + "disconnect", json={"connection": name}, timeout=60),
        ):
            assert answer.status_code == 404, (provider, answer.text)
            assert answer.json()["exc_type"] == "DoesNotExistError"
        for answer in (bob.get(world.url(f"/api/resource/{CONNECTION}/{name}"), timeout=60),
                       bob.put(world.url(f"/api/resource/{CONNECTION}/{name}"), json={"account": "bob"}, timeout=60),
                       bob.delete(world.url(f"/api/resource/{CONNECTION}/{name}"), timeout=60)):
            assert answer.status_code == 403, (provider, answer.text)
        frappe.db.rollback()
        after = frappe.get_doc(CONNECTION, name).as_dict()
        assert (after["modified"], after["status"], len(after["calendars"])) == (
            before["modified"], before["status"], len(before["calendars"]))
    from frappe.utils.password import get_decrypted_password

    assert get_decrypted_password(CONNECTION, world.connections["Google"], "refresh_token")
    assert get_decrypted_password(CONNECTION, world.connections["Microsoft"], "token_cache")


# --- the form script, without a browser ---------------------------------------------------------------------


def _called_methods(text: str) -> set[str]:
    """The server methods a desk script calls: `method: "..."`, `method: MEETINGS_API + "..."`
    and the provider starts (`MEETINGS_API + provider + "_start"` with connect_oauth("x"))."""
    prefix = re.search(r'const MEETINGS_API = "([\w.]+)";', text)
    found: set[str] = set()
    for expression in re.findall(r"\bmethod:\s*([^,\n]+)", text):
        expression = expression.strip()
        if re.fullmatch(r'"[\w.]+"', expression):
            found.add(expression.strip('"'))
        elif prefix and re.fullmatch(r'MEETINGS_API \+ "\w+"', expression):
            found.add(prefix[1] + expression.split('"')[1])
        elif prefix and expression == 'MEETINGS_API + provider + "_start"':
            providers = re.findall(r'connect_oauth\("(\w+)"\)', text)
            assert providers, "connect_oauth is never called with a provider"
            found |= {f"{prefix[1]}{p}_start" for p in providers}
        else:
            raise AssertionError(f"cannot check the method {expression!r}")
    return found


def test_the_calendar_connection_scripts_call_only_whitelisted_methods(site):
    folder = APP / "meetings_addon" / "doctype" / "calendar_connection"
    form = (folder / "calendar_connection.js").read_text()
    for label in ("Connect Google", "Connect Office 365", "Add CalDAV", "indicator-pill"):
        assert label in form
    called = _called_methods(form)
    assert {API + m for m in ("google_start", "microsoft_start", "add_caldav", "available_calendars", "set_calendars",
                              "remove_calendar", "disconnect")} <= called
    for script in folder.glob("*.js"):
        for method in _called_methods(script.read_text()):
            function = frappe.get_attr(method)
            assert function in frappe.whitelisted, f"{script.name}: {method} is not whitelisted"
            assert "POST" in frappe.allowed_http_methods_for_whitelisted_func[function], method  # frappe.call posts
    for callback in ("google_callback", "microsoft_callback"):  # the providers' redirects: GET
        function = frappe.get_attr(API + callback)
        assert function in frappe.whitelisted
        assert "GET" in frappe.allowed_http_methods_for_whitelisted_func[function]
