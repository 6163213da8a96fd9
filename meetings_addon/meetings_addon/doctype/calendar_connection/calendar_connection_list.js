// Copyright (c) 2026, meetings_addon developers and contributors
// For license information, please see license.txt

// The user's calendar connections: Connected in green, Error in red. "Connect a calendar"
// opens a new connection form, whose Connect menu holds Connect Google, Connect Office 365
// and Add CalDAV (calendar_connection.js).

frappe.listview_settings["Calendar Connection"] = {
	add_fields: ["status", "provider", "account"],
	get_indicator(doc) {
		if (doc.status === "Error") return [__("Error"), "red", "status,=,Error"];
		if (doc.status === "Disconnected") return [__("Disconnected"), "gray", "status,=,Disconnected"];
		return [__("Connected"), "green", "status,=,Connected"];
	},
	onload(listview) {
		listview.page.add_inner_button(__("Connect a calendar"), () => frappe.new_doc("Calendar Connection"));
	},
};
