# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

from frappe.model.document import Document


class LocalCalendarEvent(Document):
    def validate(self):
        if self.end and self.start and self.end <= self.start:
            import frappe

            frappe.throw(frappe._("End must be after Start"), title=frappe._("Invalid event"))
