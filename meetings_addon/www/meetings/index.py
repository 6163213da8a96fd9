"""The public booking page on Frappe: /meetings/<slug> (and /meetings/manage/<token>).

hooks.py's website_route_rules send both here; Frappe puts the slug (or token) in
frappe.form_dict. index.html extends the template the standalone host serves too
(templates/meetings/booking_page.html) and meetings_addon.booking_page computes its
context, so both hosts send the same page. Strings are translated with Frappe's own `_`
(this app's translations/<lang>.csv, plus the site's Translation records) in the page's
language: `?lang=` when the app has it, else the link's language. An unknown or
unpublished link answers Frappe's 404 page. Nothing is cached: a link may be published,
changed or unpublished at any moment.
"""

import frappe

from meetings_addon import booking_page
from meetings_addon.errors import NotFound
from meetings_addon.hosts.frappe.services import services

no_cache = 1
sitemap = 0


def _translate_for(lang):
    return lambda message: frappe._(message, lang=lang)


def get_context(context):
    # Also keeps Frappe from caching a 404 for this address (website_404).
    frappe.local.no_cache = 1
    context.no_cache = 1
    form = frappe.form_dict
    options = {
        "lang": form.get("lang"),
        "embed": str(form.get("embed") or "") in ("1", "true"),
        "base_url": frappe.utils.get_url(),
        "translate_for": _translate_for,
    }
    try:
        if form.get("token"):
            page = booking_page.manage_context(services(), form.get("token"), **options)
        else:
            page = booking_page.booking_context(services(), form.get("slug"), **options)
    except NotFound as error:
        raise frappe.PageDoesNotExistError(error.message) from None
    context.update(page)
    return context
