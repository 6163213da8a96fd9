"""A short-lived cache of computed month views, so a busy booking page costs about a ping.

Entries are keyed by everything the answer depends on: the link and its last change, the
asked range, zone and duration, the rules zone's current day (rolling windows move at
midnight) and the site's availability epoch. Any booking change or calendar write bumps
the epoch (after its commit), which drops every entry at once; busy times read from
external calendars are trusted for at most TTL seconds, as free/busy caching allows.
The booking itself never uses this cache: it re-checks live.
"""

from __future__ import annotations

from typing import Any, Optional

from ..ports import Services

TTL = 60  # seconds an external calendar's busy times may be reused
EPOCH_KEY = "meetings:availability-epoch"


def epoch(services: Services) -> int:
    cache = services.cache
    return int(cache.get(EPOCH_KEY) or 0) if cache else 0


def invalidate(services: Services) -> None:
    """Drop every cached month view once the current transaction commits (and now)."""
    cache = services.cache
    if cache is None:
        return
    cache.incr(EPOCH_KEY)
    # A view computed between now and the commit would still show the old data: bump
    # again when the change is visible to everyone.
    if not services.store.after_commit(lambda: cache.incr(EPOCH_KEY)):
        return


def get(services: Services, key: tuple) -> Optional[Any]:
    return services.cache.get(_key(key)) if services.cache else None


def put(services: Services, key: tuple, value: Any) -> None:
    if services.cache:
        services.cache.set(_key(key), value, TTL)


def _key(key: tuple) -> str:
    return "meetings:slots:" + "|".join(str(part) for part in key)
