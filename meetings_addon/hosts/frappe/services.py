"""The Frappe host's Services for the current site: FrappeStore, RQ jobs, a UTC clock,
mail through Frappe's Email Queue, secrets in Frappe's encrypted __Auth table and a
cache on Frappe's Redis cache (shared by every web worker of the site).

Needs Frappe and a connected site (a request, a job or frappe.connect()).
"""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

import frappe

from ...ports import Services
from . import jobs
from .store import FrappeStore


class UTCClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrappeJobs:
    """ports.Jobs on Frappe's RQ workers (see jobs.py)."""

    def enqueue(self, method: str, *, job_id: Optional[str] = None, **kwargs: Any) -> None:
        jobs.enqueue(method, kwargs, job_id=job_id)


class FrappeMailer:
    """ports.Mailer on frappe.sendmail: queued in the Email Queue, sent by the scheduler,
    after the current transaction commits."""

    def send(
        self,
        recipients: Sequence[str],
        subject: str,
        html: str,
        *,
        attachments: Sequence[tuple[str, bytes, str]] = (),
        reference: Optional[tuple[str, str]] = None,
    ) -> None:
        frappe.sendmail(
            recipients=list(recipients),
            subject=subject,
            message=html,
            attachments=[{"fname": name, "fcontent": content} for name, content, _mime in attachments],
            reference_doctype=reference[0] if reference else None,
            reference_name=reference[1] if reference else None,
            delayed=True,
        )


class FrappeSecrets:
    """ports.Secrets on Frappe's Password storage (encrypted with the site's key)."""

    def get(self, doctype: str, name: str, field: str) -> Optional[str]:
        from frappe.utils.password import get_decrypted_password

        return get_decrypted_password(doctype, name, field, raise_exception=False)

    def set(self, doctype: str, name: str, field: str, value: Optional[str]) -> None:
        from frappe.utils.password import remove_encrypted_password, set_encrypted_password

        if value is None:
            remove_encrypted_password(doctype, name, field)
        else:
            set_encrypted_password(doctype, name, value, field)


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


def services(**overrides: Any) -> Services:
    """Services for the site of this request or job."""
    values: dict[str, Any] = {
        "store": FrappeStore(),
        "jobs": FrappeJobs(),
        "clock": UTCClock(),
        "mailer": FrappeMailer(),
        "secrets": FrappeSecrets(),
        "cache": FrappeCache(),
        "site_url": frappe.utils.get_url(),
    }
    values.update(overrides)
    return Services(**values)
