"""Sync jobs: one deduplicated job per calendar, queued by pushes and by the poll.

`sync_connection` is what the job runner calls; `poll` is the scheduler's fallback
(every minute in Frappe's cron, `meetings sync` / the serve thread standalone): it
queues the calendars whose last sync is older than Meetings Settings.sync_interval.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from ..ports import Services
from .service import CONNECTION, provider_for, sync_calendar

SETTINGS = "Meetings Settings"
JOB = "meetings_addon.sync.jobs.sync_connection"
DEFAULT_INTERVAL = 10  # minutes
SYNCED_PROVIDERS = ("Google", "Microsoft", "CalDAV")


def job_id(connection: str, calendar_id: str) -> str:
    return f"meetings-sync::{connection}::{calendar_id}"


def enqueue_sync(services: Services, connection: str, calendar_id: str) -> None:
    services.jobs.enqueue(JOB, job_id=job_id(connection, calendar_id), connection=connection, calendar_id=calendar_id)


def sync_connection(services: Services, connection: str, calendar_id: Optional[str] = None) -> list:
    """The job: sync one calendar of the connection (or every chosen one)."""
    doc = services.store.get(CONNECTION, connection)
    if not doc:
        return []
    ids = [calendar_id] if calendar_id else [row["calendar_id"] for row in doc.get("calendars") or []]
    return [sync_calendar(services, connection, cid) for cid in ids]


def interval(services: Services) -> timedelta:
    settings = services.store.get(SETTINGS, SETTINGS) or {}
    minutes = settings.get("sync_interval")
    return timedelta(minutes=int(minutes if minutes not in (None, "") else DEFAULT_INTERVAL))


def due(services: Services) -> list[tuple[str, str]]:
    """(connection, calendar id) of the calendars whose sync is due."""
    every = interval(services)
    if every <= timedelta(0):
        return []
    now = services.clock.now()
    found = []
    for row in services.store.list(CONNECTION, {"status": "Connected", "provider": ["in", list(SYNCED_PROVIDERS)]}):
        doc = services.store.get(CONNECTION, row["name"]) or {}
        for calendar in doc.get("calendars") or []:
            if calendar.get("status") == "Failing":
                continue
            synced = calendar.get("synced_on")
            if synced is None or synced + every <= now:
                found.append((doc["name"], calendar["calendar_id"]))
    return found


def poll(services: Services) -> int:
    """Queue the due syncs (deduplicated by job id); returns how many."""
    items = due(services)
    for connection, calendar_id in items:
        enqueue_sync(services, connection, calendar_id)
    return len(items)


def sync_all(services: Services) -> list:
    """One pass now, in this process (`meetings sync`)."""
    results = []
    for connection, calendar_id in due(services):
        doc = services.store.get(CONNECTION, connection)
        if doc and provider_for(services, doc) is not None:
            results.append(sync_calendar(services, connection, calendar_id))
    return results
