"""The Frappe host: the ports over Frappe's own APIs.

- store.py     FrappeStore (ports.Store): frappe.get_doc / get_single / get_all,
               savepoints, SELECT ... FOR UPDATE; UTC <-> system time zone in one place
- services.py  services(): the store, RQ jobs, a UTC clock, mail, secrets, a Redis cache,
               the site URL
- jobs.py      jobs on Frappe's RQ queue after commit, deduplicated, retried with backoff
- errors.py    the domain exceptions as Frappe exceptions (HTTP status, exc_type)
- http.py      the guest rate limit and response headers (hooks.py after_request)
- install.py   after_install

This package's modules import frappe; those named by hooks.py import it lazily.
"""
