"""Let Frappe CRM's Lead and Deal show their meetings.

An Event turns into a timeline entry (a Communication linked to each participant) only
for participants whose doctype has `allow_events_in_timeline` (frappe/desk/doctype/event:
sync_communication). Contact has it; CRM Lead and CRM Deal do not, so a meeting with a
Lead or Deal as participant would never reach their desk timeline nor Frappe CRM's
activity list (crm/api/activities.py reads docinfo.communications). A Property Setter
turns it on, as a customisation, without touching CRM's doctypes; nothing happens where
CRM is not installed (run again by after_app_install when it comes later).
"""

CRM_DOCTYPES = ("CRM Lead", "CRM Deal")


def execute():
    import frappe
    from frappe.custom.doctype.property_setter.property_setter import make_property_setter

    for doctype in CRM_DOCTYPES:
        if not frappe.db.exists("DocType", doctype):
            continue
        if frappe.get_meta(doctype).allow_events_in_timeline:
            continue
        make_property_setter(
            doctype,
            None,
            "allow_events_in_timeline",
            1,
            "Check",
            for_doctype=True,
            validate_fields_for_doctype=False,
        )
        frappe.clear_cache(doctype=doctype)
