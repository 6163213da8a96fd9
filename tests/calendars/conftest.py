"""Fixtures for the provider adapters: a test CA, the Google and Microsoft emulators on
free 127.0.0.1 ports (fresh state per test), the standalone host's services on a fresh
SQLite file, and an in-memory Secrets port where the host has none yet."""

from __future__ import annotations

import os

from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from meetings_addon.hosts.standalone.auth import create_user
from meetings_addon.hosts.standalone.services import build_services
from tests.emulators.base import make_test_ca

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
HOST = "host@team.example"


class MemorySecrets:
    """ports.Secrets in a dict (the tests' stand-in for encrypted storage)."""

    def __init__(self):
        self.values: dict[tuple[str, str, str], str] = {}

    def get(self, doctype: str, name: str, field: str) -> Optional[str]:
        return self.values.get((doctype, name, field))

    def set(self, doctype: str, name: str, field: str, value: Optional[str]) -> None:
        if value is None:
            self.values.pop((doctype, name, field), None)
        else:
            self.values[(doctype, name, field)] = value


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def ca_bundle(test_ca, monkeypatch) -> str:
    ca, _, _ = test_ca
    monkeypatch.setenv("MEETINGS_CA_BUNDLE", str(ca))
    return str(ca)


@pytest.fixture
def services(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("MEETINGS_SITE_URL", raising=False)
    if not os.environ.get("MEETINGS_SECRET_KEY"):
        from cryptography.fernet import Fernet

        monkeypatch.setenv("MEETINGS_SECRET_KEY", Fernet.generate_key().decode())
    services = build_services(f"sqlite:///{tmp_path / 'meetings.sqlite'}", redis_url="")
    if services.secrets is None:
        services.secrets = MemorySecrets()
    yield services
    services.jobs.drain(10)
    services.store.engine.dispose()


@pytest.fixture
def google(test_ca, ca_bundle, monkeypatch):
    from tests.emulators.google import GoogleEmulator

    _, cert, key = test_ca
    emulator = GoogleEmulator(cert, key).start()
    monkeypatch.setenv("MEETINGS_GOOGLE_OAUTH_URL", emulator.url)
    monkeypatch.setenv("MEETINGS_GOOGLE_API_URL", emulator.url)
    monkeypatch.setenv("MEETINGS_GOOGLE_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("MEETINGS_GOOGLE_CLIENT_SECRET", emulator.client_secret)
    yield emulator
    emulator.stop()


@pytest.fixture
def zoom(test_ca, ca_bundle, monkeypatch):
    from tests.emulators.zoom import ZoomEmulator

    _, cert, key = test_ca
    emulator = ZoomEmulator(cert, key).start()
    monkeypatch.setenv("MEETINGS_ZOOM_OAUTH_URL", emulator.url)
    monkeypatch.setenv("MEETINGS_ZOOM_API_URL", emulator.api_url)
    monkeypatch.setenv("MEETINGS_ZOOM_ACCOUNT_ID", emulator.account_id)
    monkeypatch.setenv("MEETINGS_ZOOM_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("MEETINGS_ZOOM_CLIENT_SECRET", emulator.client_secret)
    yield emulator
    emulator.stop()


@pytest.fixture
def microsoft(test_ca, ca_bundle, monkeypatch):
    from tests.emulators.microsoft import MicrosoftEmulator

    _, cert, key = test_ca
    emulator = MicrosoftEmulator(cert, key).start()
    monkeypatch.setenv("MEETINGS_MS_AUTHORITY", emulator.authority)
    monkeypatch.setenv("MEETINGS_GRAPH_URL", emulator.graph_url)
    monkeypatch.setenv("MEETINGS_MS_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("MEETINGS_MS_CLIENT_SECRET", emulator.client_secret)
    yield emulator
    emulator.stop()


def consent(url: str, ca: str) -> dict[str, str]:
    """What a browser does on the provider's consent page: follow the URL, which the
    emulator approves at once, and return the query the provider redirects back with."""
    answer = requests.get(url, allow_redirects=False, verify=ca, timeout=10)
    assert answer.status_code == 302, answer.text
    return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))


def next_monday(today: Optional[date] = None) -> date:
    today = today or datetime.now(timezone.utc).date()
    return today + timedelta(days=7 - today.weekday())


def add_host(services, email: str = HOST, tz: str = "America/New_York") -> str:
    create_user(services, email, full_name="Hana Host", time_zone=tz)
    return email


def add_link(services, slug: str = "hana-30", host: str = HOST, **fields: Any) -> dict:
    doc = {
        "slug": slug, "title": "Intro call", "host": host, "owner": host, "published": 1, "durations": "30",
        "timezone": "America/New_York",
        "availability": [{"weekday": day, "start_time": "09:00", "end_time": "17:00"} for day in WEEKDAYS],
        "window_type": "Rolling", "rolling_weeks": 4,
    }
    doc.update(fields)
    return services.store.insert("Meeting Link", {"name": slug, **doc})


def visitor(**fields: Any) -> dict:
    data = {"first_name": "Vera", "last_name": "Visitor", "email": "vera@client.example", "timezone": "Europe/Paris"}
    data.update(fields)
    return data


class Kit:
    """Helpers for the test modules (they cannot import conftest)."""

    HOST = HOST
    consent = staticmethod(consent)
    next_monday = staticmethod(next_monday)
    add_host = staticmethod(add_host)
    add_link = staticmethod(add_link)
    visitor = staticmethod(visitor)


@pytest.fixture
def kit() -> Kit:
    return Kit()


class Server:
    """The standalone web app on a free port (the OAuth callback routes included)."""

    def __init__(self, services):
        import threading

        from werkzeug.serving import make_server

        from meetings_addon.hosts.standalone.web import make_app

        self.httpd = make_server("127.0.0.1", 0, make_app(services, guest_rate_limit=0), threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        services.site_url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def get(self, method: str, token: Optional[str] = None, **params: Any) -> requests.Response:
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.get(f"{self.url}/api/method/{method}", params=params, headers=headers, timeout=20)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(services):
    running = Server(services)
    yield running
    running.stop()
