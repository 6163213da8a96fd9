"""What `bench install-app meetings_addon` (and migrate) leaves on the site."""

import json
from pathlib import Path

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.hosts.frappe.install import default_internal_domains, parse_domains  # noqa: E402

CORE_DOCTYPES = Path(__file__).resolve().parents[2] / "meetings_addon" / "hosts" / "standalone" / "core_doctypes.json"


def test_the_app_is_installed_with_its_hooks(site):
    assert "meetings_addon" in frappe.get_installed_apps()
    rules = frappe.get_hooks("website_route_rules", app_name="meetings_addon")
    assert {"from_route": "/meetings/<slug>", "to_route": "meetings"} in rules
    assert "meetings_addon.hosts.frappe.http.after_request" in frappe.get_hooks("after_request")
    cron = frappe.get_hooks("scheduler_events").get("cron", {})
    assert "meetings_addon.hosts.frappe.jobs.enqueue_due_retries" in cron.get("* * * * *", [])
    for doctype in ("Meeting Link", "Booking", "Calendar Connection", "Local Calendar Event", "Meetings Settings"):
        assert frappe.db.exists("DocType", doctype), doctype
        assert frappe.get_meta(doctype).module == "Meetings Addon"


def test_contact_email_index_exists(site):
    assert frappe.db.has_index("tabContact Email", "email_id_index")
    columns = frappe.db.sql(
        "show index from `tabContact Email` where Key_name = 'email_id_index'", as_dict=True
    )
    assert [c.Column_name for c in columns] == ["email_id"]


def test_internal_domains_were_prefilled(site):
    value = frappe.db.get_single_value("Meetings Settings", "internal_domains")
    if not default_internal_domains():
        pytest.skip("no system user with a company domain on this site: nothing to prefill")
    assert value and value.strip(), "Meetings Settings.internal_domains is empty after install"
    assert parse_domains(value) == value.split("\n")


def test_core_doctypes_of_the_standalone_host_match_frappe(site):
    """hosts/standalone/core_doctypes.json copies the fields of Frappe's own doctypes the
    core uses: every one must exist here with the same type (and target)."""
    spec = json.loads(CORE_DOCTYPES.read_text())
    problems = []
    for doctype, info in spec.items():
        if doctype.startswith("_"):
            continue
        if info.get("app") and info["app"] not in frappe.get_installed_apps():
            continue  # Frappe CRM's doctypes: checked only where CRM is installed
        meta = frappe.get_meta(doctype)
        if bool(info.get("istable")) != bool(meta.istable):
            problems.append(f"{doctype}: istable {meta.istable}")
        for field in info["fields"]:
            fieldname, fieldtype, *options = field
            df = meta.get_field(fieldname)
            if df is None:
                problems.append(f"{doctype}.{fieldname}: no such field in Frappe {frappe.__version__}")
            elif df.fieldtype != fieldtype:
                problems.append(f"{doctype}.{fieldname}: {df.fieldtype} in Frappe, {fieldtype} in core_doctypes.json")
            elif options and df.options != options[0]:
                problems.append(f"{doctype}.{fieldname}: options {df.options!r} in Frappe, {options[0]!r} here")
    assert not problems, "\n".join(problems)
