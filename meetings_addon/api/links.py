"""The signed-in user's meeting links with their calendar alerts.

GET list_links -> [{name, title, published, meeting_type, host, url, mode,
                    failing_calendars: [{user, connection, provider, account, calendar_id,
                                         calendar_name, error}], alert}]

`mode` is "request" and `alert` says why while a calendar of one of the link's hosts
cannot be read (the booking page then only takes requests). The Meeting Link list view
shows the same alert (meeting_link_list.js). The standalone host serves the same path.
"""

from __future__ import annotations

import frappe

from meetings_addon.connections import manage
from meetings_addon.hosts.frappe.errors import domain_errors
from meetings_addon.hosts.frappe.services import services


@frappe.whitelist(methods=["GET", "POST"])
def list_links():
    if frappe.session.user in (None, "", "Guest"):
        frappe.throw("Sign in to see your meeting links", frappe.PermissionError)
    with domain_errors():
        return manage.list_links(services(), frappe.session.user)
