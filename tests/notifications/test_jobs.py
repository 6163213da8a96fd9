"""Sending is a job after the commit: retried on failure, never undoing the booking, and
never sending one email twice (the Meetings Email Log sent-log)."""

from __future__ import annotations

import threading
import time

import pytest

from meetings_addon.hosts.standalone.jobs import InProcessJobs
from meetings_addon.notifications import jobs

from .conftest import GUEST, HOST, token_of

LOG = "Meetings Email Log"


class FlakyMailer:
    """Fails the first `failures` sends (a mail server that is down), then passes them on."""

    def __init__(self, inner, failures: int = 0, delay: float = 0):
        self.inner = inner
        self.failures = failures
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()

    def send(self, recipients, subject, html, **kwargs):
        with self.lock:
            self.calls += 1
            fail = self.calls <= self.failures
        if self.delay:
            time.sleep(self.delay)
        if fail:
            raise ConnectionRefusedError("mail server down")
        self.inner.send(recipients, subject, html, **kwargs)


def quick_retries(services) -> None:
    """The in-process runner with retries after 50 ms instead of seconds."""
    runner = InProcessJobs(lambda: services, retry_delays=(0.05, 0.05, 0.05))
    runner.store = services.store
    services.jobs = runner


def log_rows(services, booking=None) -> list[dict]:
    filters = {"booking": booking} if booking else None
    return services.store.list(LOG, filters, fields=("name", "key", "booking", "recipient", "kind", "sent_on"))


def test_a_mailer_that_fails_twice_then_succeeds_sends_each_email_once(scene):
    scene.host()
    scene.link()
    quick_retries(scene.services)
    flaky = FlakyMailer(scene.services.mailer, failures=2)
    scene.services.mailer = flaky

    answer = scene.book(scene.at(10))  # drains, and checks no job failed for good

    assert [e.to for e in scene.sent()].count(GUEST) == 1
    assert [e.to for e in scene.sent()].count(HOST) == 1
    assert flaky.calls == 4  # invitee: 2 failures + 1; host: 1
    booking = scene.services.store.get("Booking", answer["booking"])
    assert booking["status"] == "Confirmed"  # the failures never touched the booking
    rows = log_rows(scene.services, answer["booking"])
    assert sorted((r["recipient"], r["kind"]) for r in rows) == sorted([(GUEST, "invitee:booked"), (HOST, "host:booked")])
    assert all(r["sent_on"] for r in rows)


def test_a_failure_halfway_resends_only_what_was_not_sent(scene):
    scene.host()
    scene.link()
    quick_retries(scene.services)

    class HostDown(FlakyMailer):
        def send(self, recipients, subject, html, **kwargs):
            self.calls += 1
            if recipients == [HOST] and self.calls < 4:
                raise TimeoutError("host's mail server timed out")
            self.inner.send(recipients, subject, html, **kwargs)

    scene.services.mailer = HostDown(scene.services.mailer)
    scene.book(scene.at(10))
    assert sorted(e.to for e in scene.sent()) == sorted([GUEST, HOST])


def test_the_same_job_twice_sends_one_email(scene):
    scene.host()
    scene.link()
    answer = scene.book(scene.at(10))
    assert len(scene.sent()) == 2
    kwargs = {"booking": answer["booking"], "change": "booked", "manage_url": answer["manage_url"], "sequence": 0}
    assert jobs.send_booking_emails(scene.services, **kwargs) == 0
    assert jobs.send_booking_emails(scene.services, **kwargs) == 0
    assert len(scene.sent()) == 2
    assert len(log_rows(scene.services)) == 2


def test_two_runs_at_the_same_moment_send_one_email(scene):
    scene.host()
    scene.link()
    scene.services.mailer = None  # book without emails: the two runs below send them
    answer = scene.book(scene.at(10))
    from meetings_addon.hosts.standalone.mailer import build_mailer

    scene.services.mailer = FlakyMailer(build_mailer(), delay=0.3)  # a slow server: the runs overlap
    outcomes: list = []

    def run():
        try:
            outcomes.append(jobs.send_booking_emails(scene.services, answer["booking"], "booked", answer["manage_url"], 0))
        except jobs.EmailInFlight as error:
            outcomes.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(e.to for e in scene.sent()) == sorted([GUEST, HOST])
    # The loser either found the emails sent, or was told to retry later (and would find them sent).
    assert sum(o for o in outcomes if isinstance(o, int)) == 2
    assert jobs.send_booking_emails(scene.services, answer["booking"], "booked", answer["manage_url"], 0) == 0


def test_a_failed_send_releases_its_claim_for_the_retry(scene):
    scene.host()
    scene.link()
    real = scene.services.mailer
    scene.services.mailer = None
    answer = scene.book(scene.at(10))

    scene.services.mailer = FlakyMailer(real, failures=1)
    with pytest.raises(ConnectionRefusedError):
        jobs.send_booking_emails(scene.services, answer["booking"], "booked", answer["manage_url"], 0)
    assert log_rows(scene.services) == []  # nothing claimed stays behind
    assert jobs.send_booking_emails(scene.services, answer["booking"], "booked", answer["manage_url"], 0) == 2
    assert sorted(e.to for e in scene.sent()) == sorted([GUEST, HOST])


def test_jobs_are_queued_after_commit_with_the_manage_url(scene):
    """What booking.service asks for: one email job per change, keyed by booking, change
    and sequence, carrying the manage URL (the raw token exists only then)."""
    scene.host()
    scene.link()
    queued = []
    real = scene.services.jobs

    class Recorder:
        def enqueue(self, method, *, job_id=None, **kwargs):
            queued.append((method, job_id, kwargs))
            real.enqueue(method, job_id=job_id, **kwargs)

        def drain(self, timeout):
            real.drain(timeout)

        @property
        def failures(self):
            return real.failures

    scene.services.jobs = Recorder()
    answer = scene.book(scene.at(10))
    token = token_of(answer)
    moved = scene.reschedule(token, scene.at(12))
    scene.cancel(token)
    scene.services.jobs = real
    emails = [(job_id, kwargs) for method, job_id, kwargs in queued if method == "meetings_addon.notifications.jobs.send_booking_emails"]
    assert [kwargs["change"] for _, kwargs in emails] == ["booked", "rescheduled", "cancelled"]
    assert [kwargs["sequence"] for _, kwargs in emails] == [0, 1, 2]
    assert emails[0][0] == f"emails:{answer['booking']}:booked:0"
    assert emails[1][1]["booking"] == moved["booking"] and emails[1][1]["manage_url"] == answer["manage_url"]
    assert emails[2][1]["manage_url"] is None
