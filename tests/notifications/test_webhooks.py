"""Outgoing webhooks (notifications/webhooks.py, CONTRACT.md): a real HTTP receiver on
127.0.0.1 records what the standalone host POSTs after each booking change."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from meetings_addon.hosts.standalone.secrets import new_key
from meetings_addon.notifications.webhooks import WEBHOOK, check_url

from .conftest import token_of
from .test_jobs import quick_retries

SECRET = "s3cr3t-for-tests"


class Receiver:
    """Records each POST (headers, raw body); answers `script` statuses in turn, then 200."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.deliveries.append({"headers": dict(self.headers), "body": body, "at": time.monotonic(), "path": self.path})
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[dict]:
        return [d for d in self.deliveries if d["path"] == path]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def hooks(scene, receiver, monkeypatch):
    monkeypatch.setenv("MEETINGS_SECRET_KEY", new_key())  # the secret is a Password field, encrypted
    scene.host()
    scene.link()

    def add(path="/hook", secret=SECRET, **events):
        doc = scene.services.store.insert(WEBHOOK, {"url": receiver.url + path, "enabled": 1, "on_booked": 1, "on_rescheduled": 1, "on_cancelled": 1, **events})
        if secret:
            scene.services.secrets.set(WEBHOOK, doc["name"], "secret", secret)
        return doc["name"]

    return add


def payload(delivery: dict) -> dict:
    return json.loads(delivery["body"])


