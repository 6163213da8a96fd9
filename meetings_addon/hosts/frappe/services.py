"""The Frappe host's Services for the current site: FrappeStore, RQ jobs, a UTC clock,
mail through Frappe's Email Queue, secrets in Frappe's encrypted __Auth table and a
cache on Frappe's Redis cache (shared by every web worker of the site).

Needs Frappe and a connected site (a request, a job or frappe.connect()).
"""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from typing import Any, Optional

import frappe

from ...ports import Services
from . import jobs
from .mailer import FrappeMailer
from .secrets import FrappeSecrets
from .store import FrappeStore


class UTCClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrappeJobs:
    """ports.Jobs on Frappe's RQ workers (see jobs.py)."""

    def enqueue(self, method: str, *, job_id: Optional[str] = None, **kwargs: Any) -> None:
        jobs.enqueue(method, kwargs, job_id=job_id)


class CommittingStore(FrappeStore):
    """FrappeStore whose writes are committed at the end of any request. Frappe commits
    POSTs by itself; a write during a GET (a page view that finds a calendar failing, or
    one answering again, marks the connection) would otherwise be rolled back."""

    def insert(self, doctype, doc):
        frappe.local.flags.commit = True
        return super().insert(doctype, doc)

    def update(self, doctype, name, values):
        frappe.local.flags.commit = True
        return super().update(doctype, name, values)

    def delete(self, doctype, name):
        frappe.local.flags.commit = True
        return super().delete(doctype, name)


class FrappeCache:
    """ports.Cache on frappe.cache (Redis), keys namespaced to the site like Frappe's own.

    Values are pickled as frappe.cache.set_value pickles them; counters are Redis
    integers (INCR). Without Redis every read is a miss: nothing depends on the cache.
    """

    def _key(self, key: str) -> str:
        return frappe.cache.make_key(f"meetings_addon:{key}")

    def get(self, key: str) -> Any:
        import redis

        try:
            raw = frappe.cache.get(self._key(key))
        except redis.exceptions.ConnectionError:
            return None
        if raw is None:
            return None
        if raw.lstrip(b"-").isdigit():  # a counter
            return int(raw)
        try:
            return pickle.loads(raw)
        except Exception:  # noqa: BLE001 - not ours or stale: a miss
            return None

    def set(self, key: str, value: Any, ttl: int) -> None:
        import redis

        try:
            if ttl:
                frappe.cache.setex(self._key(key), int(ttl), pickle.dumps(value))
            else:
                frappe.cache.set(self._key(key), pickle.dumps(value))
        except redis.exceptions.ConnectionError:
            pass

    def incr(self, key: str) -> int:
        import redis

        try:
            return int(frappe.cache.incr(self._key(key)))
        except redis.exceptions.ConnectionError:
            return 0


def desk_url(doctype: str, name: str) -> str:
    """A document in Frappe's desk: /app/<doctype-slug>/<name> (as frappe.utils.get_url_to_form)."""
    from urllib.parse import quote

    return f"{frappe.utils.get_url()}/app/{quote(frappe.scrub(doctype).replace('_', '-'))}/{quote(name, safe='')}"


def services(**overrides: Any) -> Services:
    """Services for the site of this request or job."""
    values: dict[str, Any] = {
        "store": CommittingStore(),
        "jobs": FrappeJobs(),
        "clock": UTCClock(),
        "mailer": FrappeMailer(),
        "secrets": FrappeSecrets(),
        "cache": FrappeCache(),
        "site_url": frappe.utils.get_url(),
        "document_url": desk_url,
    }
    values.update(overrides)
    return Services(**values)
