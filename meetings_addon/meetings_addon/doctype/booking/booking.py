# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import get_datetime


class Booking(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        answers: DF.JSON | None
        buffer_after: DF.Int
        buffer_before: DF.Int
        calendar_error: DF.SmallText | None
        cancel_reason: DF.SmallText | None
        consent_given: DF.Check
        consent_text: DF.SmallText | None
        consent_time: DF.Datetime | None
        contact: DF.Link | None
        duration: DF.Int
        email: DF.Data
        end: DF.Datetime
        event: DF.Link | None
        first_name: DF.Data | None
        host: DF.Link | None
        ical_uid: DF.Data | None
        last_name: DF.Data | None
        manage_token: DF.Data | None
        meeting_link: DF.Link
        other_hosts: DF.SmallText | None
        provider: DF.Data | None
        provider_event_id: DF.Data | None
        reference_doctype: DF.Link | None
        reference_name: DF.DynamicLink | None
        rescheduled_from: DF.Link | None
        sequence: DF.Int
        source: DF.Literal["Booking Page", "CRM", "Calendar"]
        start: DF.Datetime
        status: DF.Literal["Confirmed", "Requested", "Cancelled", "Rescheduled"]
        timezone: DF.Data | None
    # end: auto-generated types

    def validate(self):
        if self.start and self.end and get_datetime(self.end) <= get_datetime(self.start):
            frappe.throw(_("End must be after Start"), exc=frappe.ValidationError, title=_("Invalid End"))