def assert_signed(delivery: dict, secret: str = SECRET) -> None:
    expected = "sha256=" + hmac.new(secret.encode(), delivery["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery["headers"]["X-Meetings-Signature"], expected)


def test_book_reschedule_cancel_each_deliver_one_signed_event(scene, receiver, hooks):
    hooks()
    answer = scene.book(scene.at(10))
    assert len(receiver.deliveries) == 1
    booked = receiver.deliveries[0]
    assert_signed(booked)
    body = payload(booked)
    assert booked["headers"]["X-Meetings-Event"] == body["event"] == "booking.booked"
    assert booked["headers"]["X-Meetings-Delivery"] == body["delivery"]
    assert booked["headers"]["Content-Type"] == "application/json"
    data = body["booking"]
    assert data["name"] == answer["booking"] and data["status"] == "Confirmed"
    assert data["start"] == scene.at(10).astimezone(timezone.utc).isoformat()
    assert data["end"].endswith("+00:00") and data["duration"] == 30
    assert data["meeting_link"] == "hana-30" and data["host"] == "host@team.example"
    assert data["email"] == "vera@client.example" and data["source"] == "Booking Page"
    assert data["contact"] and data["rescheduled_from"] is None
    assert set(data) == {"name", "status", "start", "end", "timezone", "duration", "meeting_link", "host", "first_name",
                         "last_name", "email", "answers", "contact", "source", "rescheduled_from"}
    assert "manage_token" not in booked["body"].decode()
    assert body["sent_at"]

    moved = scene.reschedule(token_of(answer), scene.at(11))
    assert len(receiver.deliveries) == 2
    second = receiver.deliveries[1]
    assert_signed(second)
    assert payload(second)["event"] == second["headers"]["X-Meetings-Event"] == "booking.rescheduled"
    assert payload(second)["booking"]["name"] == moved["booking"]
    assert payload(second)["booking"]["rescheduled_from"] == answer["booking"]
    assert second["headers"]["X-Meetings-Delivery"] != booked["headers"]["X-Meetings-Delivery"]

    scene.cancel(token_of(answer))
    assert len(receiver.deliveries) == 3
    third = receiver.deliveries[2]
    assert_signed(third)
    assert payload(third)["event"] == "booking.cancelled"
    assert payload(third)["booking"]["status"] == "Cancelled"
    assert payload(third)["booking"]["name"] == moved["booking"]


def test_a_failing_receiver_gets_the_same_delivery_again_and_the_booking_stands(scene, receiver, hooks):
    hooks()
    quick_retries(scene.services)
    receiver.script = [(500, {}), (500, {})]
    answer = scene.book(scene.at(10))  # drains; asserts no job failed for good
    assert len(receiver.deliveries) == 3
    ids = {d["headers"]["X-Meetings-Delivery"] for d in receiver.deliveries}
    assert len(ids) == 1
    for delivery in receiver.deliveries:
        assert_signed(delivery)
    booking = scene.services.store.get("Booking", answer["booking"])
    assert booking["status"] == "Confirmed"


def test_retry_after_is_honoured(scene, receiver, hooks):
    hooks()
    quick_retries(scene.services)  # 50 ms between attempts unless the receiver asks for more
    receiver.script = [(503, {"Retry-After": "1"})]
    scene.book(scene.at(10))
    assert len(receiver.deliveries) == 2
    assert receiver.deliveries[1]["at"] - receiver.deliveries[0]["at"] >= 0.95


def test_a_webhook_gets_only_the_events_it_subscribed_to(scene, receiver, hooks):
    hooks("/all")
    hooks("/cancel-only", on_booked=0, on_rescheduled=0)
    hooks("/disabled", enabled=0)
    answer = scene.book(scene.at(10))
    assert [payload(d)["event"] for d in receiver.at("/all")] == ["booking.booked"]
    assert receiver.at("/cancel-only") == []
    scene.cancel(token_of(answer))
    assert [payload(d)["event"] for d in receiver.at("/cancel-only")] == ["booking.cancelled"]
    assert [payload(d)["event"] for d in receiver.at("/all")] == ["booking.booked", "booking.cancelled"]
    assert receiver.at("/disabled") == []


def test_without_a_secret_no_signature_is_sent(scene, receiver, hooks):
    hooks(secret=None)
    scene.book(scene.at(10))
    assert len(receiver.deliveries) == 1
    assert "X-Meetings-Signature" not in receiver.deliveries[0]["headers"]


def test_the_url_must_be_http_or_https():
    assert check_url(" https://example.com/hook ") == "https://example.com/hook"
    for bad in ("", "ftp://example.com/x", "example.com/hook", "https://", "javascript:alert(1)", None):
        with pytest.raises(ValueError):
            check_url(bad)


def test_the_secret_never_leaves_the_resource_api_and_only_the_administrator_sees_webhooks(
    services, server, receiver, monkeypatch
):
    from tests.standalone.conftest import add_host

    monkeypatch.setenv("MEETINGS_SECRET_KEY", new_key())
    admin = add_host(services, "Administrator", tz="UTC", name="Administrator")
    user = add_host(services, "host@team.example")
    made = server.resource("POST", WEBHOOK, admin, json={"url": receiver.url + "/hook", "secret": SECRET, "on_rescheduled": 0})
    assert made.status_code == 200, made.text
    doc = made.json()["data"]
    assert "secret" not in doc and doc["url"] == receiver.url + "/hook"
    assert doc["enabled"] == 1 and doc["on_booked"] == 1 and doc["on_rescheduled"] == 0
    assert services.secrets.get(WEBHOOK, doc["name"], "secret") == SECRET  # stored, encrypted
    responses = [
        server.resource("GET", f"{WEBHOOK}/{doc['name']}", admin),
        server.resource("GET", WEBHOOK, admin, params={"fields": '["*"]'}),
        server.resource("PUT", f"{WEBHOOK}/{doc['name']}", admin, json={"enabled": 1}),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert SECRET not in response.text and '"secret"' not in response.text
    assert server.resource("GET", WEBHOOK, admin, params={"fields": '["secret"]'}).status_code == 417
    assert server.resource("GET", WEBHOOK, user).status_code == 403
    assert server.resource("POST", WEBHOOK, user, json={"url": receiver.url}).status_code == 403
    bad = server.resource("POST", WEBHOOK, admin, json={"url": "ftp://example.com/hook"})
    assert bad.status_code == 417 and "url" in bad.text
