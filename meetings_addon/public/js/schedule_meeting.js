// "Schedule meeting" on the desk forms of Contact, CRM Lead and CRM Deal (hooks.py
// doctype_js). A dialog with the user's free slots (meetings_addon.api.schedule.free_slots:
// the same engine, their calendars), duration, subject, description and location; the
// record's upcoming meetings can be moved, edited or cancelled from the same button group.
(function () {
	// One file for the three forms: Frappe evaluates it with each form's code, the
	// handlers are registered once.
	if (frappe.meetings_schedule_loaded) return;
	frappe.meetings_schedule_loaded = true;
	const API = "meetings_addon.api.schedule.";
	const DURATIONS = ["15", "30", "45", "60", "90"];

	function user_zone() {
		const tz = frappe.boot.time_zone || {};
		return tz.user || tz.system || Intl.DateTimeFormat().resolvedOptions().timeZone;
	}

	function label(iso, zone) {
		return new Intl.DateTimeFormat(undefined, {
			hour: "2-digit", minute: "2-digit", timeZone: zone,
		}).format(new Date(iso));
	}

	function load_slots(dialog) {
		const values = dialog.get_values(true);
		if (!values.date) return;
		const zone = user_zone();
		frappe.call({
			method: API + "free_slots",
			args: { start: values.date, end: values.date, duration: values.duration, timezone: zone },
		}).then((r) => {
			const answer = r.message || {};
			const options = (answer.slots || []).map((s) => ({ value: s.start, label: label(s.start, zone) }));
			const field = dialog.get_field("start");
			field.df.options = options;
			field.df.description = options.length ? "" : __("No free time on this day");
			field.refresh();
			dialog.set_value("start", options.length ? options[0].value : "");
			dialog.get_field("notice").$wrapper.html(
				answer.message ? `<div class="alert alert-warning">${frappe.utils.escape_html(answer.message)}</div>` : ""
			);
		});
	}

	function schedule_dialog(frm) {
		const dialog = new frappe.ui.Dialog({
			title: __("Schedule meeting"),
			fields: [
				{ fieldname: "notice", fieldtype: "HTML" },
				{ fieldname: "duration", fieldtype: "Select", label: __("Duration (minutes)"), options: DURATIONS, default: "30",
				  onchange: () => load_slots(dialog) },
				{ fieldname: "date", fieldtype: "Date", label: __("Date"), reqd: 1, default: frappe.datetime.get_today(),
				  onchange: () => load_slots(dialog) },
				{ fieldname: "start", fieldtype: "Select", label: __("Time"), reqd: 1, options: [] },
				{ fieldname: "subject", fieldtype: "Data", label: __("Subject"),
				  default: "Meeting with {{ first_name }} {{ last_name }}",
				  description: __("{{ first_name }}, {{ last_name }} and {{ company }} are filled from the record") },
				{ fieldname: "location", fieldtype: "Data", label: __("Location") },
				{ fieldname: "description", fieldtype: "Small Text", label: __("Description") },
			],
			primary_action_label: __("Schedule"),
			primary_action(values) {
				frappe.call({
					method: API + "schedule",
					args: {
						reference_doctype: frm.doctype, reference_name: frm.doc.name, start: values.start,
						duration: values.duration, subject: values.subject, description: values.description,
						location: values.location, timezone: user_zone(),
					},
					freeze: true,
				}).then((r) => {
					dialog.hide();
					const answer = r.message || {};
					frappe.show_alert({
						message: answer.invited
							? __("Meeting scheduled; {0} sends the invitation", [answer.calendar])
							: answer.message || __("Meeting logged"),
						indicator: answer.invited ? "green" : "orange",
					}, 8);
					frm.reload_doc();
				});
			},
		});
		dialog.show();
		load_slots(dialog);
	}

	function change_dialog(frm, meeting) {
		const zone = user_zone();
		const dialog = new frappe.ui.Dialog({
			title: __("Change meeting"),
			fields: [
				{ fieldname: "date", fieldtype: "Date", label: __("New date"),
				  default: frappe.datetime.get_today(), onchange: () => load_slots(dialog) },
				{ fieldname: "duration", fieldtype: "Data", hidden: 1,
				  default: String(Math.round((new Date(meeting.end) - new Date(meeting.start)) / 60000)) },
				{ fieldname: "start", fieldtype: "Select", label: __("New time (leave empty to keep)"), options: [] },
				{ fieldname: "notice", fieldtype: "HTML" },
				{ fieldname: "description", fieldtype: "Small Text", label: __("Description") },
			],
			primary_action_label: __("Save"),
			primary_action(values) {
				const args = { booking: meeting.name };
				if (values.start) args.start = values.start;
				if (values.description) args.description = values.description;
				frappe.call({
					method: API + "update",
					args,
					freeze: true,
				}).then(() => { dialog.hide(); frappe.show_alert({ message: __("Meeting updated"), indicator: "green" }); frm.reload_doc(); });
			},
			secondary_action_label: __("Cancel meeting"),
			secondary_action() {
				frappe.confirm(__("Cancel this meeting? The guest is told."), () =>
					frappe.call({ method: API + "cancel", args: { booking: meeting.name }, freeze: true })
						.then(() => { dialog.hide(); frm.reload_doc(); })
				);
			},
		});
		dialog.show();
		dialog.set_df_property("date", "description", __("Now: {0}", [`${meeting.start.slice(0, 10)} ${label(meeting.start, zone)}`]));
	}

	function setup(frm) {
		if (frm.is_new()) return;
		frm.add_custom_button(__("Schedule meeting"), () => schedule_dialog(frm), __("Meetings"));
		frappe.call({
			method: API + "meetings",
			args: { reference_doctype: frm.doctype, reference_name: frm.doc.name },
		}).then((r) => {
			const now = new Date();
			(r.message || [])
				.filter((m) => m.status === "Confirmed" && new Date(m.end) > now)
				.forEach((m) => {
					const when = `${m.start.slice(0, 10)} ${label(m.start, user_zone())}`;
					frm.add_custom_button(`${__("Change")}: ${when}`, () => change_dialog(frm, m), __("Meetings"));
				});
		});
	}

	for (const doctype of ["Contact", "CRM Lead", "CRM Deal"]) {
		frappe.ui.form.on(doctype, { refresh: setup });
	}
})();
