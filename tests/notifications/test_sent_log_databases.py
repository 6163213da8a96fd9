"""The sent-log's exactly-once on every supported database: concurrent runs of one email
send it once (the unique key decides), and a failed send leaves no claim behind.

Like tests/db: SQLite always; MariaDB and PostgreSQL on 127.0.0.1 (a server that cannot be
reached is an error; MEETINGS_SKIP_DBS=mariadb,postgresql opts out)."""

from __future__ import annotations

import threading
import time

import pytest

from meetings_addon.hosts.standalone.services import build_services
from meetings_addon.notifications import jobs
from meetings_addon.notifications.emails import Email, sent_key
from tests.db.support import BACKENDS, Unreachable, fresh_database, skipped_backends


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(request, tmp_path_factory):
    if request.param in skipped_backends():
        pytest.skip(f"{request.param} opted out by MEETINGS_SKIP_DBS")
    unreachable = None
    try:
        with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
            yield url
    except Unreachable as error:
        unreachable = str(error)
    if unreachable:
        pytest.fail(unreachable, pytrace=False)


@pytest.fixture
def services(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("MEETINGS_OUTBOX", str(tmp_path / "outbox"))
    services = build_services(db_url, redis_url="")
    yield services
    services.jobs.drain(10)
    services.store.engine.dispose()


class CountingMailer:
    def __init__(self, delay: float = 0, fail: bool = False):
        self.delay, self.fail = delay, fail
        self.sent: list = []

    def send(self, recipients, subject, html, **kwargs):
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("mail server down")
        self.sent.append((tuple(recipients), subject))


def an_email(booking: str) -> Email:
    return Email(key=sent_key(booking, "booked", 0, "invitee", "vera@client.example"), kind="invitee:booked",
                 recipient="vera@client.example", subject="Confirmed", html="<p>hi</p>", reference=("Booking", booking))


def test_concurrent_runs_send_one_email(services, db_url):
    services.mailer = CountingMailer(delay=0.3)
    email = an_email(f"b-{db_url[:5]}-1")
    outcomes: list = []

    def run():
        try:
            outcomes.append(jobs.send_once(services, email))
        except jobs.EmailInFlight:
            outcomes.append("in flight")

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(services.mailer.sent) == 1
    assert outcomes.count(True) == 1 and len(outcomes) == 4
    assert jobs.send_once(services, email) is False  # a retry later finds it sent
    rows = services.store.list(jobs.LOG, {"key": email.key}, fields=("name", "sent_on"))
    assert len(rows) == 1 and rows[0]["sent_on"] is not None


def test_a_failed_send_leaves_no_claim(services, db_url):
    email = an_email(f"b-{db_url[:5]}-2")
    services.mailer = CountingMailer(fail=True)
    with pytest.raises(ConnectionError):
        jobs.send_once(services, email)
    assert services.store.list(jobs.LOG, {"key": email.key}) == []
    services.mailer = CountingMailer()
    assert jobs.send_once(services, email) is True
    assert len(services.mailer.sent) == 1
