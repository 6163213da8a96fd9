# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class MeetingLinkDateOverride(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        date: DF.Date
        end_time: DF.Time | None
        parent: DF.Data
        parentfield: DF.Data
        parenttype: DF.Data
        start_time: DF.Time | None
        unavailable: DF.Check
    # end: auto-generated types

    pass
