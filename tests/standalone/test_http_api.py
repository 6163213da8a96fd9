"""The standalone HTTP surface over real HTTP: Frappe's shapes for the booking API, errors,
the rate limit, the resource API with token auth, and the booking page routes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.booking import service


def server_message(response) -> str:
    """The human-readable message inside Frappe's _server_messages."""
    messages = json.loads(response.json()["_server_messages"])
    return json.loads(messages[0])["message"]


def count(services, doctype: str) -> int:
    return len(services.store.list(doctype, fields=("name",)))


@pytest.fixture
def booked(h, server):
    """A host, a published link and next Monday's slots (in the visitor's zone)."""
    h.token = h.add_host()
    h.add_link()
    monday = h.next_monday()
    answer = server.method("get_slots", get={"link": "hana-30", "start": str(monday), "end": str(monday), "timezone": "Europe/Paris"})
    assert answer.status_code == 200, answer.text
    return answer.json()["message"]["slots"]


# --- booking API -------------------------------------------------------------------------


def test_ping(server):
    response = server.http.get(server.url + "/api/method/ping", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"message": "pong"}


def test_book_reschedule_cancel_happy_path(h, server, services, booked):
    link = server.method("get_link", get={"link": "hana-30"})
    assert link.status_code == 200
    facts = link.json()["message"]
    assert (facts["title"], facts["host"], facts["durations"], facts["mode"]) == ("Intro call", "Hana Host", [30], "book")

    # Monday 09:00-17:00 New York is 15:00-23:00 in Paris: 16 half-hour slots.
    assert len(booked) == 16
    assert booked[0]["start"].endswith("+01:00") or booked[0]["start"].endswith("+02:00")
    first = booked[0]["start"]

    made = server.method("book", post={"link": "hana-30", "start": first, "duration": 30, **h.visitor()})
    assert made.status_code == 200, made.text
    booking = made.json()["message"]
    assert booking["status"] == "Confirmed" and booking["start"] == first and booking["host"] == "Hana Host"
    assert booking["manage_url"].startswith(server.url + "/meetings/manage/")
    token = booking["manage_url"].rsplit("/", 1)[1]

    # The slot is gone for the next visitor; booking it again is a 409.
    monday = h.next_monday()
    again = server.method("get_slots", get={"link": "hana-30", "start": str(monday), "end": str(monday), "timezone": "Europe/Paris"})
    assert first not in [s["start"] for s in again.json()["message"]["slots"]]
    taken = server.method("book", post={"link": "hana-30", "start": first, **h.visitor(email="other@client.example")})
    assert taken.status_code == 409
    assert taken.json()["exc_type"] == "SlotUnavailable"
    assert "taken" in server_message(taken)

    manage = server.method("manage", post={"token": token})
    assert manage.status_code == 200 and manage.json()["message"]["status"] == "Confirmed"
    page = server.http.get(booking["manage_url"], timeout=5)
    assert page.status_code == 200 and "Intro call" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"

    moved = server.method("reschedule", post={"token": token, "start": booked[3]["start"], "timezone": "Europe/Paris"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["message"]["start"] == booked[3]["start"]

    cancelled = server.method("cancel", post={"token": token, "reason": "Something came up"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["message"]["status"] == "Cancelled"
    twice = server.method("cancel", post={"token": token})
    assert twice.status_code == 417 and twice.json()["field"] == "token"
    statuses = sorted(row["status"] for row in services.store.list("Booking", fields=("status",)))
    assert statuses == ["Cancelled", "Rescheduled"]


def test_form_encoded_booking(h, server, booked):
    """The page may post a plain form: answers then arrive as JSON text."""
    h.add_link("hana-q", questions=[{"label": "Company", "fieldname": "company", "fieldtype": "Data", "required": 1}])
    form = {"link": "hana-q", "start": booked[1]["start"], "answers": json.dumps({"company": "Acme"}), **h.visitor()}
    made = server.http.post(server.url + h.API + "book", data=form, timeout=10)
    assert made.status_code == 200, made.text


def test_unknown_and_unpublished_links_are_404(h, server, services):
    h.add_host()
    h.add_link("hidden-30", published=0)
    for slug in ("no-such-link", "hidden-30"):
        answer = server.method("get_link", get={"link": slug})
        assert answer.status_code == 404
        assert answer.json()["exc_type"] == "DoesNotExistError"
        page = server.http.get(f"{server.url}/meetings/{slug}", timeout=5)
        assert page.status_code == 404 and "text/html" in page.headers["Content-Type"]
    monday = h.next_monday()
    answer = server.method("book", post={"link": "hidden-30", "start": f"{monday}T10:00:00-05:00", **h.visitor()})
    assert answer.status_code == 404
    assert server.http.get(server.url + "/meetings/manage/" + "x" * 43, timeout=5).status_code == 404
    assert count(services, "Booking") == 0


def test_booking_page_is_escaped(h, server):
    h.add_host()
    h.add_link("hana-x", title="<script>alert(1)</script> & chat", description='"quoted" <b>bold</b>')
    page = server.http.get(server.url + "/meetings/hana-x", timeout=5)
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; chat" in page.text
    assert "<noscript>" in page.text and "Hana Host" in page.text


def _bad_inputs(h, slots, monday):
    start = slots[0]["start"]
    past = (datetime.now(timezone.utc) - timedelta(days=1)).replace(hour=14, minute=0, second=0, microsecond=0).isoformat()
    off_grid = slots[0]["start"].replace(":00:00", ":07:00").replace(":30:00", ":37:00")
    return [
        ("malformed email", "book", {"link": "hana-q", "start": start, **h.visitor(email="not-an-email"), "answers": {"company": "A"}}, "email"),
        ("missing first name", "book", {"link": "hana-q", "start": start, **h.visitor(first_name=""), "answers": {"company": "A"}}, "first_name"),
        ("missing required answer", "book", {"link": "hana-q", "start": start, **h.visitor()}, "company"),
        ("start off the grid", "book", {"link": "hana-q", "start": off_grid, **h.visitor(), "answers": {"company": "A"}}, "start"),
        ("start in the past", "book", {"link": "hana-q", "start": past, **h.visitor(), "answers": {"company": "A"}}, "start"),
        ("10,000-character name", "book", {"link": "hana-q", "start": start, **h.visitor(last_name="x" * 10000), "answers": {"company": "A"}}, "last_name"),
        ("markup in a name", "book", {"link": "hana-q", "start": start, **h.visitor(first_name="<script>alert(1)</script>"), "answers": {"company": "A"}}, "first_name"),
        ("unknown time zone", "book", {"link": "hana-q", "start": start, **h.visitor(timezone="Mars/Olympus"), "answers": {"company": "A"}}, "timezone"),
        ("range over 62 days", "get_slots", {"link": "hana-q", "start": str(monday), "end": str(monday + timedelta(days=62)), "timezone": "UTC"}, "end"),
        ("unknown zone for slots", "get_slots", {"link": "hana-q", "start": str(monday), "end": str(monday), "timezone": "Nowhere/Land"}, "timezone"),
        ("duration not offered", "book", {"link": "hana-q", "start": start, "duration": 45, **h.visitor(), "answers": {"company": "A"}}, "duration"),
    ]


def test_bad_input_names_the_field_and_stores_nothing(h, server, services, booked):
    h.add_link("hana-q", questions=[{"label": "Company", "fieldname": "company", "fieldtype": "Data", "required": 1}])
    for label, fn, payload, field in _bad_inputs(h, booked, h.next_monday()):
        answer = server.method(fn, post=payload)
        assert 400 <= answer.status_code < 500, (label, answer.status_code, answer.text)
        body = answer.json()
        assert body["field"] == field, (label, body)
        assert body["exc_type"] == "InvalidBooking", (label, body)
        assert field in server_message(answer), label
    assert count(services, "Booking") == 0 and count(services, "Contact") == 0


def test_malformed_json_is_400_naming_the_body(server):
    for raw in (b"{not json", b"[1, 2]"):
        answer = server.http.post(server.url + "/api/method/meetings_addon.api.booking.book", data=raw,
                                  headers={"Content-Type": "application/json"}, timeout=5)
        assert answer.status_code == 400
        assert answer.json()["field"] == "body"


def test_unknown_method_and_wrong_verb(server):
    answer = server.http.get(server.url + "/api/method/meetings_addon.api.booking.drop_tables", timeout=5)
    assert answer.status_code == 404 and answer.json()["exc_type"] == "DoesNotExistError"
    assert server.http.get(server.url + "/api/method/frappe.client.get_list", timeout=5).status_code == 404
    assert server.http.get(server.url + "/", timeout=5).status_code == 404
    assert server.method("book", get={"link": "x"}).status_code == 403  # writes are POST only, as in Frappe


def test_unexpected_errors_are_a_generic_500(server, monkeypatch, caplog):
    def broken(services, slug):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(service, "get_link", broken)
    answer = server.method("get_link", get={"link": "anything"})
    assert answer.status_code == 500
    assert "hunter2" not in answer.text and "Traceback" not in answer.text
    assert answer.json()["exc_type"] == "ServerError"
    assert any("hunter2" in (record.exc_text or "") or record.exc_info for record in caplog.records)


def test_guest_rate_limit(start_server, h):
    h.add_host()
    h.add_link()
    server = start_server(guest_rate_limit=3)
    for _ in range(3):
        assert server.method("get_link", get={"link": "hana-30"}).status_code == 200
    limited = server.method("get_link", get={"link": "hana-30"})
    assert limited.status_code == 429
    assert limited.json()["exc_type"] == "RateLimitExceededError"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert server.http.get(server.url + "/meetings/hana-30", timeout=5).status_code == 429
    assert server.http.get(server.url + "/api/method/ping", timeout=5).status_code == 200  # not a booking call


def test_rate_limiter_window():
    from meetings_addon.hosts.standalone.web import RateLimiter

    now = [1000.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.hit("a") is None and limiter.hit("a") is None
    assert limiter.hit("a") == 60 and limiter.hit("b") is None
    now[0] += 59.5
    assert limiter.hit("a") == 1
    now[0] += 1
    assert limiter.hit("a") is None
    assert RateLimiter(0).hit("a") is None


# --- resource API --------------------------------------------------------------------------


def link_body(**fields):
    body = {
        "slug": "api-30",
        "title": "Made by API",
        "durations": "30",
        "availability": [{"weekday": "Tuesday", "start_time": "09:00", "end_time": "12:00"}],
        "published": 1,
    }
    body.update(fields)
    return body


def test_resource_api_meeting_link(h, server):
    token = h.add_host(tz="Asia/Tokyo")
    created = server.resource("POST", "Meeting Link", token, json=link_body())
    assert created.status_code == 200, created.text
    doc = created.json()["data"]
    assert doc["name"] == "api-30" and doc["host"] == "host@team.example"
    assert doc["timezone"] == "Asia/Tokyo"  # filled from the host's time zone
    assert doc["availability"][0]["start_time"] == "09:00:00"
    assert len(doc["creation"]) >= 19 and doc["creation"][10] == " " and "T" not in doc["creation"]  # Frappe's naive UTC form

    read = server.resource("GET", "Meeting Link/api-30", token)
    assert read.status_code == 200 and read.json()["data"]["title"] == "Made by API"

    server.resource("POST", "Meeting Link", token, json=link_body(slug="api-60", durations="60", published=0))
    listed = server.resource("GET", "Meeting Link", token, params={
        "fields": json.dumps(["name", "title", "durations"]), "filters": json.dumps({"published": 1}),
    })
    assert listed.status_code == 200
    assert listed.json()["data"] == [{"name": "api-30", "title": "Made by API", "durations": "30"}]
    as_lists = server.resource("GET", "Meeting Link", token, params={
        "fields": '["name"]', "filters": json.dumps([["Meeting Link", "durations", "in", ["30", "60"]], ["name", "like", "api-%"]]),
        "order_by": "name desc", "limit_page_length": 1,
    })
    assert as_lists.json()["data"] == [{"name": "api-60"}]

    midnight = server.resource("PUT", "Meeting Link/api-30", token, json={
        "availability": [{"weekday": "Friday", "start_time": "20:00", "end_time": "24:00"}]})
    assert midnight.status_code == 200, midnight.text
    assert midnight.json()["data"]["availability"][0]["end_time"] == "00:00:00"  # Frappe's Time for midnight
    updated = server.resource("PUT", "Meeting Link/api-30", token, json={"title": "Renamed", "minimum_notice": 120})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["data"]["title"], updated.json()["data"]["minimum_notice"]) == ("Renamed", 120)

    slug_change = server.resource("PUT", "Meeting Link/api-30", token, json={"slug": "new-slug"})
    assert slug_change.status_code == 417 and slug_change.json()["field"] == "slug"

    backwards = server.resource("PUT", "Meeting Link/api-30", token, json={
        "availability": [{"weekday": "Monday", "start_time": "17:00", "end_time": "09:00"}]})
    assert backwards.status_code == 417 and backwards.json()["field"] == "availability"
    refused = server.resource("POST", "Meeting Link", token, json=link_body(
        slug="api-bad", availability=[{"weekday": "Monday", "start_time": "17:00", "end_time": "09:00"}]))
    assert refused.status_code == 417 and refused.json()["field"] == "availability"
    assert server.resource("GET", "Meeting Link/api-bad", token).status_code == 404

    assert server.resource("POST", "Meeting Link", token, json=link_body()).status_code == 409  # slug taken
    for slug in ("manage", "Bad Slug", "a--b", "x" * 101):
        answer = server.resource("POST", "Meeting Link", token, json=link_body(slug=slug))
        assert answer.status_code == 417 and answer.json()["field"] == "slug", slug
    wrong_type = server.resource("POST", "Meeting Link", token, json=link_body(slug="api-x", meeting_type="Webinar"))
    assert wrong_type.status_code == 417 and wrong_type.json()["field"] == "meeting_type"
    bad_filter = server.resource("GET", "Meeting Link", token, params={"filters": "{oops"})
    assert bad_filter.status_code == 417 and bad_filter.json()["field"] == "filters"

    assert server.resource("DELETE", "Meeting Link/api-60", token).json() == {"message": "ok"}
    assert server.resource("GET", "Meeting Link/api-60", token).status_code == 404


def test_resource_api_needs_a_valid_token(h, server):
    token = h.add_host()
    h.add_link()
    assert server.resource("GET", "Meeting Link").status_code in (401, 403)
    assert server.resource("POST", "Meeting Link", json=link_body()).status_code in (401, 403)
    key = token.split(":")[0]
    wrong = server.resource("GET", "Meeting Link", f"{key}:not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["exc_type"] == "AuthenticationError"
    assert server.resource("GET", "Meeting Link", "nokey:nosecret").status_code == 401
    assert server.resource("GET", "User", token).status_code == 403  # not exposed, so no __Auth either
    assert server.resource("GET", "No Such Doctype", token).status_code == 404
    assert server.resource("GET", "Meeting Link", token).status_code == 200


def test_other_users_rows_are_not_visible(h, server):
    mine = h.add_host()
    theirs = h.add_host("other@team.example", name="Otto Other")
    h.add_link("otto-30", host="other@team.example")
    assert server.resource("GET", "Meeting Link", mine).json()["data"] == []
    assert server.resource("GET", "Meeting Link", theirs).json()["data"] == [{"name": "otto-30"}]
    assert server.resource("GET", "Meeting Link/otto-30", mine).status_code == 403
    assert server.resource("PUT", "Meeting Link/otto-30", mine, json={"title": "Mine now"}).status_code == 403
    assert server.resource("DELETE", "Meeting Link/otto-30", mine).status_code == 403
    stolen = server.resource("POST", "Meeting Link", mine, json=link_body(host="other@team.example"))
    assert stolen.status_code == 403
    handover = server.resource("PUT", "Meeting Link/otto-30", theirs, json={"host": "host@team.example"})
    assert handover.status_code == 403
    admin = h.add_host("Administrator", tz="UTC", name="Administrator")  # Frappe's administrator sees every row
    assert server.resource("GET", "Meeting Link/otto-30", admin).status_code == 200
    assert server.resource("GET", "Meeting Link", admin).json()["data"] == [{"name": "otto-30"}]


def test_secrets_never_leave(h, server, services, booked, monkeypatch):
    from meetings_addon.hosts.standalone.secrets import new_key

    monkeypatch.setenv("MEETINGS_SECRET_KEY", new_key())  # Password fields are encrypted with it
    token = h.token
    made = server.method("book", post={"link": "hana-30", "start": booked[0]["start"], **h.visitor()})
    assert made.status_code == 200
    stored_hash = services.store.list("Booking", fields=("manage_token",))[0]["manage_token"]
    raw_token = made.json()["message"]["manage_url"].rsplit("/", 1)[1]

    responses = [
        server.resource("GET", "Booking", token, params={"fields": '["*"]'}),
        server.resource("GET", f"Booking/{made.json()['message']['booking']}", token),
        server.resource("GET", "Booking", token, params={"fields": '["name", "manage_token"]'}),
        server.resource("GET", "Booking", token, params={"filters": json.dumps({"manage_token": stored_hash})}),
        server.resource("GET", "Booking", token, params={"order_by": "manage_token asc"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 417, 417, 417]
    assert responses[0].json()["data"][0]["email"] == "vera@client.example"
    assert responses[1].json()["data"]["start"].count(":") == 2  # "YYYY-MM-DD HH:MM:SS"

    connection = server.resource("POST", "Calendar Connection", token, json={
        "provider": "CalDAV", "caldav_url": "https://dav.example/cal", "caldav_username": "hana",
        "caldav_password": "sw0rdfish-secret", "calendars": [{"calendar_id": "work", "check_availability": 1}],
    })
    assert connection.status_code == 200, connection.text
    name = connection.json()["data"]["name"]
    responses += [
        connection,
        server.resource("GET", f"Calendar Connection/{name}", token),
        server.resource("GET", "Calendar Connection", token, params={"fields": '["*"]'}),
        server.resource("PUT", f"Calendar Connection/{name}", token, json={"caldav_password": "an0ther-secret"}),
    ]
    assert services.secrets.get("Calendar Connection", name, "caldav_password") == "an0ther-secret"
    assert "an0ther-secret" not in services.store.get_password("Calendar Connection", name, "caldav_password")  # at rest
    for response in responses:
        for secret in (stored_hash, raw_token, "sw0rdfish-secret", "an0ther-secret", token.split(":")[1]):
            assert secret not in response.text, (secret, response.request.url)
        if response.status_code == 200:  # (a refusal names the field that was asked for)
            for fieldname in ("manage_token", "caldav_password", "access_token", "refresh_token", "api_secret"):
                assert fieldname not in response.text, (fieldname, response.request.url)
    # A booking cannot be edited through the resource API (its manage link does that).
    booking = made.json()["message"]["booking"]
    assert server.resource("PUT", f"Booking/{booking}", token, json={"status": "Cancelled"}).status_code == 403
    assert server.resource("DELETE", "Meeting Link/hana-30", token).status_code == 417  # bookings refer to it


def test_booking_created_by_the_host(h, server, services, booked):
    """POST /api/resource/Booking goes through the same reservation as the booking page."""
    token = h.token
    start = datetime.fromisoformat(booked[2]["start"]).astimezone(timezone.utc).replace(tzinfo=None)
    body = {"meeting_link": "hana-30", "start": str(start), "first_name": "Carl", "last_name": "Crm",
            "email": "carl@client.example"}
    made = server.resource("POST", "Booking", token, json=body)
    assert made.status_code == 200, made.text
    assert made.json()["data"]["source"] == "CRM" and made.json()["data"]["start"] == str(start)
    assert server.resource("POST", "Booking", token, json=body).status_code == 409


def test_local_calendar_events_are_read_only(h, server, services):
    token = h.add_host()
    h.add_host("other@team.example")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for user in ("host@team.example", "other@team.example"):
        services.store.insert("Local Calendar Event", {"user": user, "summary": "Busy", "start": now, "end": now + timedelta(hours=1),
                                                       "source": "Manual", "status": "Confirmed", "transparent": 0})
    rows = server.resource("GET", "Local Calendar Event", token, params={"fields": '["user", "summary", "start"]'}).json()["data"]
    assert rows == [{"user": "host@team.example", "summary": "Busy", "start": now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")}]
    refused = server.resource("POST", "Local Calendar Event", token, json={"summary": "x", "start": str(now), "end": str(now)})
    assert refused.status_code == 403
