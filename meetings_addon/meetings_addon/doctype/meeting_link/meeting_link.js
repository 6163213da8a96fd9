// Copyright (c) 2026, meetings_addon developers and contributors
// For license information, please see license.txt

frappe.ui.form.on("Meeting Link", {
	onload(frm) {
		// The server defaults it from the host too; this fills the mandatory field in the form.
		if (frm.is_new() && !frm.doc.timezone && frappe.boot.time_zone) {
			frm.set_value("timezone", frappe.boot.time_zone.user || frappe.boot.time_zone.system);
		}
	},
});
