"""The embedded default calendar: events kept in the store (doctype Local Calendar Event).

A user without a connected account has this one calendar, whose id is the user's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from ..ports import Doc, Store

DOCTYPE = "Local Calendar Event"


class LocalCalendar:
    def __init__(self, store: Store, user: str, services=None):
        self.store = store
        self.user = user
        self.services = services

    def list_calendars(self) -> list[Doc]:
        return [{"calendar_id": self.user, "calendar_name": "Local calendar", "access_role": "owner", "is_default": 1}]

    def busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        result: dict[str, list[tuple[datetime, datetime]]] = {}
        for calendar_id in calendar_ids:
            rows = self.store.list(
                DOCTYPE,
                filters={
                    "user": calendar_id,
                    "status": ["!=", "Cancelled"],
                    "transparent": 0,
                    "start": ["<", end],
                    "end": [">", start],
                },
                fields=("start", "end"),
            )
            result[calendar_id] = [(row["start"], row["end"]) for row in rows]
        return result

    def _changed(self) -> None:
        from ..booking import slot_cache  # the calendar changed: cached month views are stale

        if self.services is not None:
            slot_cache.invalidate(self.services)

    def create_event(self, calendar_id: str, event: Mapping[str, Any]) -> Doc:
        # Idempotent by uid: a retried write finds the event it made before.
        existing = self.store.get_value(DOCTYPE, {"user": calendar_id, "uid": event["uid"]}, "name")
        if existing:
            self.store.update(DOCTYPE, existing, _fields(event))
            self._changed()
            return {"id": existing, "uid": event["uid"]}
        doc = self.store.insert(DOCTYPE, {"user": calendar_id, "source": "Booking", **_fields(event), "uid": event["uid"]})
        self._changed()
        return {"id": doc["name"], "uid": event["uid"]}

    def update_event(self, calendar_id: str, event_id: str, event: Mapping[str, Any]) -> Doc:
        self.store.update(DOCTYPE, event_id, _fields(event))
        self._changed()
        return {"id": event_id, "uid": event.get("uid")}

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        if self.store.get_value(DOCTYPE, {"name": event_id}, "name"):
            self.store.update(DOCTYPE, event_id, {"status": "Cancelled"})
            self._changed()


def _fields(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "summary": event.get("summary") or "",
        "description": event.get("description") or "",
        "location": event.get("location") or "",
        "start": event["start"],
        "end": event["end"],
        "transparent": 0,
        "status": "Confirmed",
        "attendees": "\n".join(event.get("attendees") or ()),
    }
