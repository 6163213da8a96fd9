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

# Request hooks
# -------------

# Retry-After on a guest's 429; no Referer or caching for the manage page's token.
after_request = ["meetings_addon.hosts.frappe.http.after_request"]

# Scheduled Tasks
# ---------------

# Failed jobs wait for their retry in Redis; this queues the ones that are due.
scheduler_events = {
    "cron": {
        "* * * * *": ["meetings_addon.hosts.frappe.jobs.enqueue_due_retries"],
    },
}

# Installation
# ------------

after_install = "meetings_addon.hosts.frappe.install.after_install"

# Development
# -----------

export_python_type_annotations = True
