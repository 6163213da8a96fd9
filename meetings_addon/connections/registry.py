"""A user's calendars: those of their Calendar Connections, or the Local calendar.

Provider adapters for Google, Microsoft and CalDAV register here by provider name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ..calendars.local import LocalCalendar
from ..ports import CalendarProvider, Doc, Services

CONNECTION = "Calendar Connection"


def _google(services: Services, connection: Doc) -> CalendarProvider:
    from ..calendars.google import GoogleCalendar  # the client libraries load on first use

    return GoogleCalendar(services, connection)


def _microsoft(services: Services, connection: Doc) -> CalendarProvider:
    from ..calendars.microsoft import MicrosoftCalendar

    return MicrosoftCalendar(services, connection)


def _caldav(services: Services, connection: Doc) -> CalendarProvider:
    from ..calendars.caldav import CalDAVCalendar  # the caldav library loads on first use

    return CalDAVCalendar.from_connection(services, connection)


# provider name -> factory(services, connection doc) -> CalendarProvider
FACTORIES: dict[str, Callable[[Services, Doc], CalendarProvider]] = {
    "Local": lambda services, connection: LocalCalendar(services.store, connection["user"], services),
    "Google": _google,
    "Microsoft": _microsoft,
    "CalDAV": _caldav,
}


@dataclass
class UserCalendars:
    user: str
    # (connection, provider, calendar ids checked for availability)
    sources: list[tuple[Doc, CalendarProvider, list[str]]] = field(default_factory=list)
    default: tuple[Doc, CalendarProvider, str] | None = None
    failing: list[str] = field(default_factory=list)  # human-readable calendar names


def user_calendars(services: Services, user: str) -> UserCalendars:
    connections = [
        services.store.get(CONNECTION, row["name"])
        for row in services.store.list(CONNECTION, {"user": user, "status": ["!=", "Disconnected"]}, order_by="creation asc")
    ]
    found = UserCalendars(user)
    if not connections:
        local = LocalCalendar(services.store, user, services)
        found.sources.append(({"name": None, "provider": "Local", "user": user}, local, [user]))
        found.default = ({"name": None, "provider": "Local", "user": user}, local, user)
        return found
    for connection in connections:
        factory = FACTORIES.get(connection.get("provider"))
        if factory is None:
            found.failing.append(f"{connection.get('provider')} ({connection.get('account') or user}): not supported here")
            continue
        provider = factory(services, connection)
        calendars = connection.get("calendars") or []
        if connection.get("provider") == "Local" and not calendars:
            calendars = [{"calendar_id": user, "check_availability": 1, "is_default": 1}]
        if connection.get("status") == "Error":
            found.failing.append(f"{connection.get('provider')} ({connection.get('account') or user})")
        for row in calendars:
            if row.get("status") == "Failing" and row.get("check_availability"):
                found.failing.append(row.get("calendar_name") or row["calendar_id"])
        checked = [row["calendar_id"] for row in calendars if row.get("check_availability") and row.get("status") != "Failing"]
        found.sources.append((connection, provider, checked))
        for row in calendars:
            # One calendar receives the bookings: with several accounts connected, the
            # default of the one connected first (the same on every host, whatever order
            # the store lists them in).
            if row.get("is_default") and found.default is None:
                found.default = (connection, provider, row["calendar_id"])
    return found


def event_calendar(services: Services, user: str, connection_name: Optional[str], calendar_id: Optional[str]):
    """(connection, provider, calendar_id) of the calendar that holds a booking's event,
    as recorded when the event was written; None when it can no longer be reached (the
    connection was removed or disconnected). An empty connection is the user's Local
    calendar of a user without connections."""
    if not calendar_id:
        return None
    if not connection_name:
        # The Local calendar of a user without connections; once they connect one, their
        # meetings belong on it (the Local calendar is no longer read): written anew there.
        if services.store.list(CONNECTION, {"user": user, "status": ["!=", "Disconnected"]}, limit=1):
            return None
        local = LocalCalendar(services.store, user, services)
        return ({"name": None, "provider": "Local", "user": user}, local, calendar_id)
    connection = services.store.get(CONNECTION, connection_name)
    if not connection or connection.get("status") == "Disconnected":
        return None
    factory = FACTORIES.get(connection.get("provider"))
    return (connection, factory(services, connection), calendar_id) if factory else None
