# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class MeetingLinkHost(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        parent: DF.Data
        parentfield: DF.Data
        parenttype: DF.Data
        priority: DF.Int
        user: DF.Link
        weight: DF.Int
    # end: auto-generated types

    pass
