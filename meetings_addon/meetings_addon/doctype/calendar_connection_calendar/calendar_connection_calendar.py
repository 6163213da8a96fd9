# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class CalendarConnectionCalendar(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        access_role: DF.Data | None
        calendar_id: DF.Data
        calendar_name: DF.Data | None
        check_availability: DF.Check
        error: DF.SmallText | None
        is_default: DF.Check
        parent: DF.Data
        parentfield: DF.Data
        parenttype: DF.Data
        status: DF.Literal["OK", "Failing"]
        sync_token: DF.SmallText | None
    # end: auto-generated types

    pass
