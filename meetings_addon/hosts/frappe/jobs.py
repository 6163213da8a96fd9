"""Jobs on Frappe's background workers (RQ), with retries and exponential backoff.

A job is queued with frappe.enqueue after the current transaction commits
(enqueue_after_commit): a job never sees a booking that was rolled back, and nothing a
visitor submitted waits for a calendar or mail server.

- Deduplication by job_id (the Jobs port): a job with that id that is still queued (or
  waiting for a retry) is not queued again: when it runs, it reads the latest state.
  A job that is already running may have read the old state, so a new one is queued
  beside it under a fresh id. (frappe.enqueue(deduplicate=True) alone would drop it.)
- Retries: when a job raises, it is run again after 2 s, 10 s, 1 min, 5 min and 30 min
  (each with full jitter; at least a provider's Retry-After), then it gives up: the
  error is in the Error Log. Frappe's workers run no RQ scheduler, so RQ's own
  delayed jobs (Retry intervals, enqueue_in) would never start: a due retry waits in a
  Redis sorted set on the queue's Redis, and `enqueue_due_retries`, which Frappe's
  scheduler runs every minute (hooks.py scheduler_events), queues it. The first
  retries therefore wait up to a minute longer than their nominal delay.

Loads without Frappe (hooks.py names this module): frappe is imported inside.
"""

from __future__ import annotations

import importlib
import json
import random
import time
import uuid
from typing import Any, Callable, Optional

RUN = "meetings_addon.hosts.frappe.jobs.run"
QUEUE = "default"
RETRY_DELAYS = (2, 10, 60, 300, 1800)  # seconds before retry 1..5 (as the standalone host)
RETRIES_KEY = "meetings_addon:job_retries"
WAITING = ("queued", "deferred", "scheduled")


def resolve(method: str) -> Callable[..., Any]:
    if not isinstance(method, str) or not method.startswith("meetings_addon."):
        raise ValueError(f"{method!r} is not a job of meetings_addon")
    module, _, attribute = method.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def backoff(attempt: int, retry_after: Optional[float] = None) -> float:
    """Seconds to wait before retry `attempt` (1-based): full jitter over the schedule,
    at least the provider's Retry-After."""
    base = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    return max(random.uniform(base / 2, base), retry_after or 0)


def enqueue(method: str, kwargs: dict[str, Any], *, job_id: Optional[str] = None, attempt: int = 0) -> None:
    """Queue `method(services, **kwargs)` after the current transaction commits."""
    import frappe
    from frappe.utils.background_jobs import get_job

    if job_id:
        if _pending(job_id):
            return  # this transaction queues it already
        status = _status(get_job(job_id))
        if status in WAITING or _retry_waiting(job_id):
            return
        _mark_pending(job_id)
        if status == "started":
            job_id = f"{job_id}#{uuid.uuid4().hex[:8]}"
    frappe.enqueue(
        RUN,
        queue=QUEUE,
        job_id=job_id,
        deduplicate=bool(job_id),
        enqueue_after_commit=True,
        job=method,
        kwargs=kwargs,
        job_key=job_id,
        attempt=attempt,
    )


def run(job: str, kwargs: dict[str, Any], job_key: Optional[str] = None, attempt: int = 0) -> None:
    """What the worker runs (through frappe's execute_job, which commits after it)."""
    import frappe

    from .services import services

    try:
        resolve(job)(services(), **kwargs)
    except Exception as error:  # noqa: BLE001 - a job's failure is logged and retried
        frappe.db.rollback()
        retry = attempt + 1
        if retry > len(RETRY_DELAYS):
            raise  # execute_job writes it to the Error Log
        delay = backoff(retry, getattr(error, "retry_after", None))
        frappe.log_error(title=f"{job} failed; retry {retry} in {delay:.0f}s")
        schedule_retry(job, kwargs, job_key=job_key, attempt=retry, delay=delay)


def schedule_retry(job: str, kwargs: dict[str, Any], *, job_key: Optional[str], attempt: int, delay: float) -> None:
    import frappe

    member = json.dumps(
        {"job": job, "kwargs": kwargs, "job_key": _base_id(job_key), "attempt": attempt, "nonce": uuid.uuid4().hex},
        default=str,
        sort_keys=True,
    )
    redis = _redis()
    redis.zadd(_retries_key(), {member: time.time() + delay})
    if job_key:
        redis.set(_retries_key(_base_id(job_key)), attempt, ex=int(delay) + 3600)
    frappe.logger("meetings_addon").info(f"job {job} retry {attempt} in {delay:.0f}s")


def enqueue_due_retries() -> int:
    """Queue the retries that are due (Frappe's scheduler runs this every minute)."""
    redis, key = _redis(), _retries_key()
    queued = 0
    for member in redis.zrangebyscore(key, 0, time.time(), start=0, num=500):
        if not redis.zrem(key, member):
            continue  # another scheduler tick took it
        item = json.loads(member)
        if item.get("job_key"):
            redis.delete(_retries_key(item["job_key"]))
        enqueue(item["job"], item["kwargs"], job_id=item.get("job_key"), attempt=item["attempt"])
        queued += 1
    return queued


# --- helpers -------------------------------------------------------------------------------


def _status(job) -> Optional[str]:
    if job is None:
        return None
    try:
        status = job.get_status(refresh=True)
    except Exception:  # noqa: BLE001 - a job deleted meanwhile
        return None
    return getattr(status, "value", status)


def _base_id(job_id: Optional[str]) -> Optional[str]:
    return job_id.split("#", 1)[0] if job_id else None


def _retry_waiting(job_id: str) -> bool:
    """A retry of this job id is waiting: when it runs, it reads the latest state."""
    return bool(_redis().exists(_retries_key(job_id)))


class _Pending:
    """A no-op after-commit callback marking a job id this transaction queues. It lives
    and dies with frappe.enqueue's own callback: run on commit, dropped on rollback and
    when a store savepoint is rolled back to (store.py)."""

    __slots__ = ("job_id",)

    def __init__(self, job_id: str):
        self.job_id = job_id

    def __call__(self) -> None:
        pass


def _pending(job_id: str) -> bool:
    import frappe

    functions = getattr(frappe.db.after_commit, "_functions", ())
    return any(isinstance(f, _Pending) and f.job_id == job_id for f in functions)


def _mark_pending(job_id: str) -> None:
    import frappe

    frappe.db.after_commit.add(_Pending(job_id))


def _redis():
    from frappe.utils.background_jobs import get_redis_conn

    return get_redis_conn()


def _retries_key(job_id: Optional[str] = None) -> str:
    """The sorted set of waiting retries, or the marker of one job id's waiting retry."""
    import frappe

    key = f"{frappe.local.site}::{RETRIES_KEY}"
    return f"{key}:{job_id}" if job_id else key


def poll_calendar_sync() -> int:
    """Queue the calendar syncs that are due (Frappe's scheduler, every minute)."""
    from ..frappe.services import services
    from ...sync.jobs import poll

    return poll(services())


def queue_due_reminders() -> int:
    """Queue the reminder emails that are due, one job each (Frappe's scheduler, every minute)."""
    from ..frappe.services import services
    from ...notifications.reminders import queue_due_reminders as queue

    return queue(services())


def ensure_sync_channels() -> int:
    """Open or renew the calendars' push channels (Frappe's scheduler, hourly)."""
    from ..frappe.services import services
    from ...sync.channels import ensure_channels

    return len(ensure_channels(services()))
