# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class MeetingsEmailLog(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        booking: DF.Link | None
        key: DF.Data
        kind: DF.Data | None
        recipient: DF.Data | None
        sent_on: DF.Datetime | None
    # end: auto-generated types

    pass
