"""Jobs on Frappe's RQ queue: sent after commit, deduplicated by id, retried with backoff."""

import json
import secrets
import time

import pytest

frappe = pytest.importorskip("frappe")

from frappe.utils.background_jobs import execute_job, get_job  # noqa: E402

from meetings_addon.hosts.frappe import jobs  # noqa: E402
from meetings_addon.hosts.frappe.services import FrappeJobs  # noqa: E402
from tests.frappe.conftest import next_day, visitor_email  # noqa: E402

SYNC = "meetings_addon.booking.jobs.sync_calendar_event"


@pytest.fixture
def job_id(site):
    ident = f"test:{secrets.token_hex(4)}"
    yield ident
    job = get_job(ident)
    if job is not None:
        job.delete()
    redis = jobs._redis()
    for member in redis.zrange(jobs._retries_key(), 0, -1):
        if json.loads(member).get("job_key") == ident:
            redis.zrem(jobs._retries_key(), member)
    redis.delete(jobs._retries_key(ident))
    frappe.db.rollback()
    frappe.db.delete("Error Log", {"method": ["like", "meetings_addon.booking.jobs.no_such_job failed%"]})
    frappe.db.commit()


def queued_kwargs(ident):
    job = get_job(ident)
    assert job is not None, f"no RQ job {ident}"
    assert job.kwargs["method"] == jobs.RUN and job.kwargs["site"] == frappe.local.site
    return job, job.kwargs["kwargs"]


def test_a_job_is_queued_only_after_commit_and_once(job_id):
    FrappeJobs().enqueue(SYNC, job_id=job_id, booking="b1")
    FrappeJobs().enqueue(SYNC, job_id=job_id, booking="b1")  # same transaction: once
    assert get_job(job_id) is None, "queued before the transaction committed"
    frappe.db.commit()
    job, kwargs = queued_kwargs(job_id)
    assert kwargs == {"job": SYNC, "kwargs": {"booking": "b1"}, "job_key": job_id, "attempt": 0}
    assert job.get_status() == "queued"
    enqueued_at = job.enqueued_at
    FrappeJobs().enqueue(SYNC, job_id=job_id, booking="b1")  # still queued: not again
    frappe.db.commit()
    assert get_job(job_id).enqueued_at == enqueued_at


def test_a_rolled_back_transaction_queues_nothing(job_id):
    FrappeJobs().enqueue(SYNC, job_id=job_id, booking="b1")
    frappe.db.rollback()
    frappe.db.commit()
    assert get_job(job_id) is None


def test_a_failing_job_waits_for_its_retry_then_is_queued_again(job_id):
    missing = "meetings_addon.booking.jobs.no_such_job"
    before = time.time()
    jobs.run(missing, {"x": 1}, job_key=job_id, attempt=0)  # raises inside: caught, retry scheduled
    redis = jobs._redis()
    waiting = [(json.loads(m), score) for m, score in redis.zrange(jobs._retries_key(), 0, -1, withscores=True)
               if json.loads(m).get("job_key") == job_id]
    assert len(waiting) == 1
    item, due = waiting[0]
    assert (item["job"], item["kwargs"], item["attempt"]) == (missing, {"x": 1}, 1)
    assert before + 1 <= due <= time.time() + 2  # first retry: 1-2 s (full jitter over 2 s)
    assert frappe.db.exists("Error Log", {"method": ["like", f"{missing} failed; retry 1%"]})

    FrappeJobs().enqueue(missing, job_id=job_id, x=2)  # a retry is waiting: it will read the latest state
    frappe.db.commit()
    assert get_job(job_id) is None

    time.sleep(max(0, due - time.time()) + 0.1)
    assert jobs.enqueue_due_retries() >= 1
    frappe.db.commit()
    _job, kwargs = queued_kwargs(job_id)
    assert kwargs["attempt"] == 1 and kwargs["kwargs"] == {"x": 1}
    assert not redis.exists(jobs._retries_key(job_id))


def test_the_last_attempt_raises(site):
    with pytest.raises(AttributeError):
        jobs.run("meetings_addon.booking.jobs.no_such_job", {}, job_key=None, attempt=len(jobs.RETRY_DELAYS))


def test_only_meetings_addon_jobs_run(site):
    with pytest.raises(ValueError):
        jobs.resolve("frappe.delete_doc")


def test_backoff_grows_and_honours_retry_after():
    assert 1 <= jobs.backoff(1) <= 2
    assert 900 <= jobs.backoff(5) <= 1800
    assert jobs.backoff(1, retry_after=120) == 120


def test_a_booking_queues_its_calendar_job_which_writes_the_local_calendar(http, link):
    """Through the web server: the booking commits, then its job is on the queue; the
    worker's code path (execute_job) writes the host's Local calendar, idempotently."""
    day = next_day(12)
    slots = http.method("get_slots", get={"link": link["slug"], "start": day.isoformat(), "end": day.isoformat(),
                                          "timezone": "Europe/Paris"}).json()["message"]["slots"]
    email = visitor_email("job")
    link["emails"].append(email)
    response = http.method("book", post={"link": link["slug"], "start": slots[0]["start"], "timezone": "Europe/Paris",
                                         "first_name": "Jo", "last_name": "Bee", "email": email})
    assert response.status_code == 200, response.text
    booking = response.json()["message"]["booking"]
    job, kwargs = queued_kwargs(f"calendar:{booking}")
    assert kwargs["job"] == SYNC and kwargs["kwargs"] == {"booking": booking}
    for _ in range(2):
        execute_job(frappe.local.site, jobs.RUN, None, jobs.RUN, kwargs, user="Guest", is_async=False)
    frappe.set_user("Administrator")
    events = frappe.get_all("Local Calendar Event", {"user": link["host"]}, ["name", "uid", "start", "status"])
    ical_uid, event_id = frappe.db.get_value("Booking", booking, ["ical_uid", "provider_event_id"])
    mine = [e for e in events if e.uid == ical_uid]
    assert len(mine) == 1 and mine[0].name == event_id and mine[0].status == "Confirmed"
    job.delete()
