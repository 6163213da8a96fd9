// Copyright (c) 2026, meetings_addon developers and contributors
// For license information, please see license.txt

// The calendar settings of one user: connect Google / Office 365 (OAuth) or a CalDAV
// account, choose the calendars checked for availability and the default one, remove a
// failing calendar, disconnect. Everything goes through meetings_addon.api.connections,
// which acts on the signed-in user's own connections only; secrets never come back.

const MEETINGS_API = "meetings_addon.api.connections.";

frappe.provide("meetings_addon.calendar_connection");

meetings_addon.calendar_connection = {
	connect_oauth(provider) {
		// google_start / microsoft_start answer the provider's consent page; the provider
		// sends the browser back to the *_callback route, which opens the saved connection.
		frappe.call({
			method: MEETINGS_API + provider + "_start",
			freeze: true,
			callback: (r) => {
				const url = r.message && (r.message.url || r.message);
				if (url) window.location.href = url;
			},
		});
	},

	add_caldav(after) {
		const dialog = new frappe.ui.Dialog({
			title: __("Add a CalDAV calendar"),
			fields: [
				{
					fieldname: "caldav_url",
					fieldtype: "Data",
					options: "URL",
					label: __("CalDAV URL"),
					reqd: 1,
					description: __(
						"The address your provider gives for CalDAV, e.g. https://cloud.example.com/remote.php/dav"
					),
				},
				{ fieldname: "caldav_username", fieldtype: "Data", label: __("Username"), reqd: 1 },
				{
					fieldname: "caldav_password",
					fieldtype: "Password",
					label: __("App password"),
					reqd: 1,
					description: __("An app password made for this use, not your main password."),
				},
			],
			primary_action_label: __("Connect"),
			primary_action(values) {
				frappe.call({
					method: MEETINGS_API + "add_caldav",
					args: values,
					freeze: true,
					freeze_message: __("Checking the account..."),
					callback: (r) => {
						if (!r.message) return;
						dialog.hide();
						frappe.show_alert({ message: __("Calendar connected"), indicator: "green" });
						if (after) after(r.message);
						else frappe.set_route("Form", "Calendar Connection", r.message.name);
					},
					error: (r) => {
						// The server names the wrong field (caldav_url / caldav_username / caldav_password).
						const field = r && r.responseJSON && r.responseJSON.field;
						if (field && dialog.fields_dict[field]) dialog.fields_dict[field].$input.focus();
					},
				});
			},
		});
		dialog.show();
	},

	choose_calendars(frm) {
		frappe.call({
			method: MEETINGS_API + "available_calendars",
			args: { connection: frm.doc.name },
			freeze: true,
			callback: (r) => {
				const calendars = r.message || [];
				const writable = calendars.filter((c) => c.can_be_default);
				const current = calendars.find((c) => c.is_default) || writable[0];
				const dialog = new frappe.ui.Dialog({
					title: __("Calendars of {0}", [frm.doc.account || frm.doc.provider]),
					fields: [
						{
							fieldname: "calendars",
							fieldtype: "MultiCheck",
							label: __("Busy times of these calendars block your booking pages"),
							options: calendars.map((c) => ({
								label: c.calendar_name || c.calendar_id,
								value: c.calendar_id,
								checked: c.check_availability || c.is_default,
							})),
						},
						{
							fieldname: "default_calendar",
							fieldtype: "Select",
							label: __("New meetings are written to"),
							reqd: 1,
							options: writable.map((c) => ({
								label: c.calendar_name || c.calendar_id,
								value: c.calendar_id,
							})),
							default: current ? current.calendar_id : null,
						},
					],
					primary_action_label: __("Save"),
					primary_action(values) {
						frappe.call({
							method: MEETINGS_API + "set_calendars",
							args: {
								connection: frm.doc.name,
								calendars: values.calendars || [],
								default_calendar: values.default_calendar,
							},
							freeze: true,
							callback: () => {
								dialog.hide();
								frm.reload_doc();
							},
						});
					},
				});
				dialog.show();
			},
		});
	},

	remove_calendar(frm, row) {
		frappe.confirm(
			__("Remove {0} from this connection? Its busy times will no longer block your pages.", [
				frappe.utils.escape_html(row.calendar_name || row.calendar_id),
			]),
			() =>
				frappe.call({
					method: MEETINGS_API + "remove_calendar",
					args: { connection: frm.doc.name, calendar_id: row.calendar_id },
					freeze: true,
					callback: () => frm.reload_doc(),
				})
		);
	},

	disconnect(frm) {
		frappe.confirm(
			__("Disconnect {0}? Its access is revoked where the provider allows it, and its secrets are forgotten.", [
				frappe.utils.escape_html(frm.doc.account || frm.doc.provider),
			]),
			() =>
				frappe.call({
					method: MEETINGS_API + "disconnect",
					args: { connection: frm.doc.name },
					freeze: true,
					callback: () => frappe.set_route("List", "Calendar Connection"),
				})
		);
	},

	status_pill(value) {
		// The calendars table: Failing in red, OK in green.
		if (!value) return "";
		const colour = value === "Failing" ? "red" : value === "OK" ? "green" : "gray";
		return `<span class="indicator-pill ${colour}">${frappe.utils.escape_html(__(value))}</span>`;
	},

	add_connect_buttons(target, after) {
		const group = __("Connect");
		const api = meetings_addon.calendar_connection;
		target.add_custom_button(__("Connect Google"), () => api.connect_oauth("google"), group);
		target.add_custom_button(__("Connect Office 365"), () => api.connect_oauth("microsoft"), group);
		target.add_custom_button(__("Add CalDAV"), () => api.add_caldav(after), group);
	},
};

frappe.ui.form.on("Calendar Connection", {
	setup() {
		const fields = frappe.meta.docfield_map["Calendar Connection Calendar"];
		if (fields && fields.status) {
			fields.status.formatter = (value) => meetings_addon.calendar_connection.status_pill(value);
		}
	},

	refresh(frm) {
		const api = meetings_addon.calendar_connection;
		api.add_connect_buttons(frm);
		if (frm.is_new()) return;

		if (frm.doc.provider !== "Local") {
			frm.add_custom_button(__("Choose Calendars"), () => api.choose_calendars(frm));
			frm.add_custom_button(__("Disconnect"), () => api.disconnect(frm));
		}
		const failing = (frm.doc.calendars || []).filter((row) => row.status === "Failing");
		for (const row of failing) {
			frm.add_custom_button(
				__("Remove {0}", [row.calendar_name || row.calendar_id]),
				() => api.remove_calendar(frm, row),
				__("Failing calendars")
			);
		}
		if (frm.doc.status === "Error" || failing.length) {
			const names = failing.map((row) => frappe.utils.escape_html(row.calendar_name || row.calendar_id));
			const what = frm.doc.status === "Error" ? __("This account cannot be read") : __("Cannot be read: {0}", [names.join(", ")]);
			frm.set_intro(
				`${what}. ${__(
					"Your booking pages only take requests until you reconnect it or remove the failing calendar."
				)}${frm.doc.error ? "<br><small>" + frappe.utils.escape_html(frm.doc.error) + "</small>" : ""}`,
				"red"
			);
		} else {
			frm.set_intro("");
		}
		frm.refresh_field("calendars"); // with the status formatter set up above
	},
});
