"""The standalone host's Services: the SQL store, jobs, clock, mail and secrets."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from typing import Optional

from ...ports import Services
from .cache import MemoryCache
from .jobs import InProcessJobs, RQJobs
from .store import SQLStore, default_url


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


_cache: dict[str, Services] = {}
_cache_lock = threading.Lock()


def build_services(
    db_url: Optional[str] = None,
    *,
    redis_url: Optional[str] = None,
    site_url: Optional[str] = None,
    clock=None,
    create: bool = True,
) -> Services:
    """Services for one database; REDIS_URL (or redis_url) switches jobs to RQ."""
    db_url = db_url or os.environ.get("MEETINGS_DB_URL") or default_url()
    redis_url = redis_url if redis_url is not None else os.environ.get("REDIS_URL")
    store = SQLStore(db_url)
    if create:
        store.create_all()
    services = Services(
        store=store,
        jobs=None,  # set below: the in-process runner needs the services it serves
        clock=clock or SystemClock(),
        cache=MemoryCache(),
        site_url=site_url or os.environ.get("MEETINGS_SITE_URL", "http://127.0.0.1:8000"),
    )
    jobs = RQJobs(redis_url, db_url) if redis_url else InProcessJobs(lambda: services)
    jobs.store = store
    services.jobs = jobs
    return services


def services_for(db_url: str) -> Services:
    """One Services per database in this process (RQ workers run many jobs)."""
    with _cache_lock:
        if db_url not in _cache:
            _cache[db_url] = build_services(db_url, redis_url="", create=False)
        return _cache[db_url]
