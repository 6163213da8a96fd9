"""Jobs for the standalone host: in-process by default, RQ on Redis when REDIS_URL is set.

Either way a job is queued only after the transaction that asked for it commits, is
identified by its job_id (a second enqueue of a queued id is dropped), and is retried
with exponential backoff and jitter when it raises.
"""

from __future__ import annotations

import importlib
import logging
import queue
import random
import re
import threading
import time
from typing import Any, Callable, Optional

log = logging.getLogger(__name__)

RETRY_DELAYS = (2, 10, 60, 300, 1800)  # seconds before retry 1..5, then the job gives up


def resolve(method: str) -> Callable[..., Any]:
    module, _, attribute = method.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def backoff(attempt: int, retry_after: Optional[float] = None) -> float:
    """Seconds to wait before `attempt` (1-based): exponential with full jitter, at
    least the provider's Retry-After when it gave one."""
    base = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    delay = random.uniform(base / 2, base)
    return max(delay, retry_after or 0)


class InProcessJobs:
    """A worker thread in this process. `drain()` waits until every queued job ran."""

    def __init__(self, services_factory: Callable[[], Any], *, retry_delays=RETRY_DELAYS):
        self.services_factory = services_factory
        self.retry_delays = retry_delays
        self._queue: "queue.Queue[tuple[float, str, Optional[str], dict, int]]" = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self.failures: list[tuple[str, dict, str]] = []
        self.store = None  # set by build_services: jobs wait for the commit

    def enqueue(self, method: str, *, job_id: Optional[str] = None, **kwargs: Any) -> None:
        def put() -> None:
            with self._lock:
                if job_id and job_id in self._pending:
                    return
                if job_id:
                    self._pending.add(job_id)
            self._queue.put((0.0, method, job_id, kwargs, 1))
            self._start()

        if self.store is None or not self.store.after_commit(put):
            put()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="meetings-jobs", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            try:
                not_before, method, job_id, kwargs, attempt = self._queue.get(timeout=1)
            except queue.Empty:
                return
            wait = not_before - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.5))
                self._queue.put((not_before, method, job_id, kwargs, attempt))
                self._queue.task_done()
                continue
            with self._lock:
                if job_id:
                    self._pending.discard(job_id)
            try:
                resolve(method)(self.services_factory(), **kwargs)
            except Exception as error:  # noqa: BLE001 - a job's failure is logged and retried
                if attempt <= len(self.retry_delays):
                    delay = getattr(error, "retry_after", None)
                    seconds = max(self.retry_delays[attempt - 1] * random.uniform(0.5, 1), delay or 0)
                    log.warning("job %s failed (%s); retry %d in %.0fs", method, error, attempt, seconds)
                    self._queue.put((time.monotonic() + seconds, method, job_id, kwargs, attempt + 1))
                else:
                    log.error("job %s failed for good: %s", method, error)
                    self.failures.append((method, kwargs, repr(error)))
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 30) -> None:
        """Wait for the queue to empty (tests, CLI commands that exit)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


class RQJobs:
    """Jobs on Redis through RQ; a worker runs them with `meetings worker`."""

    def __init__(self, redis_url: str, db_url: str, *, queue_name: str = "meetings"):
        from redis import Redis
        from rq import Queue

        self.db_url = db_url
        self.queue = Queue(queue_name, connection=Redis.from_url(redis_url))
        self.store = None

    def enqueue(self, method: str, *, job_id: Optional[str] = None, **kwargs: Any) -> None:
        from rq import Retry

        # RQ (2.0 and later) takes only letters, digits, "_" and "-" in a job id.
        rq_id = re.sub(r"[^A-Za-z0-9_-]", "_", job_id) if job_id else None

        def put() -> None:
            if rq_id:
                existing = self.queue.fetch_job(rq_id)
                if existing is not None and existing.get_status(refresh=True) in ("queued", "scheduled", "deferred"):
                    return
            self.queue.enqueue(
                "meetings_addon.hosts.standalone.jobs.run_rq_job",
                self.db_url,
                method,
                kwargs,
                job_id=rq_id,
                retry=Retry(max=len(RETRY_DELAYS), interval=list(RETRY_DELAYS)),
            )

        if self.store is None or not self.store.after_commit(put):
            put()


def run_rq_job(db_url: str, method: str, kwargs: dict) -> None:
    """What an RQ worker runs: the job with the services of that database."""
    from .services import services_for

    resolve(method)(services_for(db_url), **kwargs)
