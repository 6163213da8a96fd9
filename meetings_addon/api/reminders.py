"""The reminder email a Meeting Link sends, as a preview (notifications/reminders.py).

GET preview_reminder(link, language) -> {"subject": ..., "html": ...}: for users who may
read the link (Frappe's permission check), with a sample invitee, in `language` (else
the link's). The standalone host serves the same path for the link's owner
(hosts/standalone/web.py).
"""

from __future__ import annotations

import frappe

from meetings_addon.hosts.frappe.errors import domain_errors
from meetings_addon.hosts.frappe.services import services
from meetings_addon.notifications import reminders


@frappe.whitelist(methods=["GET", "POST"])
def preview_reminder(link=None, language=None):
    frappe.get_doc("Meeting Link", link).check_permission("read")
    with domain_errors():
        subject, html = reminders.preview_reminder(services(), link, language or None)
    return {"subject": subject, "html": html}
