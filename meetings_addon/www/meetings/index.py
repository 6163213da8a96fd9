"""The public booking page on Frappe: /meetings/<slug> (and /meetings/manage/<token>).

hooks.py's website_route_rules send both here; Frappe puts the slug (or token) in
frappe.form_dict. index.html extends the template the standalone host serves too
(templates/meetings/booking_page.html) and meetings_addon.booking_page computes its
context, so both hosts send the same page. Strings are translated with Frappe's own `_`
(this app's translations/<lang>.csv, plus the site's Translation records) in the page's
language: `?lang=` when the app has it, else the link's language. An unknown or
unpublished link answers Frappe's 404 page. Nothing is cached: a link may be published,
changed or unpublished at any moment.

Domains (meetings_addon/domains.py): a link with a custom domain answers 301 there from
any other host; /meetings on a custom domain answers 302 to its link. Both go through
frappe.Redirect, which Frappe's website router turns into the redirect. The robots
directive travels in frappe.local.meetings_robots to hosts/frappe/http.after_request,
which sends it as X-Robots-Tag (a www page cannot set response headers itself).
"""

import frappe

from meetings_addon import booking_page, domains
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
    request = frappe.local.request
    query = request.query_string.decode("latin-1")
    if not form.get("token"):
        if form.get("slug"):
            link = domains.published_page(services(), form.get("slug"))  # exactly a published slug
            if link is None:
                raise frappe.PageDoesNotExistError("This meeting link does not exist or is no longer published.")
            target = domains.redirect_url(services(), link, request.host, query)
            status = 301
        else:  # /meetings: the link of this custom domain, if any
            slug = domains.link_for_host(services(), request.host)
            target = domains.page_path(slug) + (f"?{query}" if query else "") if slug else None
            status = 302
        if target:
            frappe.flags.redirect_location = target
            raise frappe.Redirect(status)
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
    frappe.local.meetings_robots = page["page"]["robots"]
    context.update(page)
    return context
