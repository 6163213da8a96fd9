"""Notifications: the emails and iCalendar invitations of bookings (use-cases over the
ports; no Frappe, SQL or HTTP here).

- ics.py: the invitation (.ics) of a booking: METHOD:REQUEST / CANCEL, stable UID,
  SEQUENCE raised on each change; `calendar_file` for the manage token's download.
- emails.py: the invitee's and hosts' emails of a change, from the Jinja templates in
  meetings_addon/templates/emails/, each in its reader's language and time zone.
- jobs.py: `send_booking_emails`, the job booking.service queues after a booking commits,
  sending each email at most once (the Meetings Email Log sent-log).
- i18n.py: strings (en, fr, pt, or the app's Frappe translation files) and Babel dates.
"""
