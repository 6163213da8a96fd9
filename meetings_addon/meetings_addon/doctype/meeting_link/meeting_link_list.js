// Copyright (c) 2026, meetings_addon developers and contributors
// For license information, please see license.txt

// Meeting links: published / unpublished, and an alert when a calendar of a link's hosts
// cannot be read (the booking page then only takes requests). The alerts come from
// meetings_addon.api.links.list_links (the signed-in user's links and their failing
// calendars).

frappe.listview_settings["Meeting Link"] = {
	add_fields: ["published", "host", "meeting_type"],

	onload(listview) {
		meetings_addon_link_alerts.load(listview);
	},

	refresh(listview) {
		meetings_addon_link_alerts.show(listview);
	},

	get_indicator(doc) {
		const failing = meetings_addon_link_alerts.failing[doc.name];
		if (failing && failing.length) return [__("Request mode"), "red", "published,=,1"];
		if (doc.published) return [__("Published"), "green", "published,=,1"];
		return [__("Unpublished"), "gray", "published,=,0"];
	},
};

const meetings_addon_link_alerts = {
	failing: {}, // link name -> its failing calendars
	loaded: false,

	load(listview) {
		frappe.call({
			method: "meetings_addon.api.links.list_links",
			type: "GET",
			callback: (r) => {
				this.failing = {};
				for (const link of r.message || []) this.failing[link.name] = link.failing_calendars || [];
				this.loaded = true;
				listview.refresh();
			},
		});
	},

	show(listview) {
		const page = listview.page;
		page.wrapper.find(".meetings-calendar-alert").remove();
		const calendars = {};
		for (const list of Object.values(this.failing)) {
			for (const c of list) calendars[`${c.connection}|${c.calendar_id || ""}`] = c;
		}
		const rows = Object.values(calendars);
		if (!rows.length) return;
		const names = rows
			.map((c) => `<b>${frappe.utils.escape_html(c.calendar_name || c.provider)}</b>`)
			.join(", ");
		const links = rows
			.map((c) => c.connection)
			.filter((v, i, all) => v && all.indexOf(v) === i)
			.map(
				(name) =>
					`<a href="/app/calendar-connection/${encodeURIComponent(name)}">${__("Open calendar settings")}</a>`
			)
			.join(" · ");
		const alert = $(`
			<div class="meetings-calendar-alert alert alert-danger" style="margin: 0 0 var(--margin-md) 0">
				${__("A calendar cannot be read: {0}.", [names])}
				${__("Your booking pages only take requests until you reconnect it or remove it.")}
				${links}
			</div>`);
		page.body.prepend(alert);
	},
};
