"""Incremental sync of one connected calendar, page by page.

State lives on the calendar's row (Calendar Connection Calendar): `sync_token` (the
provider's token after the last complete pass), `sync_page_token` (where an interrupted
pass resumes), `synced_on`, and `sync_lease_until` (the lock).

- One sync per calendar at a time: a lease taken in a short transaction that locks the
  connection row, renewed on every page, released at the end (a crashed worker's lease
  expires after LEASE). No transaction stays open across a provider call.
- Each page's events are applied and its page token (or, on the last page, the new sync
  token) saved in one transaction: a sync killed half-way resumes at the first page not
  applied; applying a page twice is harmless (sync/logging.py is idempotent).
- A refused token (Google 410 fullSyncRequired, Graph 410, CalDAV invalid token): a
  refused page token restarts from the sync token; a refused sync token restarts in
  full. A full pass logs nothing twice: existing bookings are found by event id / UID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional

from ..errors import SyncTokenExpired
from ..ports import Doc, Services
from . import logging as sync_logging

CONNECTION = "Calendar Connection"
LEASE = timedelta(minutes=10)
PAGE_SIZE = 250


@dataclass
class SyncResult:
    calendar_id: str
    ran: bool = True  # False: another sync holds the calendar, or nothing to sync
    pages: int = 0
    full: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {"logged": 0, "updated": 0, "cancelled": 0, "skipped": 0})


def _row(doc: Optional[Doc], calendar_id: str) -> Optional[Doc]:
    for row in (doc or {}).get("calendars") or []:
        if row.get("calendar_id") == calendar_id:
            return row
    return None


def _set_row(services: Services, connection_name: str, calendar_id: str, values: dict[str, Any]) -> None:
    """Set fields of one calendar row (call inside atomic(), after lock())."""
    doc = services.store.get(CONNECTION, connection_name) or {}
    rows = [dict(row) for row in doc.get("calendars") or []]
    for row in rows:
        if row.get("calendar_id") == calendar_id:
            row.update(values)
    services.store.update(CONNECTION, connection_name, {"calendars": rows})


def acquire(services: Services, connection_name: str, calendar_id: str) -> bool:
    """Take the calendar's sync lease; False when another sync holds it."""
    now = services.clock.now()
    with services.store.atomic():
        services.store.lock(CONNECTION, [connection_name])
        row = _row(services.store.get(CONNECTION, connection_name), calendar_id)
        if row is None:
            return False
        until = row.get("sync_lease_until")
        if until and until > now:
            return False
        _set_row(services, connection_name, calendar_id, {"sync_lease_until": now + LEASE})
    return True


def release(services: Services, connection_name: str, calendar_id: str) -> None:
    with services.store.atomic():
        services.store.lock(CONNECTION, [connection_name])
        _set_row(services, connection_name, calendar_id, {"sync_lease_until": None})


def provider_for(services: Services, connection: Doc):
    from ..connections.registry import FACTORIES

    factory = FACTORIES.get(connection.get("provider"))
    provider = factory(services, connection) if factory else None
    return provider if provider is not None and hasattr(provider, "changes") else None


def sync_calendar(services: Services, connection_name: str, calendar_id: str, *, page_size: int = PAGE_SIZE) -> SyncResult:
    """Bring the timeline in step with one calendar's changes since its last sync."""
    result = SyncResult(calendar_id)
    connection = services.store.get(CONNECTION, connection_name)
    if not connection or connection.get("status") == "Disconnected" or _row(connection, calendar_id) is None:
        result.ran = False
        return result
    provider = provider_for(services, connection)
    if provider is None or not acquire(services, connection_name, calendar_id):
        result.ran = False
        return result
    try:
        row = _row(services.store.get(CONNECTION, connection_name), calendar_id) or {}
        sync_token, page_token = row.get("sync_token") or None, row.get("sync_page_token") or None
        result.full = not sync_token
        while True:
            try:
                page = provider.changes(calendar_id, sync_token=sync_token, page_token=page_token, page_size=page_size)
            except SyncTokenExpired:
                if page_token:  # the pass's page token is stale: start the pass again
                    page_token = None
                elif sync_token:  # the sync token is refused: full resync
                    sync_token = None
                    result.full = True
                else:
                    raise
                with services.store.atomic():
                    services.store.lock(CONNECTION, [connection_name])
                    _set_row(services, connection_name, calendar_id, {"sync_token": sync_token, "sync_page_token": None})
                continue
            with services.store.atomic():
                services.store.lock(CONNECTION, [connection_name])
                current = services.store.get(CONNECTION, connection_name) or connection
                counts = sync_logging.apply_page(services, current, page.events, calendar_id=calendar_id)
                now = services.clock.now()
                if page.next_page_token:
                    values = {"sync_page_token": page.next_page_token, "sync_lease_until": now + LEASE}
                else:
                    values = {"sync_token": page.next_sync_token or sync_token, "sync_page_token": None, "synced_on": now}
                _set_row(services, connection_name, calendar_id, values)
            result.pages += 1
            for key, value in counts.items():
                result.counts[key] = result.counts.get(key, 0) + value
            if not page.next_page_token:
                return result
            page_token = page.next_page_token
    finally:
        release(services, connection_name, calendar_id)
