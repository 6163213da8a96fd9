"""Fixtures for the notification tests: the standalone host on a fresh SQLite file with
its outbox in the test's own folder, a real HTTP server, a host in New York with a link,
and readers for the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from meetings_addon.booking import service
from meetings_addon.hosts.standalone.mailer import attachments_of, outbox_files, read_message
from meetings_addon.hosts.standalone.services import build_services
from tests.standalone.conftest import Server, add_host, add_link, next_monday, visitor

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
HOST = "host@team.example"
GUEST = "vera@client.example"


@pytest.fixture
def outbox(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setenv("MEETINGS_OUTBOX", str(folder))
    monkeypatch.delenv("MEETINGS_SMTP_URL", raising=False)
    monkeypatch.delenv("MEETINGS_MAIL_FROM", raising=False)
    return folder


@pytest.fixture
def services(tmp_path, outbox, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("MEETINGS_SITE_URL", raising=False)
    monkeypatch.delenv("MEETINGS_GUEST_RATE_LIMIT", raising=False)
    services = build_services(f"sqlite:///{tmp_path / 'meetings.sqlite'}", redis_url="")
    yield services
    services.jobs.drain(10)
    services.store.engine.dispose()


@pytest.fixture
def server(services):
    server = Server(services, 0)
    yield server
    server.stop()


@dataclass
class Sent:
    """One email of the outbox."""

    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def attachments(self) -> list[tuple[str, str, bytes]]:
        return attachments_of(self.message)

    def invitation(self) -> Optional[Calendar]:
        found = [content for name, kind, content in self.attachments if name == "invite.ics"]
        return Calendar.from_ical(found[0]) if found else None


def sent(folder: Path) -> list[Sent]:
    return [Sent(read_message(path)) for path in outbox_files(folder)]


def sent_to(folder: Path, address: str) -> list[Sent]:
    return [email for email in sent(folder) if email.to == address]


class Scene:
    """A host (America/New_York) with a link, and a visitor (Europe/Paris) who books."""

    def __init__(self, services, outbox: Path):
        self.services = services
        self.outbox = outbox

    def host(self, email: str = HOST, tz: str = "America/New_York", name: str = "Hana Host") -> str:
        return add_host(self.services, email, tz, name)

    def link(self, slug: str = "hana-30", host: str = HOST, **fields: Any) -> dict:
        return add_link(self.services, slug, host, **fields)

    @staticmethod
    def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
        """Next Monday (+ days) at hour:minute in New York: inside the link's hours."""
        return datetime.combine(next_monday() + timedelta(days=days), time(hour, minute), NEW_YORK)

    def book(self, start: datetime, slug: str = "hana-30", **fields: Any) -> dict:
        answer = service.book(self.services, {"link": slug, "start": start.isoformat(), "duration": 30, **visitor(**fields)})
        self.drain()
        return answer

    def reschedule(self, token: str, start: datetime) -> dict:
        answer = service.reschedule(self.services, {"token": token, "start": start.isoformat()})
        self.drain()
        return answer

    def cancel(self, token: str, reason: str = "") -> dict:
        answer = service.cancel(self.services, {"token": token, "reason": reason})
        self.drain()
        return answer

    def drain(self) -> None:
        self.services.jobs.drain(20)
        assert not self.services.jobs.failures, self.services.jobs.failures

    def sent(self) -> list[Sent]:
        return sent(self.outbox)

    def sent_to(self, address: str) -> list[Sent]:
        return sent_to(self.outbox, address)


@pytest.fixture
def scene(services, outbox) -> Scene:
    return Scene(services, outbox)


def token_of(answer: dict) -> str:
    return answer["manage_url"].rsplit("/", 1)[1]
