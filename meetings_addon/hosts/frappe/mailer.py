"""ports.Mailer on frappe.sendmail: queued in Frappe's Email Queue (sent by the
scheduler through the site's outgoing Email Account), in the current transaction.

So a booking email and its sent-log row (notifications/jobs.py) commit together: a job
that fails afterwards rolls both back, and its retry queues the email again, once.

Attachments keep their content type: `text/calendar; method=REQUEST` is what makes a
calendar client treat invite.ics as an invitation (Frappe's email builder takes
`content_type` with each attachment; without it, it would guess from the file name and
drop the method).

Needs Frappe: imported only by the Frappe host.
"""

from __future__ import annotations

from typing import Optional, Sequence

import frappe


class FrappeMailer:
    def send(
        self,
        recipients: Sequence[str],
        subject: str,
        html: str,
        *,
        attachments: Sequence[tuple[str, bytes, str]] = (),
        reference: Optional[tuple[str, str]] = None,
    ) -> None:
        frappe.sendmail(
            recipients=list(recipients),
            subject=subject,
            message=html,
            attachments=[
                {"fname": name, "fcontent": content, "content_type": mime} for name, content, mime in attachments
            ],
            reference_doctype=reference[0] if reference else None,
            reference_name=reference[1] if reference else None,
            add_unsubscribe_link=0,  # a booking's own emails, not a mailing
            delayed=True,
        )
