# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document


class CalendarConnection(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF
        from meetings_addon.meetings_addon.doctype.calendar_connection_calendar.calendar_connection_calendar import CalendarConnectionCalendar

        access_token: DF.Password | None
        account: DF.Data | None
        caldav_password: DF.Password | None
        caldav_url: DF.Data | None
        caldav_username: DF.Data | None
        calendars: DF.Table[CalendarConnectionCalendar]
        connected_on: DF.Datetime | None
        error: DF.SmallText | None
        provider: DF.Literal["Local", "Google", "Microsoft", "CalDAV"]
        refresh_token: DF.Password | None
        status: DF.Literal["Connected", "Error", "Disconnected"]
        token_cache: DF.Password | None
        user: DF.Link
    # end: auto-generated types

    def validate(self):
        self.validate_one_per_provider()
        self.validate_calendars()

    def on_update(self):
        self.availability_changed()

    def on_trash(self):
        self.availability_changed()

    def availability_changed(self):
        """A calendar checked, removed or repaired in the form counts at once: the booking
        pages' cached views are dropped (as the connections API does)."""
        from meetings_addon.booking import slot_cache
        from meetings_addon.hosts.frappe.services import services

        slot_cache.invalidate(services())

    def validate_one_per_provider(self):
        duplicate = frappe.db.exists(
            "Calendar Connection",
            {"user": self.user, "provider": self.provider, "name": ("!=", self.name)},
        )
        if duplicate:
            frappe.throw(
                _("{0} already has a {1} connection ({2})").format(self.user, self.provider, duplicate),
                exc=frappe.ValidationError,
                title=_("Duplicate Calendar Connection"),
            )

    def validate_calendars(self):
        seen = set()
        for row in self.calendars:
            if row.calendar_id in seen:
                frappe.throw(
                    _("Calendars row {0}: calendar {1} is listed twice").format(row.idx, row.calendar_id),
                    exc=frappe.ValidationError,
                    title=_("Invalid Calendars"),
                )
            seen.add(row.calendar_id)
        defaults = [row for row in self.calendars if row.is_default]
        if self.calendars and len(defaults) != 1:
            frappe.throw(
                _("Calendars: mark exactly one calendar as Default (found {0})").format(len(defaults)),
                exc=frappe.ValidationError,
                title=_("Invalid Calendars"),
            )
