"""Index `tabContact Email`.email_id: bookings find a guest's Contact by email."""


def execute():
    """Add an index on Contact Email (email_id) unless it exists (idempotent)."""
    import frappe

    # MariaDB: skipped when an index of that name exists; PostgreSQL: CREATE INDEX IF NOT EXISTS.
    frappe.db.add_index("Contact Email", ["email_id"], index_name="email_id_index")
