# Frappe reads this module for its data only: no imports, no code (see docs/ARCHITECTURE.md).

app_name = "meetings_addon"
app_title = "Meetings"
app_publisher = "meetings_addon developers"
app_description = "Meeting links, calendar sync and CRM timelines for Frappe CRM"
app_email = ""
app_license = "MIT"

# Apps
# ------------------

# Frappe CRM is optional: nothing links to its doctypes (Booking uses a Dynamic Link).
required_apps = []

# Website
# ------------------

# The public booking page, meetings_addon/www/meetings: the slug (or the manage link's token)
# arrives in frappe.form_dict.
website_route_rules = [
    {"from_route": "/meetings/<slug>", "to_route": "meetings"},
    {"from_route": "/meetings/manage/<token>", "to_route": "meetings"},
]

# Desk forms
# ----------

# "Schedule meeting" on Contact and, where Frappe CRM is installed, on CRM Lead and CRM
# Deal. Frappe reads doctype_js only for a doctype whose form it loads
# (frappe/desk/form/meta.py add_code_via_hook), so the CRM entries are inert without CRM.
doctype_js = {
    "Contact": "public/js/schedule_meeting.js",
    "CRM Lead": "public/js/schedule_meeting.js",
    "CRM Deal": "public/js/schedule_meeting.js",
}

# Fixtures
# --------

# Frappe CRM's own UI: a CRM Form Script per doctype adds "Schedule meeting" (same API).
# Without CRM, Frappe skips the file (frappe/utils/fixtures.py: DoesNotExistError).
fixtures = [
    {
        "dt": "CRM Form Script",
        "filters": [["name", "in", ["Meetings: Schedule meeting (Lead)", "Meetings: Schedule meeting (Deal)"]]],
    },
]

# Request hooks
# -------------

# Retry-After on a guest's 429; no Referer or caching for the manage page's token.
after_request = ["meetings_addon.hosts.frappe.http.after_request"]

# Scheduled Tasks
# ---------------

# Failed jobs wait for their retry in Redis; this queues the ones that are due.
scheduler_events = {
    "cron": {
        "* * * * *": [
            "meetings_addon.hosts.frappe.jobs.enqueue_due_retries",
            # Calendar sync's fallback to push: queues the calendars due per Meetings Settings.sync_interval.
            "meetings_addon.hosts.frappe.jobs.poll_calendar_sync",
            # Reminder emails that are due, one job each (notifications/reminders.py).
            "meetings_addon.hosts.frappe.jobs.queue_due_reminders",
        ],
    },
    # Push channels (Google watch, Graph subscriptions): opened, renewed before they expire.
    "hourly": ["meetings_addon.hosts.frappe.jobs.ensure_sync_channels"],
}

# Installation
# ------------

after_install = "meetings_addon.hosts.frappe.install.after_install"
# Frappe CRM installed after this app: its Lead and Deal show Events in their timeline.
after_app_install = "meetings_addon.hosts.frappe.install.after_app_install"

# Development
# -----------

export_python_type_annotations = True
