/*
 * The public booking page's script (meetings_addon/templates/meetings/booking_page.html),
 * served unchanged by Frappe and by the standalone host at
 * /assets/meetings_addon/js/booking_page.js. Vanilla JavaScript, no build step.
 *
 * The server renders the link's facts; this script asks CONTRACT.md's booking API for the
 * slots (once per month shown, time zone and duration), books, cancels and reschedules.
 * Strings go through the __ function: the server embeds their translations for the
 * page's language in #mt-config (it finds them by scanning this file for calls of __
 * with a string literal, so keep each message a plain double-quoted literal). Dates and times are formatted with
 * Intl in the visitor's time zone. Every value from the server or the visitor is put in
 * the page as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  var configElement = document.getElementById("mt-config");
  if (!configElement) return;
  var config;
  try {
    config = JSON.parse(configElement.textContent || "{}");
  } catch (error) {
    return;
  }
  var messages = config.messages || {};

  function __(text, args) {
    var out = Object.prototype.hasOwnProperty.call(messages, text) ? messages[text] : text;
    if (args) {
      out = out.replace(/\{(\d+)\}/g, function (match, index) {
        return args[index] === undefined ? match : String(args[index]);
      });
    }
    return out;
  }

  function $(id) {
    return document.getElementById(id);
  }

  /** A DOM element: h("p", {class: "x"}, "text", child, ...). Strings become text nodes. */
  function h(tag, attributes) {
    var node = document.createElement(tag);
    var name;
    for (name in attributes || {}) {
      if (!Object.prototype.hasOwnProperty.call(attributes, name)) continue;
      var value = attributes[name];
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function show(element, visible) {
    if (element) element.hidden = !visible;
  }

  // --- locale and time zones -------------------------------------------------------------

  var LOCALE = (function () {
    var base = String(config.lang || "en").split("-")[0].toLowerCase();
    var preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (var i = 0; i < preferred.length; i++) {
      var tag = preferred[i];
      if (tag && tag.split("-")[0].toLowerCase() === base) {
        try {
          if (Intl.DateTimeFormat.supportedLocalesOf([tag]).length) return tag;
        } catch (error) { /* an odd tag: use the page's language */ }
      }
    }
    return config.lang || "en";
  })();

  function zoneIsValid(zone) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      return true;
    } catch (error) {
      return false;
    }
  }

  function detectZone(fallback) {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && zoneIsValid(zone)) return zone;
    } catch (error) { /* older browsers */ }
    return fallback || "UTC";
  }

  var formatters = {};
  function formatter(key, options) {
    if (!formatters[key]) formatters[key] = new Intl.DateTimeFormat(LOCALE, options);
    return formatters[key];
  }

  function zoneOffset(zone, at) {
    try {
      var parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "shortOffset" }).formatToParts(at);
      for (var i = 0; i < parts.length; i++) if (parts[i].type === "timeZoneName") return parts[i].value;
    } catch (error) { /* shortOffset unsupported */ }
    return "";
  }

  function zoneName(zone) {
    return zone.replace(/_/g, " ");
  }

  function zoneLabel(zone) {
    var offset = zoneOffset(zone, new Date());
    return offset ? zoneName(zone) + " (" + offset + ")" : zoneName(zone);
  }

  var zoneListCache = null;
  function allZones(extra) {
    if (!zoneListCache) {
      var zones = [];
      try {
        zones = Intl.supportedValuesOf("timeZone").slice();
      } catch (error) { /* older browsers: the few below */ }
      if (zones.indexOf("UTC") < 0) zones.push("UTC");
      var now = new Date();
      zoneListCache = zones.sort().map(function (zone) {
        var offset = zoneOffset(zone, now);
        return { zone: zone, label: offset ? zoneName(zone) + " (" + offset + ")" : zoneName(zone) };
      });
    }
    if (extra && !zoneListCache.some(function (z) { return z.zone === extra; })) {
      zoneListCache.push({ zone: extra, label: zoneLabel(extra) });
    }
    return zoneListCache;
  }

  // --- dates ("YYYY-MM-DD" strings; months are 1-12) -------------------------------------

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }
  function ymd(y, m, d) {
    return y + "-" + pad(m) + "-" + pad(d);
  }
  function daysInMonth(y, m) {
    return new Date(Date.UTC(y, m, 0)).getUTCDate();
  }
  function utcDate(day) {
    return new Date(Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10), 12));
  }
  function addDays(day, n) {
    var date = utcDate(day);
    date.setUTCDate(date.getUTCDate() + n);
    return ymd(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
  }
  function dayInZone(instant, zone) {
    var parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(instant);
    var value = {};
    parts.forEach(function (p) { value[p.type] = p.value; });
    return value.year + "-" + value.month + "-" + value.day;
  }
  function firstWeekday() {
    // 0 = Sunday ... 6 = Saturday; Intl.Locale's week info where the browser has it.
    try {
      var locale = new Intl.Locale(LOCALE);
      var info = typeof locale.getWeekInfo === "function" ? locale.getWeekInfo() : locale.weekInfo;
      if (info && info.firstDay) return info.firstDay % 7;
    } catch (error) { /* no week info */ }
    return /^en-US$|^en$|^pt-BR$|^ja|^ko|^zh|^he/i.test(LOCALE) ? 0 : 1;
  }

  var HOUR_CYCLE = (function () {
    try {
      return new Intl.DateTimeFormat(LOCALE, { hour: "numeric" }).resolvedOptions().hourCycle || "h12";
    } catch (error) {
      return "h12";
    }
  })();
  // 12- or 24-hour clock as the locale writes it ("9:00 AM", "09:00").
  var HOUR = HOUR_CYCLE === "h23" || HOUR_CYCLE === "h24" ? "2-digit" : "numeric";

  function formatTime(instant, zone) {
    return formatter("time|" + zone, { hour: HOUR, minute: "2-digit", timeZone: zone }).format(instant);
  }
  function formatDayLong(day) {
    return formatter("daylong", { weekday: "long", month: "long", day: "numeric", timeZone: "UTC" }).format(utcDate(day));
  }
  function formatMonth(y, m) {
    return formatter("month", { month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, 15)));
  }
  function formatRange(start, end, zone) {
    var f = formatter("range|" + zone, {
      weekday: "long", year: "numeric", month: "long", day: "numeric", hour: HOUR, minute: "2-digit", timeZone: zone,
    });
    try {
      return f.formatRange(start, end);
    } catch (error) {
      return f.format(start);
    }
  }

  /** "Wednesday, March 5, 2031, 10:00 – 10:30 AM" and, quieter, "Europe/Paris (GMT+1)". */
  function whenNode(start, end, zone) {
    var fragment = document.createDocumentFragment();
    fragment.appendChild(document.createTextNode(formatRange(new Date(Date.parse(start)), new Date(Date.parse(end)), zone) + " "));
    fragment.appendChild(h("span", { class: "mt-zone", text: "· " + zoneLabel(zone) }));
    return fragment;
  }

  // --- the booking API (CONTRACT.md; both hosts answer as Frappe does) -------------------

  function ApiError(status, body, retryAfter) {
    this.status = status;
    this.body = body || {};
    this.field = (body && body.field) || "";
    this.retryAfter = retryAfter;
    this.serverMessage = serverMessage(body, this.field);
  }

  function serverMessage(body, field) {
    if (!body) return "";
    var text = "";
    try {
      var list = JSON.parse(body._server_messages || "[]");
      if (list.length) text = JSON.parse(list[0]).message || "";
    } catch (error) { /* no message */ }
    text = String(text).replace(/<[^>]*>/g, "").trim();
    if (field && text.indexOf(field + ": ") === 0) text = text.slice(field.length + 2);
    return text;
  }

  function api(method, params, post) {
    var url = (config.api || "/api/method/meetings_addon.api.booking.") + method;
    var options = { headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (post) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(params);
    } else {
      url += "?" + new URLSearchParams(params).toString();
    }
    return fetch(url, options).then(
      function (response) {
        return response.text().then(function (text) {
          var body = null;
          try {
            body = text ? JSON.parse(text) : null;
          } catch (error) { /* not JSON: a proxy's error page */ }
          if (response.ok && body && Object.prototype.hasOwnProperty.call(body, "message")) return body.message;
          throw new ApiError(response.status, body, response.headers.get("Retry-After"));
        });
      },
      function () {
        throw new ApiError(0, null, null);
      }
    );
  }

  /** A sentence for the visitor: never a stack trace, whatever the server said. */
  function describe(error, context) {
    if (!(error instanceof ApiError)) return __("Something went wrong on our side. Please try again in a moment.");
    switch (error.status) {
      case 0:
        return __("We could not reach the server. Check your connection and try again.");
      case 404:
        return context === "manage"
          ? __("This link to manage a meeting is not valid.")
          : __("This meeting link is no longer available.");
      case 409:
        return __("Sorry, that time was just taken. Please choose another one.");
      case 429:
        return __("Too many requests. Please wait {0} seconds and try again.", [error.retryAfter || 60]);
      case 400:
      case 417:
        return fieldMessage(error) || __("Please check the details you entered.");
      default:
        return __("Something went wrong on our side. Please try again in a moment.");
    }
  }

  /** The server's reason for a wrong field, in the page's language where it is a known one. */
  function fieldMessage(error) {
    var reason = error.serverMessage || "";
    if (/is required$/.test(reason)) return __("This field is required.");
    if (/must be checked$/.test(reason)) return __("Please check this box to continue.");
    if (error.field === "consent") return __("Please accept to continue.");
    if (error.field === "email" && /not a valid email/.test(reason)) return __("Enter a valid email address, like name@example.com.");
    if (/is not a phone number$/.test(reason)) return __("Enter a valid phone number, like +33 1 23 45 67 89.");
    if (/must be a whole number$/.test(reason)) return __("Enter a whole number.");
    if (/may not contain markup/.test(reason)) return __("Please remove the angle brackets from this field.");
    return reason;
  }

  // --- embedding and sharing -------------------------------------------------------------

  function setupEmbedResize() {
    if (window.parent === window) return;
    var shell = $("mt-shell");
    if (!shell) return;
    var last = 0;
    function post() {
      var style = getComputedStyle(document.body);
      var height = Math.ceil(shell.getBoundingClientRect().height + parseFloat(style.marginTop || 0) + parseFloat(style.marginBottom || 0));
      if (height === last) return;
      last = height;
      window.parent.postMessage({ type: "meetings:resize", height: height }, "*");
    }
    if (typeof ResizeObserver === "function") new ResizeObserver(post).observe(shell);
    window.addEventListener("load", post);
    post();
  }

  function setupCopyButtons() {
    var status = $("mt-copy-status");
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
      button.addEventListener("click", function () {
        var field = $(button.getAttribute("data-copy"));
        if (!field) return;
        field.focus();
        field.select();
        function done(ok) {
          if (status) status.textContent = ok ? __("Copied to the clipboard.") : __("Press Ctrl+C to copy.");
        }
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(legacyCopy()); });
        } else {
          done(legacyCopy());
        }
      });
    });
    function legacyCopy() {
      try {
        return document.execCommand("copy");
      } catch (error) {
        return false;
      }
    }
  }

  // --- the month view, the day's slots and the time zone ---------------------------------

  /**
   * options: link, duration, durations, window {first, last}, zone, onPick(slot),
   * onMode(mode). Returns {refresh(message), zone(), duration(), focusSelected()}.
   */
  function createPicker(options) {
    var state = {
      zone: options.zone,
      duration: options.duration,
      month: null,
      day: null,
      data: null,
      cache: {},
      pending: {},
      initial: true,
      today: dayInZone(new Date(config.now || Date.now()), options.zone),
    };
    var grid = $("mt-days");
    var weekdays = $("mt-weekdays");
    var monthTitle = $("mt-month");
    var prev = $("mt-prev");
    var next = $("mt-next");
    var loading = $("mt-loading");
    var dayTitle = $("mt-day-title");
    var slotsList = $("mt-slots");
    var slotsStatus = $("mt-slots-status");
    var alertBox = $("mt-pick-alert");
    var tzToggle = $("mt-tz-toggle");
    var tzLabel = $("mt-tz-label");
    var tzPanel = $("mt-tz-panel");
    var tzSearch = $("mt-tz-search");
    var tzList = $("mt-tz-list");

    function key(y, m) {
      return state.zone + "|" + state.duration + "|" + ymd(y, m, 1);
    }

    function load(y, m, fresh) {
      var k = key(y, m);
      if (fresh) delete state.cache[k];
      if (state.cache[k]) return Promise.resolve(state.cache[k]);
      if (state.pending[k]) return state.pending[k];
      var request = api("get_slots", {
        link: options.link,
        start: ymd(y, m, 1),
        end: ymd(y, m, daysInMonth(y, m)),
        timezone: state.zone,
        duration: state.duration,
      }).then(function (answer) {
        var byDay = {};
        (answer.slots || []).forEach(function (slot) {
          var day = slot.start.slice(0, 10);
          (byDay[day] = byDay[day] || []).push({ start: slot.start, end: slot.end, instant: Date.parse(slot.start) });
        });
        var data = { byDay: byDay, days: Object.keys(byDay).sort(), mode: answer.mode || "book" };
        state.cache[k] = data;
        return data;
      });
      state.pending[k] = request;
      var clear = function () { delete state.pending[k]; };
      request.then(clear, clear);
      return request;
    }

    function monthOf(day) {
      return { y: +day.slice(0, 4), m: +day.slice(5, 7) };
    }
    function shiftMonth(month, n) {
      var index = month.y * 12 + (month.m - 1) + n;
      return { y: Math.floor(index / 12), m: (index % 12) + 1 };
    }
    function canGo(month, n) {
      var target = shiftMonth(month, n);
      var first = ymd(target.y, target.m, 1);
      var last = ymd(target.y, target.m, daysInMonth(target.y, target.m));
      if (last < state.today.slice(0, 8) + "01") return false;
      if (n < 0 && last < state.today) return false;
      var window = options.window;
      if (window && window.last && first > addDays(window.last, 1)) return false;
      return true;
    }

    function renderWeekdays() {
      weekdays.textContent = "";
      var start = firstWeekday();
      var short = formatter("wd-short", { weekday: "short", timeZone: "UTC" });
      var long = formatter("wd-long", { weekday: "long", timeZone: "UTC" });
      for (var i = 0; i < 7; i++) {
        // 2023-01-01 was a Sunday.
        var date = new Date(Date.UTC(2023, 0, 1 + ((start + i) % 7), 12));
        weekdays.appendChild(h("th", { scope: "col", abbr: long.format(date) }, h("span", { "aria-hidden": "true", text: short.format(date) }), h("span", { class: "mt-visually-hidden", text: long.format(date) })));
      }
    }

    function renderGrid() {
      var month = state.month;
      var data = state.data;
      monthTitle.textContent = formatMonth(month.y, month.m);
      prev.disabled = !canGo(month, -1);
      next.disabled = !canGo(month, 1);
      grid.textContent = "";
      var start = firstWeekday();
      var lead = (new Date(Date.UTC(month.y, month.m - 1, 1)).getUTCDay() - start + 7) % 7;
      var count = daysInMonth(month.y, month.m);
      var row = h("tr");
      for (var i = 0; i < lead; i++) row.appendChild(h("td"));
      var tabbable = state.day && data && data.byDay[state.day] ? state.day : data && data.days[0];
      for (var d = 1; d <= count; d++) {
        var day = ymd(month.y, month.m, d);
        var open = !!(data && data.byDay[day]);
        var classes = "mt-day" + (open ? " is-open" : " is-off") + (day < state.today ? " is-past" : "") + (day === state.today ? " is-today" : "");
        var cell;
        if (open) {
          cell = h("button", {
            type: "button",
            class: classes + (day === state.day ? " is-selected" : ""),
            "data-day": day,
            "aria-label": formatDayLong(day),
            "aria-pressed": day === state.day ? "true" : "false",
            "aria-current": day === state.today ? "date" : null,
            tabindex: day === tabbable ? "0" : "-1",
            text: String(d),
          });
        } else {
          cell = h("span", { class: classes, "aria-current": day === state.today ? "date" : null, text: String(d) });
        }
        row.appendChild(h("td", null, cell));
        if ((lead + d) % 7 === 0) {
          grid.appendChild(row);
          row = h("tr");
        }
      }
      if (row.childNodes.length) {
        while (row.childNodes.length < 7) row.appendChild(h("td"));
        grid.appendChild(row);
      }
    }

    function dayButtons() {
      return Array.prototype.slice.call(grid.querySelectorAll("button.mt-day"));
    }

    function focusDay(day) {
      var buttons = dayButtons();
      buttons.forEach(function (b) { b.tabIndex = b.getAttribute("data-day") === day ? 0 : -1; });
      var target = grid.querySelector('button[data-day="' + day + '"]');
      if (target) target.focus();
    }

    function renderSlots() {
      slotsList.textContent = "";
      var data = state.data;
      var slots = state.day && data && data.byDay[state.day];
      if (!state.day || !slots) {
        dayTitle.textContent = __("Select a day");
        slotsStatus.textContent = data && !data.days.length ? noTimesMessage() : "";
        return;
      }
      dayTitle.textContent = formatDayLong(state.day);
      slotsStatus.textContent = slots.length === 1 ? __("1 time available") : __("{0} times available", [slots.length]);
      slots.forEach(function (slot) {
        var label = formatTime(new Date(slot.instant), state.zone);
        slotsList.appendChild(h("li", null, h("button", {
          type: "button",
          class: "mt-slot",
          "data-start": slot.start,
          "data-instant": String(slot.instant),
          text: label,
          onclick: function () {
            options.onPick({ start: slot.start, end: slot.end, instant: slot.instant, zone: state.zone, duration: state.duration });
          },
        })));
      });
    }

    function noTimesMessage() {
      return canGo(state.month, 1)
        ? __("No times are available this month. Try the next month.")
        : __("No times are available this month.");
    }

    function selectDay(day, focus) {
      state.day = day;
      dayButtons().forEach(function (b) {
        var on = b.getAttribute("data-day") === day;
        b.setAttribute("aria-pressed", on ? "true" : "false");
        b.classList.toggle("is-selected", on);
        b.tabIndex = on ? 0 : -1;
      });
      renderSlots();
      if (focus) focusDay(day);
    }

    function showMonth(month, how) {
      how = how || {};
      var navFocused = document.activeElement === prev || document.activeElement === next;
      state.month = month;
      state.data = null;
      renderGrid();
      show(loading, true);
      loading.textContent = __("Loading available times…");
      return load(month.y, month.m, how.fresh).then(
        function (data) {
          if (state.month !== month) return;
          state.data = data;
          show(loading, false);
          if (options.onMode) options.onMode(data.mode);
          if (state.initial && !data.days.length && canGo(month, 1)) {
            state.initial = false;
            return showMonth(shiftMonth(month, 1), { select: true });
          }
          state.initial = false;
          if (!state.day || !data.byDay[state.day]) {
            if (how.select || (state.day && monthOf(state.day).y === month.y && monthOf(state.day).m === month.m)) {
              state.day = data.days[0] || null;
            }
          }
          renderGrid();
          renderSlots();
          if (how.focusDay) {
            var buttons = dayButtons();
            if (buttons.length) focusDay(how.focusDay === "last" ? buttons[buttons.length - 1].getAttribute("data-day") : (state.day && data.byDay[state.day] ? state.day : buttons[0].getAttribute("data-day")));
          }
          // The month button just pressed may now be disabled (the window's end): keep the
          // keyboard user's focus on the other one rather than losing it to the page.
          if (navFocused && (document.activeElement === document.body || document.activeElement.disabled)) {
            (next.disabled ? prev : next).focus();
          }
        },
        function (error) {
          if (state.month !== month) return;
          show(loading, true);
          loading.textContent = "";
          loading.appendChild(document.createTextNode(describe(error) + " "));
          loading.appendChild(h("button", {
            type: "button",
            class: "mt-link-button",
            text: __("Try again"),
            onclick: function () { showMonth(month, how); },
          }));
        }
      );
    }

    // Keyboard: arrows move between bookable days, Home/End to the first/last, Page Up /
    // Page Down change the month; Enter or Space picks the day (the buttons' own click).
    grid.addEventListener("keydown", function (event) {
      var target = event.target;
      if (!target || !target.matches || !target.matches("button.mt-day")) return;
      var buttons = dayButtons();
      var index = buttons.indexOf(target);
      var day = target.getAttribute("data-day");
      var goal = null;
      function nearest(wanted, direction) {
        var exact = grid.querySelector('button[data-day="' + wanted + '"]');
        if (exact) return exact;
        var candidates = buttons.filter(function (b) {
          var d = b.getAttribute("data-day");
          return direction > 0 ? d > day : d < day;
        });
        return direction > 0 ? candidates[0] : candidates[candidates.length - 1];
      }
      switch (event.key) {
        case "ArrowRight": goal = buttons[index + 1]; break;
        case "ArrowLeft": goal = buttons[index - 1]; break;
        case "ArrowDown": goal = nearest(addDays(day, 7), 1); break;
        case "ArrowUp": goal = nearest(addDays(day, -7), -1); break;
        case "Home": goal = buttons[0]; break;
        case "End": goal = buttons[buttons.length - 1]; break;
        case "PageDown":
          event.preventDefault();
          if (!next.disabled) showMonth(shiftMonth(state.month, 1), { focusDay: "first" });
          return;
        case "PageUp":
          event.preventDefault();
          if (!prev.disabled) showMonth(shiftMonth(state.month, -1), { focusDay: "first" });
          return;
        default:
          return;
      }
      event.preventDefault();
      if (goal) focusDay(goal.getAttribute("data-day"));
    });
    grid.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button.mt-day");
      if (button) selectDay(button.getAttribute("data-day"), false);
    });
    prev.addEventListener("click", function () { showMonth(shiftMonth(state.month, -1)); });
    next.addEventListener("click", function () { showMonth(shiftMonth(state.month, 1)); });

    // Duration (radio buttons, when the link offers several).
    Array.prototype.forEach.call(document.querySelectorAll('input[name="mt-duration"]'), function (radio) {
      radio.addEventListener("change", function () {
        if (!radio.checked) return;
        state.duration = +radio.value;
        showMonth(state.month);
      });
    });

    // Time zone: a button showing the zone opens a searchable list.
    function renderZoneLabel() {
      tzLabel.textContent = zoneLabel(state.zone);
    }
    function fillZones() {
      var query = tzSearch.value.trim().toLowerCase().replace(/[_\s]+/g, " ");
      tzList.textContent = "";
      allZones(state.zone).forEach(function (item) {
        if (query && item.label.toLowerCase().indexOf(query) < 0 && item.zone.toLowerCase().indexOf(query) < 0) return;
        tzList.appendChild(h("option", { value: item.zone, selected: item.zone === state.zone, text: item.label }));
      });
      if (!tzList.options.length) tzList.appendChild(h("option", { value: "", disabled: true, text: __("No matching time zone") }));
    }
    function openZones(open) {
      show(tzPanel, open);
      tzToggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) {
        tzSearch.value = "";
        fillZones();
        tzSearch.focus();
      }
    }
    var zoneTimer = null;
    function applyZone(zone, close) {
      clearTimeout(zoneTimer);
      if (!zone || !zoneIsValid(zone)) return;
      if (close) {
        openZones(false);
        tzToggle.focus();
      }
      if (zone === state.zone) return;
      state.zone = zone;
      state.today = dayInZone(new Date(config.now || Date.now()), zone);
      renderZoneLabel();
      if (options.onZone) options.onZone(zone);
      showMonth(state.month);
    }
    tzToggle.addEventListener("click", function () {
      openZones(tzPanel.hidden);
    });
    tzSearch.addEventListener("input", fillZones);
    tzSearch.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        tzList.focus();
        if (tzList.selectedIndex < 0 && tzList.options.length) tzList.selectedIndex = 0;
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (tzList.options.length && tzList.options[0].value) applyZone(tzList.options[tzList.selectedIndex < 0 ? 0 : tzList.selectedIndex].value, true);
      } else if (event.key === "Escape") {
        openZones(false);
        tzToggle.focus();
      }
    });
    tzList.addEventListener("change", function () {
      var zone = tzList.value;
      clearTimeout(zoneTimer);
      zoneTimer = setTimeout(function () { applyZone(zone, false); }, 350);
    });
    tzList.addEventListener("click", function (event) {
      if (event.target && event.target.tagName === "OPTION" && event.target.value) applyZone(event.target.value, true);
    });
    tzList.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        applyZone(tzList.value, true);
      } else if (event.key === "Escape") {
        openZones(false);
        tzToggle.focus();
      }
    });

    renderWeekdays();
    renderZoneLabel();
    var start = monthOf(state.today);
    showMonth(start, { select: true });

    return {
      zone: function () { return state.zone; },
      duration: function () { return state.duration; },
      /** The slots again from the server (a slot was taken): keep the day, say why. */
      refresh: function (message) {
        alertBox.textContent = message || "";
        show(alertBox, !!message);
        var shown = showMonth(state.month, { fresh: true });
        if (message) alertBox.focus();
        return shown;
      },
      clearAlert: function () {
        show(alertBox, false);
        alertBox.textContent = "";
      },
      focusSelected: function (start) {
        var slot = start && slotsList.querySelector('button[data-start="' + start + '"]');
        if (slot) slot.focus();
        else if (state.day) focusDay(state.day);
      },
    };
  }

  // --- the booking form ------------------------------------------------------------------

  var NAME_MARKUP = /[<>]|&#|javascript:/i;
  var PHONE = /^\+?[0-9 ().\-\/]{4,32}$/;
  var EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;

  function fieldProblem(input) {
    var kind = input.getAttribute("data-fieldtype") || "Data";
    var required = input.hasAttribute("required");
    if (kind === "Check") {
      if (required && !input.checked) return input.name === "consent" ? __("Please accept to continue.") : __("Please check this box to continue.");
      return "";
    }
    var value = input.value.trim();
    if (!value) {
      if (!required) return "";
      return kind === "Select" ? __("Please choose an option.") : __("This field is required.");
    }
    if ((input.name === "first_name" || input.name === "last_name") && NAME_MARKUP.test(value)) {
      return __("Please remove the angle brackets from this field.");
    }
    if (kind === "Email" && !EMAIL.test(value)) return __("Enter a valid email address, like name@example.com.");
    if (kind === "Phone" && !PHONE.test(value)) return __("Enter a valid phone number, like +33 1 23 45 67 89.");
    if (kind === "Int" && !/^[-+]?\d{1,12}$/.test(value)) return __("Enter a whole number.");
    return "";
  }

  function setFieldError(input, message) {
    var error = $(input.id + "-error");
    var wrapper = input.closest(".mt-field");
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (wrapper) wrapper.classList.toggle("is-invalid", !!message);
    if (error) {
      error.textContent = message || "";
      error.hidden = !message;
    }
  }

  function formInputs(form) {
    return Array.prototype.filter.call(form.querySelectorAll("input, select, textarea"), function (el) {
      return el.name && el.type !== "hidden";
    });
  }

  // Messages appear when the form is sent (never on blur: a message appearing as the
  // visitor leaves a field moves what they were about to click), then follow the typing
  // of a field marked wrong until it is right.
  function watchFields(form) {
    formInputs(form).forEach(function (input) {
      var check = function () {
        if (input.getAttribute("aria-invalid")) setFieldError(input, fieldProblem(input));
      };
      input.addEventListener(input.type === "checkbox" || input.tagName === "SELECT" ? "change" : "input", check);
    });
  }

  function validateForm(form) {
    var first = null;
    formInputs(form).forEach(function (input) {
      var problem = fieldProblem(input);
      setFieldError(input, problem);
      if (problem && !first) first = input;
    });
    return first;
  }

  // --- the booking page ------------------------------------------------------------------

  function updateMode(mode) {
    var note = $("mt-request-note");
    show(note, mode === "request");
    var submit = $("mt-submit");
    if (submit) submit.textContent = mode === "request" ? submit.getAttribute("data-request") : submit.getAttribute("data-book");
  }

  function initBooking() {
    var form = $("mt-form");
    var pickStep = $("mt-step-pick");
    var formStep = $("mt-step-form");
    var doneStep = $("mt-step-done");
    var formAlert = $("mt-form-alert");
    var submit = $("mt-submit");
    var mode = config.mode || "book";
    var chosen = null;

    var picker = createPicker({
      link: config.link,
      duration: config.duration,
      window: config.window,
      zone: detectZone(config.timezone),
      onPick: openForm,
      onMode: function (m) {
        mode = m;
        updateMode(m);
      },
    });

    function openForm(slot) {
      chosen = slot;
      picker.clearAlert();
      var chosenText = $("mt-chosen-text");
      chosenText.textContent = "";
      chosenText.appendChild(whenNode(slot.start, slot.end, slot.zone));
      show(formAlert, false);
      show(pickStep, false);
      show(formStep, true);
      var first = $("mt-first-name");
      scrollIntoViewIfNeeded(formStep);
      if (first) first.focus();
    }

    function backToPicker(message) {
      show(formStep, false);
      show(pickStep, true);
      if (message) return picker.refresh(message);
      picker.focusSelected(chosen && chosen.start);
    }

    $("mt-back").addEventListener("click", function () { backToPicker(); });
    watchFields(form);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      show(formAlert, false);
      var invalid = validateForm(form);
      if (invalid) {
        invalid.focus();
        return;
      }
      var answers = {};
      (config.questions || []).forEach(function (q) {
        var input = $(q.id);
        if (!input) return;
        answers[q.fieldname] = q.fieldtype === "Check" ? input.checked : input.value.trim();
      });
      var consent = $("mt-consent");
      var payload = {
        link: config.link,
        start: chosen.start,
        duration: chosen.duration,
        timezone: chosen.zone,
        first_name: $("mt-first-name").value.trim(),
        last_name: $("mt-last-name").value.trim(),
        email: $("mt-email").value.trim(),
        answers: answers,
        consent: consent ? consent.checked : false,
        // The subscription types ticked; the page's language, so the consent text is kept as read.
        subscriptions: Array.prototype.map.call(form.querySelectorAll('input[name="subscriptions"]:checked'), function (box) {
          return box.value;
        }),
        lang: config.lang,
      };
      submit.disabled = true;
      submit.setAttribute("aria-busy", "true");
      var label = submit.textContent;
      submit.textContent = mode === "request" ? __("Sending…") : __("Booking…");
      api("book", payload, true).then(
        function (booking) {
          showDone(booking, payload);
        },
        function (error) {
          submit.disabled = false;
          submit.removeAttribute("aria-busy");
          submit.textContent = label;
          if (error instanceof ApiError && error.status === 409) {
            backToPicker(describe(error));
            return;
          }
          var input = error instanceof ApiError && error.field ? form.querySelector('[name="' + cssEscape(error.field) + '"]') : null;
          if (input) {
            setFieldError(input, describe(error));
            input.focus();
            return;
          }
          if (error instanceof ApiError && ["start", "duration", "timezone"].indexOf(error.field) >= 0) {
            backToPicker(describe(error));
            return;
          }
          formAlert.textContent = describe(error);
          show(formAlert, true);
          formAlert.focus();
        }
      );
    });

    function showDone(booking, payload) {
      var requested = booking.status === "Requested";
      var zone = payload.timezone;
      var token = tokenOf(booking.manage_url);
      var answers = [];
      (config.questions || []).forEach(function (q) {
        var value = payload.answers[q.fieldname];
        if (value === undefined || value === "" || value === false) return;
        answers.push(h("div", null, h("dt", { text: q.label }), h("dd", { text: value === true ? __("Yes") : String(value) })));
      });
      doneStep.textContent = "";
      doneStep.appendChild(h("div", { class: "mt-done-mark", "aria-hidden": "true", text: requested ? "✉" : "✓" }));
      doneStep.appendChild(h("h2", { class: "mt-step-title", id: "mt-done-title", tabindex: "-1", text: requested ? __("Request sent") : __("You're booked") }));
      doneStep.appendChild(h("p", {
        class: "mt-lead",
        text: requested
          ? __("{0} will confirm this time by email to {1}.", [booking.host || config.host, payload.email])
          : __("A calendar invitation is on its way to {0}.", [payload.email]),
      }));
      doneStep.appendChild(h("dl", { class: "mt-summary" },
        h("div", null, h("dt", { text: __("When") }), h("dd", { id: "mt-done-when" }, whenNode(booking.start, booking.end, zone))),
        h("div", null, h("dt", { text: __("With") }), h("dd", { text: booking.host || config.host })),
        config.location ? h("div", null, h("dt", { text: __("Location") }), h("dd", { text: config.location })) : null,
        h("div", null, h("dt", { text: __("Name") }), h("dd", { text: payload.first_name + " " + payload.last_name })),
        answers.length ? h("div", { class: "mt-answers" }, h("dt", { text: __("Your answers") }), h("dd", null, buildAnswers(answers))) : null
      ));
      var links = h("p", { class: "mt-links" });
      if (!requested && token) {
        links.appendChild(h("a", {
          class: "mt-link",
          id: "mt-calendar-file",
          href: (config.api || "") + "calendar_file?token=" + encodeURIComponent(token),
          download: true,
          text: __("Add to calendar (.ics)"),
        }));
      }
      if (booking.manage_url) {
        links.appendChild(h("a", {
          class: "mt-link",
          id: "mt-manage-link",
          href: booking.manage_url,
          target: config.embed ? "_blank" : null,
          rel: config.embed ? "noopener" : null,
          text: __("Reschedule or cancel"),
        }));
      }
      doneStep.appendChild(links);
      show(formStep, false);
      show(pickStep, false);
      show($("mt-request-note"), false);
      show(doneStep, true);
      scrollIntoViewIfNeeded(doneStep);
      $("mt-done-title").focus();
    }

    function buildAnswers(items) {
      var list = h("dl", { class: "mt-answer-list" });
      items.forEach(function (item) { list.appendChild(item); });
      return list;
    }
  }

  function tokenOf(url) {
    if (!url) return "";
    var match = /[?&]token=([^&#]+)/.exec(url);
    if (match) return decodeURIComponent(match[1]);
    var path = url.split(/[?#]/)[0].replace(/\/+$/, "");
    return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
  }

  function cssEscape(value) {
    if (window.CSS && CSS.escape) return CSS.escape(value);
    return String(value).replace(/["\\\]]/g, "\\$&");
  }

  function scrollIntoViewIfNeeded(element) {
    var rect = element.getBoundingClientRect();
    if (rect.top < 0 || rect.top > window.innerHeight * 0.6) {
      element.scrollIntoView({ block: "start" });
    }
  }

  // --- the manage page -------------------------------------------------------------------

  function initManage() {
    var token = config.token;
    var alertBox = $("mt-manage-alert");
    var actions = $("mt-manage-actions");
    var cancelForm = $("mt-cancel-form");
    var cancelOpen = $("mt-cancel-open");
    var rescheduleOpen = $("mt-reschedule-open");
    var rescheduleStep = $("mt-reschedule");
    var bar = $("mt-reschedule-bar");
    var booking = config.booking || {};
    var picker = null;
    var chosen = null;

    function say(message, kind) {
      alertBox.textContent = message;
      alertBox.className = "mt-alert" + (kind ? " mt-alert-" + kind : "");
      show(alertBox, !!message);
      if (message) alertBox.focus();
    }

    function setStatus(status) {
      var label = $("mt-manage-status");
      label.textContent = status === "Cancelled" ? __("Cancelled") : status === "Requested" ? __("Requested") : __("Confirmed");
      label.className = "mt-status mt-status-" + status.toLowerCase();
    }

    function setWhen(start, end, zone) {
      var when = $("mt-manage-when");
      when.textContent = formatRange(new Date(Date.parse(start)), new Date(Date.parse(end)), zone) + " ";
      when.appendChild(h("span", { class: "mt-zone", text: "(" + zoneName(zone) + ")" }));
    }

    if (cancelOpen) {
      cancelOpen.addEventListener("click", function () {
        var open = cancelForm.hidden;
        show(cancelForm, open);
        cancelOpen.setAttribute("aria-expanded", open ? "true" : "false");
        if (open) {
          closeReschedule();
          $("mt-cancel-reason").focus();
        }
      });
      $("mt-cancel-keep").addEventListener("click", function () {
        show(cancelForm, false);
        cancelOpen.setAttribute("aria-expanded", "false");
        cancelOpen.focus();
      });
      cancelForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = $("mt-cancel-confirm");
        button.disabled = true;
        api("cancel", { token: token, reason: $("mt-cancel-reason").value.trim() }, true).then(
          function () {
            setStatus("Cancelled");
            show(cancelForm, false);
            show(actions, false);
            closeReschedule();
            var file = $("mt-calendar-file");
            if (file) file.remove();
            say(__("Your meeting is cancelled. The host has been told."), "success");
          },
          function (error) {
            button.disabled = false;
            say(describe(error, "manage"));
          }
        );
      });
    }

    function closeReschedule() {
      if (!rescheduleStep) return;
      show(rescheduleStep, false);
      if (rescheduleOpen) rescheduleOpen.setAttribute("aria-expanded", "false");
    }

    if (rescheduleOpen && rescheduleStep) {
      rescheduleOpen.addEventListener("click", function () {
        var open = rescheduleStep.hidden;
        if (!open) {
          closeReschedule();
          return;
        }
        show(cancelForm, false);
        if (cancelOpen) cancelOpen.setAttribute("aria-expanded", "false");
        show(rescheduleStep, true);
        rescheduleOpen.setAttribute("aria-expanded", "true");
        if (!picker) {
          picker = createPicker({
            link: config.link,
            duration: config.duration,
            window: config.window,
            zone: booking.timezone && zoneIsValid(booking.timezone) ? booking.timezone : detectZone(config.timezone),
            onPick: function (slot) {
              chosen = slot;
              picker.clearAlert();
              $("mt-reschedule-chosen").textContent = __("New time: {0}", [formatRange(new Date(slot.instant), new Date(Date.parse(slot.end)), slot.zone) + " · " + zoneLabel(slot.zone)]);
              show(bar, true);
              $("mt-reschedule-confirm").focus();
            },
            onZone: function () {
              chosen = null;
              show(bar, false);
            },
          });
        }
        $("mt-reschedule-title").focus();
      });
      $("mt-reschedule-confirm").addEventListener("click", function () {
        if (!chosen) return;
        var button = $("mt-reschedule-confirm");
        button.disabled = true;
        api("reschedule", { token: token, start: chosen.start, timezone: chosen.zone }, true).then(
          function (moved) {
            button.disabled = false;
            booking = { start: moved.start, end: moved.end, timezone: chosen.zone, status: moved.status };
            setWhen(moved.start, moved.end, chosen.zone);
            setStatus(moved.status);
            show(bar, false);
            closeReschedule();
            chosen = null;
            say(__("Your meeting has been moved. An updated invitation is on its way."), "success");
          },
          function (error) {
            button.disabled = false;
            if (error instanceof ApiError && (error.status === 409 || error.field === "start")) {
              show(bar, false);
              chosen = null;
              picker.refresh(describe(error));
              return;
            }
            say(describe(error, "manage"));
          }
        );
      });
    }
  }

  // --- start -----------------------------------------------------------------------------

  setupEmbedResize();
  setupCopyButtons();
  if (config.kind === "book") initBooking();
  else if (config.kind === "manage") initManage();
})();
