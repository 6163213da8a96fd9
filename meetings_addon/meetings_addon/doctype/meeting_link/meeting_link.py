# Copyright (c) 2026, meetings_addon developers and contributors
# For license information, please see license.txt

import re

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import get_system_timezone

from meetings_addon.domains import check_custom_domain, clean_custom_domain
from meetings_addon.booking.consent import new_link_defaults, validate_link as validate_consent_rules
from meetings_addon.errors import InvalidRule
from meetings_addon.links import validate_hosts, validate_link_rules

SLUG = re.compile(r"[a-z0-9-]{1,100}")
QUESTION_FIELDNAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# The booking form always asks these; a question may not reuse their keys.
STANDARD_FORM_FIELDS = frozenset({"first_name", "last_name", "email", "timezone", "consent"})
MAX_REMINDERS = 3


class MeetingLink(Document):
    # begin: auto-generated types
    # This code is auto-generated. Do not modify anything in this block.

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from frappe.types import DF
        from meetings_addon.meetings_addon.doctype.meeting_link_availability.meeting_link_availability import MeetingLinkAvailability
        from meetings_addon.meetings_addon.doctype.meeting_link_date_override.meeting_link_date_override import MeetingLinkDateOverride
        from meetings_addon.meetings_addon.doctype.meeting_link_host.meeting_link_host import MeetingLinkHost
        from meetings_addon.meetings_addon.doctype.meeting_link_question.meeting_link_question import MeetingLinkQuestion
        from meetings_addon.meetings_addon.doctype.meeting_link_reminder.meeting_link_reminder import MeetingLinkReminder

        accent_color: DF.Color | None
        availability: DF.Table[MeetingLinkAvailability]
        buffer_after: DF.Int
        buffer_before: DF.Int
        consent_enabled: DF.Check
        consent_text: DF.SmallText | None
        date_overrides: DF.Table[MeetingLinkDateOverride]
        description: DF.SmallText | None
        durations: DF.Data | None
        host: DF.Link
        hosts: DF.Table[MeetingLinkHost]
        internal_name: DF.Data | None
        invitation_description: DF.SmallText | None
        invitation_subject: DF.Data | None
        is_default: DF.Check
        language: DF.Data | None
        location: DF.Data | None
        logo: DF.AttachImage | None
        max_bookings_per_day: DF.Int
        meeting_type: DF.Literal["One-on-one", "Round Robin", "Group"]
        minimum_notice: DF.Int
        photo: DF.AttachImage | None
        privacy_text: DF.SmallText | None
        published: DF.Check
        questions: DF.Table[MeetingLinkQuestion]
        range_end: DF.Date | None
        range_start: DF.Date | None
        reminder_include_description: DF.Check
        reminders: DF.Table[MeetingLinkReminder]
        reminders_enabled: DF.Check
        rolling_weeks: DF.Int
        slug: DF.Data
        start_increment: DF.Int
        timezone: DF.Data
        title: DF.Data
        window_type: DF.Literal["Rolling", "Custom Range"]
    # end: auto-generated types

    def validate(self):
        self.set_default_timezone()
        self.validate_slug()
        self.validate_hosts()
        self.validate_questions()
        self.validate_reminders()
        self.validate_rules()
        self.validate_consent()
        self.validate_custom_domain()
        self.validate_video_conferencing()

    def before_insert(self):
        self.apply_consent_defaults()

    def on_update(self):
        if self.is_default:
            self.clear_other_defaults()

    def set_default_timezone(self):
        if not (self.timezone or "").strip():
            self.timezone = (
                self.host and frappe.get_cached_value("User", self.host, "time_zone")
            ) or get_system_timezone()

    def validate_slug(self):
        if not SLUG.fullmatch(self.slug or ""):
            self.throw_on(
                "slug",
                _("use 1 to 100 lowercase letters, digits and hyphens, e.g. {0}").format("intro-call"),
            )

    def validate_hosts(self):
        try:
            validate_hosts(self.as_dict())
        except InvalidRule as error:
            self.throw_on(error.field, error.reason)

    def validate_questions(self):
        seen = set()
        for row in self.questions:
            fieldname = (row.fieldname or "").strip()
            if not QUESTION_FIELDNAME.fullmatch(fieldname):
                self.throw_on(
                    "questions",
                    _(
                        "row {0}: fieldname {1} must start with a lowercase letter and hold only "
                        "lowercase letters, digits and underscores"
                    ).format(row.idx, frappe.bold(fieldname)),
                )
            if fieldname in STANDARD_FORM_FIELDS:
                self.throw_on(
                    "questions",
                    _("row {0}: fieldname {1} is already on the booking form").format(
                        row.idx, frappe.bold(fieldname)
                    ),
                )
            if fieldname in seen:
                self.throw_on(
                    "questions",
                    _("row {0}: fieldname {1} is used twice").format(row.idx, frappe.bold(fieldname)),
                )
            seen.add(fieldname)
            row.fieldname = fieldname
            if row.fieldtype == "Select" and not (row.options or "").strip():
                self.throw_on(
                    "questions", _("row {0}: a Select question needs options, one per line").format(row.idx)
                )

    def validate_reminders(self):
        if len(self.reminders) > MAX_REMINDERS:
            self.throw_on("reminders", _("at most {0} reminders").format(MAX_REMINDERS))
        seen = set()
        for row in self.reminders:
            if not row.minutes_before or row.minutes_before < 1:
                self.throw_on("reminders", _("row {0}: minutes before must be at least 1").format(row.idx))
            if row.minutes_before in seen:
                self.throw_on(
                    "reminders", _("row {0}: {1} minutes is listed twice").format(row.idx, row.minutes_before)
                )
            seen.add(row.minutes_before)

    def validate_rules(self):
        try:
            validate_link_rules(self.as_dict())
        except InvalidRule as error:
            self.throw_on(error.field, error.reason)

    def validate_custom_domain(self):
        try:
            self.custom_domain = clean_custom_domain(self.custom_domain)
            current = (self.get_doc_before_save() or {}).get("custom_domain")
            if self.custom_domain and self.custom_domain != current:
                # A new domain: one a System Manager listed in Meetings Settings (domains.py).
                from meetings_addon.hosts.frappe.services import services

                check_custom_domain(services(), self.custom_domain, current)
        except InvalidRule as error:
            self.throw_on(error.field, error.reason)

    def validate_video_conferencing(self):
        if not getattr(self, "video_conferencing", None):
            return  # nothing to check: no settings or calendars to read
        from meetings_addon.conferencing import validate_link
        from meetings_addon.hosts.frappe.services import services

        try:
            validate_link(services(), self.as_dict(), self.get_doc_before_save())  # None when new
        except InvalidRule as error:
            self.throw_on(error.field, error.reason)

    def apply_consent_defaults(self):
        """A new link takes consent and its texts from Meetings Settings (booking/consent.py).
        Frappe has already put the JSON defaults in: an unticked consent_enabled counts as not
        chosen, so with GDPR on in the settings every new link starts with it on. An empty
        consent_type (no JSON default) takes the settings' type, on both hosts."""
        values = self.as_dict()
        if not self.consent_enabled:
            values.update(consent_enabled=None)
        settings = frappe.get_cached_doc("Meetings Settings").as_dict()
        changes = new_link_defaults(values, settings)
        for row in changes.pop("subscriptions", []):
            self.append("subscriptions", row)
        self.update(changes)

    def validate_consent(self):
        try:
            validate_consent_rules(self.as_dict())
        except InvalidRule as error:
            self.throw_on(error.field, error.reason)

    def throw_on(self, fieldname, message):
        """Refuse the document with a message that starts with the field's label."""
        label = self.meta.get_label(fieldname)
        label = _(label) if label and label != "No Label" else fieldname
        frappe.throw(
            f"{label}: {message}",
            exc=frappe.ValidationError,
            title=_("Invalid {0}").format(label),
        )

    def clear_other_defaults(self):
        others = frappe.get_all(
            "Meeting Link",
            filters={"host": self.host, "is_default": 1, "name": ("!=", self.name)},
            pluck="name",
        )
        for name in others:
            frappe.db.set_value("Meeting Link", name, "is_default", 0)
