"""What the use-cases need from a host. Each host (Frappe, standalone) provides these.

Documents are plain dicts with Frappe's field names; child tables are lists of dicts
under their table field. Datetime fields cross the port as aware datetimes (UTC when
read back); each host converts to its own storage in one place.

Filters follow frappe.get_all: {"field": value} or {"field": [op, value]} with op one
of = != < <= > >= in "not in" like "is" ("set" / "not set").
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Sequence

Doc = dict[str, Any]
Filters = Mapping[str, Any]


class Store(Protocol):
    def get(self, doctype: str, name: str) -> Optional[Doc]:
        """The document with its child tables, or None."""

    def get_value(self, doctype: str, filters: Filters, field: str) -> Any:
        """One field of the first matching document, or None."""

    def list(
        self,
        doctype: str,
        filters: Optional[Filters] = None,
        fields: Sequence[str] = ("name",),
        order_by: Optional[str] = None,
        limit: Optional[int] = None,
        for_update: bool = False,
    ) -> list[Doc]:
        """Matching rows (parent fields only); order_by as "field asc|desc".

        for_update: inside atomic(), after lock(): a read that sees every change
        committed so far, whatever the isolation level (READ COMMITTED reads do by
        themselves; under REPEATABLE READ, as in Frappe, it is a locking read). The lock
        on the host rows, not this read, is what keeps two reservations apart.
        """

    def count_by(
        self, doctype: str, filters: Optional[Filters], field: str, latest: str = "creation", for_update: bool = False
    ) -> dict[Any, tuple[int, Any]]:
        """{value of `field`: (how many matching rows, the largest `latest` among them)}:
        one grouped query, however many rows match. for_update as in list()."""

    def insert(self, doctype: str, doc: Mapping[str, Any]) -> Doc:
        """Insert with child tables; returns the stored doc (with its name)."""

    def update(self, doctype: str, name: str, values: Mapping[str, Any]) -> None:
        """Set parent fields (a child table given as a list replaces that table); of the
        standard fields, only `owner` may be changed."""

    def delete(self, doctype: str, name: str) -> None: ...

    def atomic(self) -> AbstractContextManager[None]:
        """A transaction: committed on success, rolled back on error. Nesting is allowed."""

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """Run callback once the current transaction commits; False when none is open."""

    def lock(self, doctype: str, names: Sequence[str]) -> None:
        """Row locks on these documents until the current transaction ends.

        Two transactions locking the same name run one after the other: this is what
        makes a slot's reservation atomic.
        """


class Jobs(Protocol):
    def enqueue(self, method: str, *, job_id: Optional[str] = None, **kwargs: Any) -> None:
        """Run `method` (a dotted path) with kwargs after the current transaction commits.

        A job with the same job_id that is still queued is not queued twice.
        """


class Mailer(Protocol):
    def send(
        self,
        recipients: Sequence[str],
        subject: str,
        html: str,
        *,
        attachments: Sequence[tuple[str, bytes, str]] = (),
        reference: Optional[tuple[str, str]] = None,
    ) -> None:
        """Queue an email; attachments are (filename, content, mime type)."""


class Cache(Protocol):
    """A small shared cache (process memory in standalone, Redis in Frappe)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, ttl: int) -> None: ...

    def incr(self, key: str) -> int: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware, UTC."""


class Secrets(Protocol):
    def get(self, doctype: str, name: str, field: str) -> Optional[str]: ...

    def set(self, doctype: str, name: str, field: str, value: Optional[str]) -> None: ...


class CalendarProvider(Protocol):
    """One calendar account (or the Local calendar). Times are aware datetimes."""

    def list_calendars(self) -> list[Doc]: ...

    def busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        """Opaque busy intervals per calendar id; raises CalendarUnavailable."""

    def create_event(self, calendar_id: str, event: Mapping[str, Any]) -> Doc: ...

    def update_event(self, calendar_id: str, event_id: str, event: Mapping[str, Any]) -> Doc: ...

    def cancel_event(self, calendar_id: str, event_id: str) -> None: ...

    # Optional (sync/): providers with a change feed also offer
    # changes(calendar_id, sync_token, page_token, page_size) -> ChangePage,
    # raising errors.SyncTokenExpired when the token is refused.


@dataclass
class RemoteEvent:
    """One event as a calendar's change feed reports it (sync/). Times aware UTC."""

    id: str
    status: str = "confirmed"  # confirmed | tentative | cancelled (deleted too)
    ical_uid: Optional[str] = None
    summary: str = ""
    description: str = ""
    start: Optional[datetime] = None
    end: Optional[datetime] = None
    created: Optional[datetime] = None
    attendees: list[str] = field(default_factory=list)  # lower-case emails
    organizer: Optional[str] = None

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass
class ChangePage:
    """A page of a calendar's changes: either next_page_token (more to come) or
    next_sync_token (the last page; keep it for the next incremental sync)."""

    events: list[RemoteEvent]
    next_page_token: Optional[str] = None
    next_sync_token: Optional[str] = None


@dataclass
class Services:
    """Everything a use-case may touch, bundled by the host."""

    store: Store
    jobs: Jobs
    clock: Clock
    mailer: Optional[Mailer] = None
    secrets: Optional[Secrets] = None
    cache: Optional[Cache] = None
    providers: Callable[[Services, str], Iterable[tuple[Doc, CalendarProvider]]] = field(default=lambda services, user: ())
    site_url: str = "http://127.0.0.1:8000"
    # Where a team member opens a document (doctype, name) -> URL: Frappe's desk in
    # Frappe; None means the resource API under site_url (notifications/emails.py).
    document_url: Optional[Callable[[str, str], str]] = None
