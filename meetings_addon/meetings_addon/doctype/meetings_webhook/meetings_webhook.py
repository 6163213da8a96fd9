# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document

from meetings_addon.notifications.webhooks import check_url


class MeetingsWebhook(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        enabled: DF.Check
        on_booked: DF.Check
        on_cancelled: DF.Check
        on_rescheduled: DF.Check
        secret: DF.Password | None
        url: DF.Data
    # end: auto-generated types

    def validate(self):
        try:
            self.url = check_url(self.url)
        except ValueError as error:
            frappe.throw(_("URL: {0}").format(error), exc=frappe.ValidationError, title=_("Invalid URL"))
