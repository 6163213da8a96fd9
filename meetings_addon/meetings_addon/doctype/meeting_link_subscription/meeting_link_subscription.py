# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class MeetingLinkSubscription(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        checkbox_label: DF.Data | None
        parent: DF.Data
        parentfield: DF.Data
        parenttype: DF.Data
        subscription_type: DF.Data
    # end: auto-generated types

    pass
