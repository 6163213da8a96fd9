"""Managing calendar connections (connections/manage.py) on the standalone host, with a
real Radicale: add a CalDAV account (checked by listing its calendars; errors name the
field), choose the checked calendars and one default among those the account can read,
remove a calendar, disconnect; one account per provider; a user sees and changes only
their own; secrets encrypted at rest and never in an answer; the HTTP routes."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from werkzeug.serving import make_server

from meetings_addon.connections import manage
from meetings_addon.errors import InvalidInput, NotFound
from meetings_addon.hosts.standalone.auth import issue_api_key
from meetings_addon.hosts.standalone.secrets import FernetSecrets, SecretKeyMissing
from meetings_addon.hosts.standalone.web import make_app
from tests.calendars.caldav_servers import add_user, radicale, secret_key, site  # noqa: F401 - fixtures

CONNECTION = "Calendar Connection"
HANA, OTTO = "hana@team.example", "otto@team.example"


def caldav(server, user="alice", password=None, **extra) -> dict:
    return {"caldav_url": server.url, "caldav_username": user,
            "caldav_password": server.users[user] if password is None else password, **extra}


@pytest.fixture
def hana(site):
    return add_user(site, HANA)


@pytest.fixture
def otto(site):
    return add_user(site, OTTO, name="Otto Other")


def test_adding_caldav_lists_its_calendars_and_keeps_the_password_encrypted(site, hana, radicale):
    work = radicale.make_calendar("Work")
    connection = manage.add_caldav(site, hana, caldav(radicale))
    assert connection["provider"] == "CalDAV" and connection["status"] == "Connected" and not connection["failing"]
    ids = [row["calendar_id"] for row in connection["calendars"]]
    assert work in ids
    defaults = [row for row in connection["calendars"] if row["is_default"]]
    assert len(defaults) == 1 and defaults[0]["check_availability"] == 1
    name = connection["name"]
    stored = site.store.get_password(CONNECTION, name, "caldav_password")
    assert stored and radicale.users["alice"] not in stored  # ciphertext at rest
    assert site.secrets.get(CONNECTION, name, "caldav_password") == radicale.users["alice"]
    assert radicale.users["alice"] not in json.dumps(manage.list_connections(site, hana), default=str)
    # The stored key alone reads it: another key cannot.
    from meetings_addon.hosts.standalone.secrets import new_key

    with pytest.raises(SecretKeyMissing, match="MEETINGS_SECRET_KEY"):
        FernetSecrets(site.store, key=new_key()).get(CONNECTION, name, "caldav_password")


@pytest.mark.parametrize("field, payload", [
    ("caldav_url", {"caldav_url": ""}),
    ("caldav_url", {"caldav_url": "ftp://dav.example.com/"}),
    ("caldav_url", {"caldav_url": "http://dav.example.com/"}),  # a password over plain http
    ("caldav_username", {"caldav_username": ""}),
    ("caldav_password", {"caldav_password": ""}),
    ("caldav_password", {"caldav_password": "not-the-password"}),
])
def test_bad_caldav_input_names_the_field_and_stores_nothing(site, hana, radicale, field, payload):
    with pytest.raises(InvalidInput) as refused:
        manage.add_caldav(site, hana, {**caldav(radicale), **payload})
    assert refused.value.field == field
    assert manage.list_connections(site, hana) == []


def test_an_address_without_a_caldav_server_names_caldav_url(site, hana):
    with pytest.raises(InvalidInput) as refused:
        manage.add_caldav(site, hana, {"caldav_url": "http://127.0.0.1:9/", "caldav_username": "a", "caldav_password": "b"})
    assert refused.value.field == "caldav_url" and "reach" in refused.value.reason


def test_without_a_secret_key_the_error_names_the_variable(site, hana, radicale, monkeypatch):
    monkeypatch.delenv("MEETINGS_SECRET_KEY")
    with pytest.raises(SecretKeyMissing, match="MEETINGS_SECRET_KEY"):
        manage.add_caldav(site, hana, caldav(radicale))
    assert manage.list_connections(site, hana) == []  # nothing half-saved


def test_one_account_per_provider_and_reconnecting_updates_it(site, hana, radicale):
    radicale.make_calendar("Work")
    first = manage.add_caldav(site, hana, caldav(radicale))
    with pytest.raises(InvalidInput) as refused:
        manage.add_caldav(site, hana, caldav(radicale, user="bob"))
    assert refused.value.field == "caldav_url" and "disconnect" in refused.value.reason
    again = manage.add_caldav(site, hana, caldav(radicale))  # the same account: a reconnect
    assert again["name"] == first["name"] and len(manage.list_connections(site, hana)) == 1


def test_choosing_calendars_only_readable_ones_and_exactly_one_default(site, hana, radicale):
    work, home = radicale.make_calendar("Work"), radicale.make_calendar("Home")
    bobs = radicale.make_calendar("Bob private", user="bob")
    name = manage.add_caldav(site, hana, caldav(radicale))["name"]
    listed = {row["calendar_id"]: row for row in manage.available_calendars(site, hana, {"connection": name})}
    assert work in listed and home in listed and bobs not in listed
    with pytest.raises(InvalidInput) as refused:
        manage.set_calendars(site, hana, {"connection": name, "calendars": [work, bobs], "default_calendar": work})
    assert refused.value.field == "calendars"
    with pytest.raises(InvalidInput) as refused:
        manage.set_calendars(site, hana, {"connection": name, "calendars": [work], "default_calendar": ""})
    assert refused.value.field == "default_calendar"
    with pytest.raises(InvalidInput) as refused:
        manage.set_calendars(site, hana, {"connection": name, "calendars": [work], "default_calendar": bobs})
    assert refused.value.field == "default_calendar"
    chosen = manage.set_calendars(site, hana, {"connection": name, "calendars": json.dumps([work, home]), "default_calendar": home})
    rows = {row["calendar_id"]: row for row in chosen["calendars"]}
    assert rows[work]["check_availability"] == rows[home]["check_availability"] == 1
    assert [c for c, row in rows.items() if row["is_default"]] == [home]


def test_removing_a_calendar_and_the_default_moves(site, hana, radicale):
    work, home = radicale.make_calendar("Work"), radicale.make_calendar("Home")
    name = manage.add_caldav(site, hana, caldav(radicale))["name"]
    manage.set_calendars(site, hana, {"connection": name, "calendars": [work, home], "default_calendar": work})
    after = manage.remove_calendar(site, hana, {"connection": name, "calendar_id": work})
    rows = {row["calendar_id"]: row for row in after["calendars"]}
    assert work not in rows and rows[home]["is_default"] == 1
    assert sum(row["is_default"] for row in after["calendars"]) == 1
    with pytest.raises(NotFound):
        manage.remove_calendar(site, hana, {"connection": name, "calendar_id": work})


def test_disconnecting_forgets_the_secret_and_the_connection(site, hana, radicale):
    radicale.make_calendar("Work")
    name = manage.add_caldav(site, hana, caldav(radicale))["name"]
    assert manage.disconnect(site, hana, {"connection": name})["disconnected"] is True
    assert site.store.get(CONNECTION, name) is None
    assert site.store.get_password(CONNECTION, name, "caldav_password") is None
    assert manage.list_connections(site, hana) == []


def test_another_users_connection_is_invisible_and_unchangeable(site, hana, otto, radicale):
    work = radicale.make_calendar("Work")
    name = manage.add_caldav(site, hana, caldav(radicale))["name"]
    assert manage.list_connections(site, otto) == []
    for use_case, payload in [
        (manage.get_connection, {"connection": name}),
        (manage.available_calendars, {"connection": name}),
        (manage.set_calendars, {"connection": name, "calendars": [work], "default_calendar": work}),
        (manage.remove_calendar, {"connection": name, "calendar_id": work}),
        (manage.disconnect, {"connection": name}),
    ]:
        with pytest.raises(NotFound):
            use_case(site, otto, payload)
    assert site.store.get(CONNECTION, name)["calendars"]  # untouched


def test_oauth_routes_answer_501_until_their_flow_is_installed(site, hana, monkeypatch):
    monkeypatch.setitem(manage.OAUTH, "google", ("Google", "meetings_addon.connections.no_such_flow"))
    with pytest.raises(manage.NotAvailableYet) as missing:
        manage.oauth_start(site, hana, "google")
    assert missing.value.http_status == 501


# --- the same through HTTP (token-authenticated) ----------------------------------------------------


@pytest.fixture
def http(site):
    app = make_app(site, guest_rate_limit=0)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    site.site_url = f"http://127.0.0.1:{server.server_port}"
    yield site.site_url
    server.shutdown()
    server.server_close()


def call(base, method, token=None, *, post=None, **params):
    headers = {"Authorization": f"token {token}"} if token else {}
    url = f"{base}/api/method/meetings_addon.api.{method}"
    if post is not None:
        return requests.post(url, json=post, headers=headers, timeout=30)
    return requests.get(url, params=params, headers=headers, timeout=30)


def test_http_routes_own_connections_only_and_never_a_secret(site, hana, otto, radicale, http):
    work = radicale.make_calendar("Work")
    hana_token = ":".join(issue_api_key(site, hana))
    otto_token = ":".join(issue_api_key(site, otto))
    password = radicale.users["alice"]

    assert call(http, "connections.list_connections").status_code == 403  # signed-in users only
    bad = call(http, "connections.add_caldav", hana_token, post=caldav(radicale, password="wrong"))
    assert bad.status_code == 417 and bad.json()["field"] == "caldav_password"
    added = call(http, "connections.add_caldav", hana_token, post=caldav(radicale))
    assert added.status_code == 200, added.text
    name = added.json()["message"]["name"]
    answers = [
        added,
        call(http, "connections.list_connections", hana_token),
        call(http, "connections.get_connection", hana_token, connection=name),
        call(http, "connections.available_calendars", hana_token, connection=name),
        call(http, "connections.set_calendars", hana_token,
             post={"connection": name, "calendars": [work], "default_calendar": work}),
        requests.get(f"{http}/api/resource/Calendar Connection/{name}", headers={"Authorization": f"token {hana_token}"}, timeout=30),
        requests.get(f"{http}/api/resource/Calendar Connection", params={"fields": '["*"]'},
                     headers={"Authorization": f"token {hana_token}"}, timeout=30),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert password not in answer.text and site.store.get_password(CONNECTION, name, "caldav_password") not in answer.text
        assert "caldav_password" not in answer.text.replace('"field"', "")
    assert call(http, "connections.list_connections", hana_token).json()["message"][0]["name"] == name
    # Otto: none of Hana's, through any route.
    assert call(http, "connections.list_connections", otto_token).json()["message"] == []
    assert call(http, "connections.get_connection", otto_token, connection=name).status_code == 404
    assert call(http, "connections.disconnect", otto_token, post={"connection": name}).status_code == 404
    assert call(http, "connections.disconnect", hana_token).status_code == 403  # a write is a POST
    assert call(http, "connections.disconnect", hana_token, post={"connection": name}).status_code == 200
    assert site.store.get(CONNECTION, name) is None


def test_secret_key_command_prints_a_usable_key(capsys):
    from cryptography.fernet import Fernet

    from meetings_addon.hosts.standalone.cli import main

    assert main(["secret-key"]) == 0
    out, err = capsys.readouterr()
    key = out.strip().splitlines()[-1]
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert "MEETINGS_SECRET_KEY" in err


def test_a_database_made_before_a_new_field_gains_its_column(tmp_path, secret_key):
    """The standalone store derives its tables from the doctype JSON; a field added since
    (Calendar Connection.failure_notified_on) is added to an existing database on start."""
    from sqlalchemy import inspect, text

    from meetings_addon.hosts.standalone.services import build_services

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    first = build_services(url, redis_url="")
    with first.store.engine.begin() as connection:
        connection.execute(text('ALTER TABLE "tabCalendar Connection" DROP COLUMN failure_notified_on'))
    first.store.engine.dispose()
    again = build_services(url, redis_url="")
    columns = {c["name"] for c in inspect(again.store.engine).get_columns("tabCalendar Connection")}
    assert "failure_notified_on" in columns
    again.store.engine.dispose()
