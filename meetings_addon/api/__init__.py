"""Whitelisted methods (/api/method/meetings_addon.api.<module>.<fn>): thin, they call
the use-cases with the Frappe host's services."""
