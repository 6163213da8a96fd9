"""The Frappe host's Secrets port: Frappe's own Password storage.

frappe.utils.password keeps a Password field's value encrypted (Fernet, with the site's
`encryption_key` from site_config.json, which lives outside the database) in the
`__Auth` table; the document's column holds only asterisks. Frappe never sends the
value to a browser: /api/resource and the form read the asterisks, and only
server code that asks for it (get_decrypted_password) sees the secret.

Needs Frappe: imported only by the Frappe host.
"""

from __future__ import annotations

from typing import Optional


class FrappeSecrets:
    """ports.Secrets on frappe.utils.password (encrypted with the site's key).

    The document's own column is set to asterisks beside the secret (as Document.save
    does for a typed password): Frappe's save removes the stored secret of any Password
    field whose column is empty, so without them the next save of the document (a
    calendar marked failing, say) would silently forget its tokens."""

    def get(self, doctype: str, name: str, field: str) -> Optional[str]:
        from frappe.utils.password import get_decrypted_password

        return get_decrypted_password(doctype, name, field, raise_exception=False)

    def set(self, doctype: str, name: str, field: str, value: Optional[str]) -> None:
        import frappe
        from frappe.utils.password import remove_encrypted_password, set_encrypted_password

        if value is None or value == "":
            remove_encrypted_password(doctype, name, field)
            _set_column(doctype, name, field, None)
        else:
            set_encrypted_password(doctype, name, value, field)
            _set_column(doctype, name, field, DUMMY)
        frappe.local.flags.commit = True  # also at the end of a GET (a token refreshed in a page view)


DUMMY = "*" * 10


def _set_column(doctype: str, name: str, field: str, value: Optional[str]) -> None:
    import frappe

    meta = frappe.get_meta(doctype)
    df = meta.get_field(field)
    if df is None or df.fieldtype != "Password" or meta.issingle:
        return
    if frappe.db.exists(doctype, name):
        frappe.db.set_value(doctype, name, field, value, update_modified=False)
