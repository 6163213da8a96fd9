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

# The public booking page, meetings_addon/www/meetings; the slug arrives as frappe.form_dict.slug.
website_route_rules = [
    {"from_route": "/meetings/<slug>", "to_route": "meetings"},
]

# Installation
# ------------

after_install = "meetings_addon.hosts.frappe.install.after_install"

# Development
# -----------

export_python_type_annotations = True
