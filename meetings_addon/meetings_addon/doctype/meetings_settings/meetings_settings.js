// Copyright (c) 2026, meetings_addon developers and contributors
// For license information, please see license.txt

// frappe.ui.form.on("Meetings Settings", {
// 	refresh(frm) {

// 	},
// });
