# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document

from meetings_addon.booking.consent import validate_settings as validate_consent_settings
from meetings_addon.domains import clean_site_domains
from meetings_addon.errors import InvalidRule
from meetings_addon.hosts.frappe.install import default_internal_domains, parse_domains


class MeetingsSettings(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF

        consent_enabled_by_default: DF.Check
        custom_domains: DF.SmallText | None
        default_consent_text: DF.SmallText | None
        default_duration: DF.Int
        default_language: DF.Data | None
        default_privacy_text: DF.SmallText | None
        guest_rate_limit: DF.Int
        internal_domains: DF.SmallText | None
        sync_interval: DF.Int
    # end: auto-generated types

    def onload(self):
        if not (self.internal_domains or "").strip():
            self.internal_domains = "\n".join(default_internal_domains())

    def validate(self):
        try:
            self.internal_domains = "\n".join(parse_domains(self.internal_domains))
        except ValueError as error:
            frappe.throw(
                _("Internal Domains: {0}").format(error),
                exc=frappe.ValidationError,
                title=_("Invalid Internal Domains"),
            )
        try:  # the domains links may use (domains.py): host names, the site's own refused
            # The site's configured address, not get_url(): that follows the request's Host,
            # which is a custom domain when the administrator browses from one.
            own = frappe.conf.get("host_name") or f"https://{frappe.local.site}"
            self.custom_domains = clean_site_domains(self.custom_domains, own)
        except InvalidRule as error:
            frappe.throw(
                _("Custom Domains: {0}").format(error.reason),
                exc=frappe.ValidationError,
                title=_("Invalid Custom Domains"),
            )
        try:
            validate_consent_settings(self.as_dict())
        except InvalidRule as error:
            label = _(self.meta.get_label(error.field))
            frappe.throw(_("{0}: {1}").format(label, error.reason), exc=frappe.ValidationError,
                         title=_("Invalid {0}").format(label))
        if self.default_duration is not None and not 1 <= self.default_duration <= 1440:
            frappe.throw(
                _("Default Duration: between 1 and 1440 minutes"),
                exc=frappe.ValidationError,
                title=_("Invalid Default Duration"),
            )
        if self.sync_interval is not None and self.sync_interval < 1:
            frappe.throw(
                _("Calendar Sync Interval: at least 1 minute"),
                exc=frappe.ValidationError,
                title=_("Invalid Calendar Sync Interval"),
            )
