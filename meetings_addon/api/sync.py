"""Provider push notifications (sync/push.py), guest endpoints: the secret channel token
or clientState is the authentication. They only queue a deduplicated sync job.

POST google_push: Google watch channel notifications (X-Goog-* headers)
POST graph_push:  Graph subscription notifications (and the validationToken handshake)
"""

from __future__ import annotations

import json

import frappe
from werkzeug.wrappers import Response

from meetings_addon.hosts.frappe.services import services
from meetings_addon.sync import push


def _respond(answer) -> Response:
    status, content_type, body = answer
    if content_type == "text/plain":
        return Response(str(body), status=status, content_type="text/plain; charset=utf-8")
    return Response(json.dumps(body), status=status, content_type="application/json")


@frappe.whitelist(allow_guest=True, methods=["POST"])
def google_push(**_):
    answer = push.google_notification(services(), dict(frappe.request.headers))
    frappe.db.commit()
    return _respond(answer)


@frappe.whitelist(allow_guest=True, methods=["POST", "GET"])
def graph_push(**_):
    body = None
    if frappe.request.data:
        try:
            body = json.loads(frappe.request.data)
        except ValueError:
            body = None
    answer = push.graph_notification(services(), dict(frappe.request.args), body)
    frappe.db.commit()
    return _respond(answer)
