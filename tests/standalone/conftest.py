"""Fixtures for the standalone host: a fresh SQLite file per test, and the real WSGI app
served over real HTTP on 127.0.0.1 (a free port, a thread), talked to with `requests`."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Optional

import pytest
import requests
from werkzeug.serving import make_server

from meetings_addon.hosts.standalone.auth import create_user, issue_api_key
from meetings_addon.hosts.standalone.services import build_services
from meetings_addon.hosts.standalone.web import make_app

API = "/api/method/meetings_addon.api.booking."
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'meetings.sqlite'}"


@pytest.fixture
def services(db_url, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("MEETINGS_SITE_URL", raising=False)
    monkeypatch.delenv("MEETINGS_GUEST_RATE_LIMIT", raising=False)
    services = build_services(db_url, redis_url="")
    yield services
    services.jobs.drain(10)
    services.store.engine.dispose()


class Server:
    def __init__(self, services, guest_rate_limit: int):
        self.services = services
        self.app = make_app(services, guest_rate_limit=guest_rate_limit)
        self.httpd = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        services.site_url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.http = requests.Session()

    # Booking API (guest)
    def method(self, fn: str, *, get: Optional[dict] = None, post: Any = None, **kwargs) -> requests.Response:
        if post is not None:
            return self.http.post(self.url + API + fn, json=post, timeout=10, **kwargs)
        return self.http.get(self.url + API + fn, params=get, timeout=10, **kwargs)

    # Resource API (token)
    def resource(self, verb: str, path: str, token: Optional[str] = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"token {token}"
        return self.http.request(verb, self.url + "/api/resource/" + path, headers=headers, timeout=10, **kwargs)

    def stop(self) -> None:
        self.http.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def start_server(services) -> Callable[..., Server]:
    servers: list[Server] = []

    def start(guest_rate_limit: int = 0) -> Server:
        server = Server(services, guest_rate_limit)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server) -> Server:
    return start_server()


class Helpers:
    """Builders shared by the tests (a fixture, since test modules cannot import conftest)."""

    API = API
    WEEKDAYS = WEEKDAYS

    def __init__(self, services):
        self.services = services

    @staticmethod
    def next_monday(today: Optional[date] = None) -> date:
        return next_monday(today)

    def add_host(self, email: str = "host@team.example", tz: str = "America/New_York", name: str = "Hana Host") -> str:
        return add_host(self.services, email, tz, name)

    def add_link(self, slug: str = "hana-30", host: str = "host@team.example", **fields: Any) -> dict:
        return add_link(self.services, slug, host, **fields)

    @staticmethod
    def visitor(**fields: Any) -> dict:
        return visitor(**fields)


@pytest.fixture
def h(services) -> Helpers:
    return Helpers(services)


def next_monday(today: Optional[date] = None) -> date:
    """The Monday of next week: at least one day ahead, inside a 4-week rolling window."""
    today = today or datetime.now(timezone.utc).date()
    return today + timedelta(days=7 - today.weekday())


def add_host(services, email: str = "host@team.example", tz: str = "America/New_York", name: str = "Hana Host") -> str:
    """A user with an API key; returns "key:secret"."""
    create_user(services, email, full_name=name, time_zone=tz)
    key, secret = issue_api_key(services, email)
    return f"{key}:{secret}"


def add_link(services, slug: str = "hana-30", host: str = "host@team.example", **fields: Any) -> dict:
    doc = {
        "slug": slug,
        "title": "Intro call",
        "host": host,
        "owner": host,
        "published": 1,
        "durations": "30",
        "timezone": "America/New_York",
        "availability": [{"weekday": day, "start_time": "09:00", "end_time": "17:00"} for day in WEEKDAYS],
        "window_type": "Rolling",
        "rolling_weeks": 4,
    }
    doc.update(fields)
    return services.store.insert("Meeting Link", {"name": slug, **doc})


def visitor(**fields: Any) -> dict:
    data = {"first_name": "Vera", "last_name": "Visitor", "email": "vera@client.example", "timezone": "Europe/Paris"}
    data.update(fields)
    return data
