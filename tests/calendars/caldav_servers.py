"""Real CalDAV servers for the tests: Radicale (htpasswd auth) and Xandikos (no auth),
each started as its own process on a free 127.0.0.1 port over a temporary folder, and the
standalone host's services beside them. Imported by the CalDAV test modules (a helper,
not a conftest, so the fixtures of tests/calendars/conftest.py stay as they are)."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

from meetings_addon.hosts.standalone.auth import create_user
from meetings_addon.hosts.standalone.secrets import new_key
from meetings_addon.hosts.standalone.services import build_services

UTC = timezone.utc
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
USERS = {"alice": "alice-app-password", "bob": "bob-app-password"}
_counter = itertools.count(1)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the CalDAV server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the CalDAV server did not listen on {port}: {log.read_text()[-2000:]}")


@dataclass
class CalDAVServer:
    kind: str
    folder: Path
    port: int = 0
    process: Optional[subprocess.Popen] = None
    users: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "CalDAVServer":
        """Start (or start again, on the same port and data: a server back after an outage)."""
        self.port = self.port or free_port()
        log = self.folder / f"{self.kind}.log"
        if self.kind == "radicale":
            htpasswd = self.folder / "users"
            htpasswd.write_text("".join(f"{user}:{password}\n" for user, password in self.users.items()))
            command = [
                sys.executable, "-m", "radicale", "--server-hosts", f"127.0.0.1:{self.port}",
                "--storage-filesystem-folder", str(self.folder / "collections"),
                "--auth-type", "htpasswd", "--auth-htpasswd-filename", str(htpasswd),
                "--auth-htpasswd-encryption", "plain", "--logging-level", "warning",
                "--auth-delay", "0",
            ]
        else:
            command = [
                sys.executable, "-m", "xandikos.web", "-d", str(self.folder / "data"), "--defaults",
                "-l", "127.0.0.1", "-p", str(self.port), "--state-dir", str(self.folder / "state"),
            ]
        self.process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
        _wait(self.port, self.process, log)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    # --- data, written with the caldav library as any client would ---

    def client(self, user: str = "alice"):
        import caldav

        return caldav.DAVClient(self.url, username=user, password=self.users.get(user, ""), enable_rfc6764=False)

    def principal_path(self, user: str = "alice") -> str:
        return f"/{user}/" if self.kind == "radicale" else "/user/calendars/"

    def make_calendar(self, name: str, user: str = "alice", *, tasks_only: bool = False) -> str:
        """A new calendar; returns its id (URL path) as the adapter lists it."""
        cal_id = f"{name.lower().replace(' ', '-')}-{next(_counter)}-{uuid.uuid4().hex[:6]}"
        principal = self.client(user).principal()
        calendar = principal.make_calendar(name=name, cal_id=cal_id,
                                           supported_calendar_component_set=["VTODO"] if tasks_only else None)
        return str(calendar.url.path)

    def put_event(self, calendar_id: str, ics: str, user: str = "alice") -> None:
        client = self.client(user)
        uid = next(line.split(":", 1)[1].strip() for line in ics.splitlines() if line.startswith("UID:"))
        response = client.put(f"{self.url.rstrip('/')}{calendar_id}{uid}.ics", ics, {"Content-Type": "text/calendar"})
        assert response.status in (200, 201, 204), response.status

    def delete_calendar(self, calendar_id: str, user: str = "alice") -> None:
        response = self.client(user).delete(f"{self.url.rstrip('/')}{calendar_id}")
        assert response.status in (200, 204), response.status

    def events(self, calendar_id: str, user: str = "alice") -> list[str]:
        """The iCalendar texts stored in the calendar."""
        calendar = self.client(user).calendar(url=f"{self.url.rstrip('/')}{calendar_id}")
        return [event.data for event in calendar.get_events()]


def start_server(kind: str, folder: Path) -> CalDAVServer:
    pytest.importorskip("caldav")
    pytest.importorskip("radicale" if kind == "radicale" else "xandikos")
    folder.mkdir(parents=True, exist_ok=True)
    return CalDAVServer(kind, folder, users=dict(USERS) if kind == "radicale" else {}).start()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory):
    server = start_server("radicale", tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture
def own_radicale(tmp_path):
    """A Radicale of this test only (it may be stopped and started again)."""
    server = start_server("radicale", tmp_path / "radicale")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def xandikos(tmp_path_factory):
    server = start_server("xandikos", tmp_path_factory.mktemp("xandikos"))
    yield server
    server.stop()


# --- the standalone host ---------------------------------------------------------------------


class RecordingMailer:
    """ports.Mailer that keeps what it was given."""

    def __init__(self):
        self.sent: list[dict[str, Any]] = []

    def send(self, recipients, subject, html, *, attachments=(), reference=None) -> None:
        self.sent.append({"to": list(recipients), "subject": subject, "html": html, "reference": reference})

    def about(self, word: str) -> list[dict[str, Any]]:
        return [mail for mail in self.sent if word.lower() in mail["subject"].lower()]


@pytest.fixture
def secret_key(monkeypatch) -> str:
    key = new_key()
    monkeypatch.setenv("MEETINGS_SECRET_KEY", key)
    return key


@pytest.fixture
def site(tmp_path, monkeypatch, secret_key):
    """The standalone host's services on a fresh SQLite file, a recording mailer, fast
    job retries."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    services = build_services(f"sqlite:///{tmp_path / 'meetings.sqlite'}", redis_url="")
    services.mailer = RecordingMailer()
    services.jobs.retry_delays = (0.05, 0.1, 0.1, 0.2, 0.2)
    yield services
    services.jobs.drain(20)
    services.store.engine.dispose()


def add_user(services, email: str, tz: str = "Europe/Paris", name: str = "Hana Host") -> str:
    create_user(services, email, full_name=name, time_zone=tz)
    return email


def next_monday(today: Optional[date] = None) -> date:
    today = today or datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday())


def add_link(services, slug: str, host: str, **fields: Any) -> dict:
    doc = {
        "name": slug, "slug": slug, "title": "Intro call", "host": host, "owner": host, "published": 1,
        "durations": "30", "timezone": "Europe/Paris",
        "availability": [{"weekday": day, "start_time": "09:00", "end_time": "17:00"} for day in WEEKDAYS],
        "window_type": "Rolling", "rolling_weeks": 4,
    }
    doc.update(fields)
    return services.store.insert("Meeting Link", doc)


def visitor(**fields: Any) -> dict:
    data = {"first_name": "Vera", "last_name": "Visitor", "email": "vera@client.example", "timezone": "Europe/Paris"}
    data.update(fields)
    return data


def ics_event(uid: str, start: datetime, end: datetime, *, extra: str = "", all_day: Optional[date] = None) -> str:
    if all_day is not None:
        times = f"DTSTART;VALUE=DATE:{all_day:%Y%m%d}\r\nDTEND;VALUE=DATE:{all_day + timedelta(days=1):%Y%m%d}\r\n"
    else:
        times = f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\nDTEND:{end.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
    body = f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{times}SUMMARY:{uid}\r\n"
    if extra:
        body += extra.replace("\n", "\r\n").rstrip("\r\n") + "\r\n"
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
