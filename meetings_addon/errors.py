"""Domain exceptions shared by every layer.

Each host maps them to an HTTP status (see `http_status`); the messages are written
for the visitor or admin who reads them.
"""


class MeetingsError(Exception):
    """Base of every error the core raises on purpose."""

    http_status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(MeetingsError):
    """Bad input; `field` names the field (a Meeting Link or booking form field)."""

    http_status = 417  # Frappe answers ValidationError with 417

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class InvalidRule(InvalidInput):
    """A Meeting Link's scheduling rules cannot be satisfied or understood."""


class InvalidBooking(InvalidInput):
    """A visitor's booking request is malformed or breaks the link's rules."""


class NotFound(MeetingsError):
    http_status = 404


class SlotUnavailable(MeetingsError):
    """The slot was free when shown but has been taken since."""

    http_status = 409


class CalendarUnavailable(MeetingsError):
    """A connected calendar cannot be read: the link switches to request mode."""

    http_status = 503


class DuplicateEntry(MeetingsError):
    """A document with that name, or that unique value, exists already."""

    http_status = 409


class TransactionConflict(MeetingsError):
    """The database undid a transaction that collided with a concurrent one (a deadlock, a
    serialization failure, a lock wait timeout). Nothing of it was stored: running it
    again is safe, and the use-cases that can meet one do so before giving up."""

    http_status = 409


class SyncTokenExpired(MeetingsError):
    """The provider no longer accepts a calendar's sync (or page) token: resync in full
    (Google 410 fullSyncRequired, Graph 410, CalDAV valid-sync-token)."""

    http_status = 410
