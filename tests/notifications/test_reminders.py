"""Reminder emails (notifications/reminders.py): due at start - offset, sent once each by
the poll job, moved by a reschedule, dropped by a cancel, in the invitee's language and
zone, naming the assigned host. The clock is moved by hand; the meetings are next
Monday + 7 days, so every default reminder falls after the booking is made."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.errors import InvalidInput
from meetings_addon.hosts.standalone import web_resource
from meetings_addon.notifications import reminders
from meetings_addon.notifications.reminders import preview_reminder, queue_due_reminders, send_reminder

from .conftest import GUEST, HOST, token_of


class MovingClock:
    def __init__(self, now: datetime):
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def at(self, moment: datetime) -> None:
        self.moment = moment.astimezone(timezone.utc)


@pytest.fixture
def clock(services) -> MovingClock:
    services.clock = MovingClock(datetime.now(timezone.utc))
    return services.clock


def reminders_to(scene, address: str = GUEST):
    return [e for e in scene.sent_to(address) if e.subject.startswith(("Reminder:", "Rappel :"))]


def all_reminders(scene) -> list:
    return [e for e in scene.sent() if e.subject.startswith(("Reminder:", "Rappel :", "Lembrete:"))]


def run(scene) -> int:
    """A poll, then its jobs: how many reminder emails went out."""
    before = len(all_reminders(scene))
    queue_due_reminders(scene.services)
    scene.drain()
    return len(all_reminders(scene)) - before


def booked(scene, start, **link_fields):
    scene.host()
    scene.link(**link_fields)
    answer = scene.book(start)
    return answer, scene.services.store.get("Booking", answer["booking"])


def test_defaults_three_days_and_one_hour_each_sent_once_at_the_right_time(scene, clock):
    start = scene.at(10, days=7)
    booked(scene, start)

    clock.at(start - timedelta(days=3, minutes=1))
    assert run(scene) == 0
    clock.at(start - timedelta(days=3))
    assert run(scene) == 1
    assert run(scene) == 0  # the job again: nothing twice
    clock.at(start - timedelta(days=2))
    assert run(scene) == 0
    clock.at(start - timedelta(minutes=61))
    assert run(scene) == 0
    clock.at(start - timedelta(minutes=60))
    assert run(scene) == 1
    clock.at(start - timedelta(minutes=1))
    assert run(scene) == 0
    clock.at(start + timedelta(minutes=1))  # started: nothing more
    assert run(scene) == 0

    sent = reminders_to(scene)
    assert len(sent) == 2
    assert all("Intro call" in e.subject for e in sent)
    assert "in 3 days" in sent[0].html and "in 1 hour" in sent[1].html
    assert reminders_to(scene, HOST) == []
    # No manage link (only its hash is stored): the email says where to find it.
    assert "confirmation email" in sent[0].html
    assert "/meetings/hana-30" in sent[0].html


def test_custom_offsets_replace_the_defaults(scene, clock):
    start = scene.at(10, days=7)
    booked(scene, start, reminders=[{"minutes_before": 1440}, {"minutes_before": 15}])

    clock.at(start - timedelta(days=3))
    assert run(scene) == 0  # the 3-day default is not used
    clock.at(start - timedelta(days=1))
    assert run(scene) == 1
    clock.at(start - timedelta(minutes=60))
    assert run(scene) == 0
    clock.at(start - timedelta(minutes=15))
    assert run(scene) == 1
    assert run(scene) == 0
    assert len(reminders_to(scene)) == 2


def test_reminders_off_sends_none(scene, clock):
    start = scene.at(10, days=7)
    booked(scene, start, reminders_enabled=0)
    for moment in (start - timedelta(days=3), start - timedelta(hours=1)):
        clock.at(moment)
        assert run(scene) == 0


def test_a_fourth_reminder_is_refused_naming_reminders(services):
    rows = [{"minutes_before": m} for m in (10, 20, 30, 40)]
    with pytest.raises(InvalidInput) as error:
        reminders.validate_reminders({"reminders": rows})
    assert error.value.field == "reminders"
    reminders.validate_reminders({"reminders": rows[:3]})

    doc = {"slug": "four", "host": HOST, "timezone": "UTC", "durations": "30", "reminders": rows}
    with pytest.raises(InvalidInput) as error:
        web_resource._check_link(services, doc, None)
    assert error.value.field == "reminders"


def test_the_frappe_controller_refuses_a_fourth_reminder_too():
    from pathlib import Path

    import meetings_addon

    source = (Path(meetings_addon.__file__).parent / "meetings_addon/doctype/meeting_link/meeting_link.py").read_text()
    assert "MAX_REMINDERS = 3" in source and 'self.throw_on("reminders"' in source


def test_reschedule_moves_the_reminders(scene, clock):
    start = scene.at(10, days=7)
    answer, _ = booked(scene, start)
    later = start + timedelta(days=1, hours=2)
    scene.reschedule(token_of(answer), later)

    clock.at(start - timedelta(days=3))
    assert run(scene) == 0  # the old time's reminder: not sent
    clock.at(later - timedelta(days=3))
    assert run(scene) == 1
    clock.at(start - timedelta(hours=1))
    assert run(scene) == 0  # the old time's hour: nothing
    clock.at(later - timedelta(hours=1))
    assert run(scene) == 1
    sent = reminders_to(scene)
    assert len(sent) == 2
    assert all(f"/meetings/hana-30" in e.html for e in sent)


def test_cancel_drops_the_reminders(scene, clock):
    start = scene.at(10, days=7)
    answer, _ = booked(scene, start)
    scene.cancel(token_of(answer))
    for moment in (start - timedelta(days=3), start - timedelta(hours=1)):
        clock.at(moment)
        assert run(scene) == 0
    assert reminders_to(scene) == []


def test_two_runs_at_once_and_a_late_poll_send_each_reminder_once(scene, clock):
    start = scene.at(10, days=7)
    answer, _ = booked(scene, start)
    clock.at(start - timedelta(minutes=30))  # the poll was down: both are due, the nearer goes
    queued = []

    class Recorder:  # the queue, seen from outside: what two polls in a row ask for
        def enqueue(self, method, *, job_id=None, **kwargs):
            queued.append((method, job_id, kwargs))

    runner, scene.services.jobs = scene.services.jobs, Recorder()
    assert queue_due_reminders(scene.services) == 1
    assert queue_due_reminders(scene.services) == 1  # not sent yet: asked again...
    assert queued[0] == queued[1]  # ...under the same job id: one job in a real queue
    scene.services.jobs = runner
    # Both runs anyway (two workers): the sent-log lets one send it.
    assert [send_reminder(scene.services, **kwargs) for _, _, kwargs in queued] == [True, False]
    assert queue_due_reminders(scene.services) == 0  # sent: the poll leaves it alone now
    clock.at(start - timedelta(minutes=10))
    assert queue_due_reminders(scene.services) == 0
    assert run(scene) == 0
    again = [send_reminder(scene.services, answer["booking"], 60, start.astimezone(timezone.utc).isoformat())
             for _ in range(2)]
    assert again == [False, False]
    sent = reminders_to(scene)
    assert len(sent) == 1 and "in 1 hour" in sent[0].html
    rows = scene.services.store.list("Meetings Email Log", {"kind": "invitee:reminder"}, fields=("key", "sent_on"))
    assert len(rows) == 1 and rows[0]["sent_on"]


def test_a_booking_made_after_the_three_day_mark_gets_only_the_hour_reminder(scene, clock):
    start = scene.at(10, days=7)
    booked(scene, start)
    row = scene.services.store.list("Booking", None, fields=("name",))[0]
    store = scene.services.store  # booked two days ahead (the store stamps creation itself)
    table = store._table("Booking")
    with store.engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.name == row["name"]).values(
                creation=(start - timedelta(days=2)).astimezone(timezone.utc).replace(tzinfo=None)
            )
        )
    clock.at(start - timedelta(days=1))
    assert run(scene) == 0
    clock.at(start - timedelta(hours=1))
    assert run(scene) == 1


def test_a_french_link_sends_a_french_reminder_in_the_invitee_zone(scene, clock):
    start = scene.at(10, days=7)  # 10:00 New York = 16:00 Paris
    booked(scene, start, language="fr", invitation_description="Ordre du jour : démo", reminder_include_description=1)
    clock.at(start - timedelta(hours=1))
    assert run(scene) == 1
    (email,) = reminders_to(scene)
    assert email.subject.startswith("Rappel : ")
    assert "dans 1 heure" in email.html
    assert "16:00" in email.html and "Paris" in email.html
    assert "Ordre du jour" in email.html
    assert 'lang="fr"' in email.html


def test_the_description_is_left_out_unless_asked(scene, clock):
    start = scene.at(10, days=7)
    booked(scene, start, invitation_description="Secret agenda")
    clock.at(start - timedelta(hours=1))
    assert run(scene) == 1
    assert "Secret agenda" not in reminders_to(scene)[0].html


def test_round_robin_names_the_assigned_host_not_the_creator(scene, clock):
    scene.host("owner@team.example", name="Olga Owner")
    scene.host("rep@team.example", name="Rita Rep")
    scene.link("team", host="owner@team.example", meeting_type="Round Robin", hosts=[{"user": "rep@team.example"}])
    start = scene.at(10, days=7)
    answer = scene.book(start, slug="team")
    assert scene.services.store.get("Booking", answer["booking"])["host"] == "rep@team.example"
    clock.at(start - timedelta(hours=1))
    assert run(scene) == 1
    (email,) = reminders_to(scene)
    assert "Rita Rep" in email.html
    assert "Olga Owner" not in email.html


def test_preview_in_the_links_language_or_another(scene, clock):
    scene.host()
    scene.link(language="fr")
    subject, html = preview_reminder(scene.services, "hana-30", None)
    assert subject.startswith("Rappel : ") and "Hana Host" in html
    subject, html = preview_reminder(scene.services, "hana-30", "pt")
    assert subject.startswith("Lembrete: ")


def test_a_reminder_is_a_job_retried_until_the_mail_server_answers(scene, clock):
    """The poll only queues; the job is retried by the runner (RQ or in-process) while the
    mail server is down, and the reminder still goes out once."""
    from tests.notifications.test_jobs import FlakyMailer, quick_retries

    start = scene.at(10, days=7)
    booked(scene, start)
    scene.drain()
    quick_retries(scene.services)
    flaky = FlakyMailer(scene.services.mailer, failures=2)
    scene.services.mailer = flaky
    clock.at(start - timedelta(minutes=60))
    assert queue_due_reminders(scene.services) == 1  # queued, not sent by the poll
    scene.drain()
    assert flaky.calls == 3  # two failures, then sent
    assert len(reminders_to(scene)) == 1
    assert run(scene) == 0


def test_a_reminder_whose_retries_outlast_its_time_is_dropped_not_sent_late(scene, clock):
    """The mail server is down until the meeting has started: no "in 1 hour" reminder
    arrives during or after it; a 3-day reminder still failing at the 1-hour mark gives
    way to the 1-hour one."""
    start = scene.at(10, days=7)
    answer, _ = booked(scene, start)
    iso = start.astimezone(timezone.utc).isoformat()
    clock.at(start - timedelta(days=3))
    assert queue_due_reminders(scene.services) == 1
    clock.at(start - timedelta(minutes=59))  # its retry runs once the hour reminder is due
    assert send_reminder(scene.services, answer["booking"], 3 * 24 * 60, iso) is False
    assert send_reminder(scene.services, answer["booking"], 60, iso) is True
    # Even with its sent-log row gone, a retry after the start sends nothing.
    store = scene.services.store
    [row] = store.list("Meetings Email Log", {"kind": "invitee:reminder"}, fields=("name",))
    store.delete("Meetings Email Log", row["name"])
    clock.at(start + timedelta(minutes=5))
    assert send_reminder(scene.services, answer["booking"], 60, iso) is False
    assert len(reminders_to(scene)) == 1 and "in 1 hour" in reminders_to(scene)[0].html
