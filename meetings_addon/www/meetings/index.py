"""The public booking page: /meetings/<slug> (and /meetings/manage/<token>).

hooks.py's website_route_rules send both here; Frappe puts the slug (or token) in
frappe.form_dict. An unknown or unpublished link answers Frappe's 404 page. Nothing is
cached: a link may be published, changed or unpublished at any moment.
"""

import frappe

from meetings_addon.booking import service
from meetings_addon.errors import NotFound
from meetings_addon.hosts.frappe.services import services

no_cache = 1
sitemap = 0


def get_context(context):
    # Also keeps Frappe from caching a 404 for this address (website_404).
    frappe.local.no_cache = 1
    context.no_cache = 1
    context.no_header = 1
    context.no_breadcrumbs = 1
    token = frappe.form_dict.get("token")
    try:
        if token:
            context.kind = "manage"
            context.manage = service.manage_view(services(), token)
            context.title = context.manage["title"]
        else:
            context.kind = "book"
            context.link = service.get_link(services(), frappe.form_dict.get("slug"))
            context.title = context.link["title"]
    except NotFound as error:
        raise frappe.PageDoesNotExistError(error.message) from None
    context.language = (context.link or {}).get("language") or "en"
    return context
