"""Push channels against the emulators and the real standalone server: Google watch
channels (secret token, renewal before expiry, stop on disconnect) and Graph
subscriptions (validationToken handshake, clientState, renewal, lifecycle)."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest

from meetings_addon.connections import google_oauth, manage, microsoft_oauth
from meetings_addon.sync import channels, jobs
from tests.calendars.conftest import Server

HOST = "host@team.example"
WATCH = r"/events/watch$"
STOP = r"/channels/stop$"
_gate = threading.Event()


def block(services):
    """A job that holds the in-process worker until the test releases it."""
    _gate.wait(10)


def row(services, connection):
    return services.store.get("Calendar Connection", connection["name"])["calendars"][0]


@pytest.fixture
def site(services):
    server = Server(services)
    yield server
    server.stop()


@pytest.fixture
def google_world(services, google, kit, site):
    google.add_account(HOST)
    kit.add_host(services)
    url = google_oauth.start(services, HOST)
    connection = google_oauth.callback(services, kit.consent(url, os.environ["MEETINGS_CA_BUNDLE"]))
    services.jobs.drain(10)
    return services, google, connection


@pytest.fixture
def graph_world(services, microsoft, kit, site):
    microsoft.add_mailbox(HOST, calendars=0)
    kit.add_host(services)
    url = microsoft_oauth.start(services, HOST)
    connection = microsoft_oauth.callback(services, kit.consent(url, os.environ["MEETINGS_CA_BUNDLE"]))
    services.jobs.drain(10)
    return services, microsoft, connection


def test_google_channel_is_opened_with_a_secret_token_never_stored(google_world, site):
    services, google, connection = google_world
    assert channels.ensure_channels(services) == [(connection["name"], HOST, "opened")]
    [channel] = google.open_channels()
    body = google.matching("POST", WATCH)[0].json()
    assert body["type"] == "web_hook" and body["params"]["ttl"] == str(7 * 86400)
    assert body["address"] == f"{site.url}/api/method/meetings_addon.api.sync.google_push"
    assert len(body["token"]) >= 32
    saved = row(services, connection)
    assert saved["channel_id"] == channel["id"] and saved["channel_expires"] > services.clock.now() + timedelta(days=6)
    assert body["token"] not in saved["channel_token"] and saved["channel_token"].endswith(channel["resourceId"])
    assert "channel_token" not in str(manage.list_connections(services, HOST))
    # Fresh: the next run does nothing.
    assert channels.ensure_channels(services) == [] and google.count("POST", WATCH) == 1


def test_notifications_with_the_token_queue_one_sync_and_a_wrong_token_is_refused(google_world, monkeypatch):
    services, google, connection = google_world
    channels.ensure_channels(services)
    [channel] = google.open_channels()
    ran = []
    monkeypatch.setattr(jobs, "sync_connection", lambda services, connection, calendar_id=None: ran.append(calendar_id))
    assert google.notify(channel["id"], "sync").status_code == 200  # the first message: acknowledged only
    _gate.clear()
    services.jobs.enqueue("tests.sync.test_channels.block")  # the worker is busy: the syncs wait in the queue
    try:
        first = google.notify(channel["id"])
        second = google.notify(channel["id"])
        wrong = google.notify(channel["id"], token="not-the-secret")
    finally:
        _gate.set()
    assert (first.status_code, second.status_code, wrong.status_code) == (200, 200, 403)
    services.jobs.drain(10)
    assert ran == [HOST]


def test_renewal_opens_the_new_channel_before_stopping_the_old(google_world):
    services, google, connection = google_world
    channels.ensure_channels(services)
    old = row(services, connection)
    rows = [dict(r, channel_expires=services.clock.now() + timedelta(hours=5))
            for r in services.store.get("Calendar Connection", connection["name"])["calendars"]]
    services.store.update("Calendar Connection", connection["name"], {"calendars": rows})

    assert channels.ensure_channels(services) == [(connection["name"], HOST, "opened")]

    calls = [(r.method, r.path) for r in google.matching("POST", r"/(events/watch|channels/stop)$")]
    assert [path.rsplit("/", 1)[1] for _, path in calls] == ["watch", "watch", "stop"]
    stopped = google.matching("POST", STOP)[0].json()
    assert stopped == {"id": old["channel_id"], "resourceId": google.channels[old["channel_id"]]["resourceId"]}
    new = row(services, connection)
    assert new["channel_id"] != old["channel_id"] and [c["id"] for c in google.open_channels()] == [new["channel_id"]]
    # The old channel's notifications are refused now.
    assert google.notify(old["channel_id"]).status_code == 403


def test_disconnect_stops_the_channels(google_world):
    services, google, connection = google_world
    channels.ensure_channels(services)
    assert len(google.open_channels()) == 1
    manage.disconnect(services, HOST, {"connection": connection["name"]})
    assert google.open_channels() == [] and google.count("POST", STOP) == 1


def test_graph_subscription_handshake_against_the_standalone_server(graph_world, site):
    services, microsoft, connection = graph_world
    assert channels.ensure_channels(services) == [(connection["name"], row(services, connection)["calendar_id"], "opened")]
    [sub] = microsoft.live_subscriptions()
    assert sub["notificationUrl"] == f"{site.url}/api/method/meetings_addon.api.sync.graph_push"
    assert sub["changeType"] == "created,updated,deleted"
    assert microsoft.validations and all(v["status"] == 200 and v["answer"] == v["token"] for v in microsoft.validations)
    saved = row(services, connection)
    assert saved["channel_id"] == sub["id"] and sub["clientState"] not in saved["channel_token"]
    # clientState checked on notifications.
    assert microsoft.notify(sub["id"]).status_code == 202
    assert microsoft.notify(sub["id"], client_state="forged").status_code == 403
    services.jobs.drain(10)


def test_graph_subscription_refused_when_the_handshake_fails(graph_world, site):
    services, microsoft, connection = graph_world
    services.site_url = site.url + "/nowhere"
    assert channels.ensure_channels(services) == []
    assert microsoft.live_subscriptions() == [] and not row(services, connection).get("channel_id")


def test_graph_renews_with_patch_before_expiry(graph_world):
    services, microsoft, connection = graph_world
    channels.ensure_channels(services)
    first = row(services, connection)
    rows = [dict(r, channel_expires=services.clock.now() + timedelta(hours=3))
            for r in services.store.get("Calendar Connection", connection["name"])["calendars"]]
    services.store.update("Calendar Connection", connection["name"], {"calendars": rows})
    assert channels.ensure_channels(services)[0][2] == "renewed"
    assert microsoft.count("PATCH", r"/subscriptions/") == 1 and microsoft.count("POST", r"/subscriptions$") == 1
    renewed = row(services, connection)
    assert renewed["channel_id"] == first["channel_id"] and renewed["channel_expires"] > services.clock.now() + timedelta(days=1)


def test_lifecycle_reauthorization_required_renews_and_removed_recreates(graph_world):
    services, microsoft, connection = graph_world
    channels.ensure_channels(services)
    [sub] = microsoft.live_subscriptions()
    assert microsoft.notify(sub["id"], lifecycle_event="reauthorizationRequired").status_code == 202
    services.jobs.drain(10)
    assert microsoft.count("PATCH", r"/subscriptions/") == 1 and row(services, connection)["channel_id"] == sub["id"]

    assert microsoft.notify(sub["id"], lifecycle_event="subscriptionRemoved").status_code == 202
    services.jobs.drain(10)
    [new] = microsoft.live_subscriptions()
    assert new["id"] != sub["id"] and row(services, connection)["channel_id"] == new["id"]


def test_graph_disconnect_deletes_the_subscription(graph_world):
    services, microsoft, connection = graph_world
    channels.ensure_channels(services)
    manage.disconnect(services, HOST, {"connection": connection["name"]})
    assert microsoft.live_subscriptions() == [] and microsoft.count("DELETE", r"/subscriptions/") == 1


def test_scheduler_thread_polls_and_opens_channels_then_stops(google_world):
    from meetings_addon.hosts.standalone.scheduler import SyncScheduler

    services, google, connection = google_world
    scheduler = SyncScheduler(services, tick=0.05).start()
    try:
        for _ in range(100):
            if google.open_channels():
                break
            threading.Event().wait(0.05)
    finally:
        scheduler.stop()
    assert len(google.open_channels()) == 1 and not scheduler._thread.is_alive()
    services.jobs.drain(10)
