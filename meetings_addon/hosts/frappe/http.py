"""HTTP plumbing of the Frappe host: the guest rate limit and response headers.

- `guest_limited` wraps frappe.rate_limiter.rate_limit: per client address (Frappe's
  request_ip) and per method, at most Meetings Settings > Guest Rate Limit requests a
  minute (0 = no limit). Past it Frappe answers 429 (RateLimitExceededError); the
  `after_request` hook adds the Retry-After header the standalone host sends.
- `after_request` (hooks.py) also keeps the manage page's token out of Referer headers,
  caches and search engines, and sends X-Robots-Tag for a link kept out of search, as the
  standalone host does.

Loads without Frappe (hooks.py names this module): frappe is imported inside.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from meetings_addon.domains import NOINDEX

SETTINGS = "Meetings Settings"
WINDOW = 60  # seconds: the limit is per minute, as CONTRACT.md says for the standalone host
FALLBACK_LIMIT = 120  # when the setting is missing altogether (the standalone default)


def guest_rate_limit() -> int:
    """Requests a minute per client address and method; 0 = no limit."""
    import frappe

    stored = frappe.db.sql(
        "select `value` from `tabSingles` where `doctype` = %s and `field` = 'guest_rate_limit'", SETTINGS
    )
    if stored and stored[0][0] not in (None, ""):
        try:
            return max(int(float(stored[0][0])), 0)
        except ValueError:
            pass
    default = frappe.get_meta(SETTINGS).get_field("guest_rate_limit")
    try:
        return int(default.default) if default and default.default else FALLBACK_LIMIT
    except ValueError:
        return FALLBACK_LIMIT


def guest_limited(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Frappe's rate_limit with the limit read per request; 0 switches it off."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import frappe
        from frappe.rate_limiter import rate_limit

        if not getattr(frappe, "request", None):
            return fn(*args, **kwargs)  # a direct call (tests, console), not a request
        limit = guest_rate_limit()
        if limit <= 0:
            return fn(*args, **kwargs)
        limited = rate_limit(limit=limit, seconds=WINDOW, ip_based=True)(fn)
        try:
            return limited(*args, **kwargs)
        except frappe.RateLimitExceededError:
            frappe.local.meetings_retry_after = _seconds_left()
            raise

    return wrapper


def _seconds_left() -> int:
    """Seconds until the client's window ends (the key rate_limit counts in)."""
    import frappe

    key = frappe.cache.make_key(f"rl:{frappe.form_dict.cmd}:{frappe.local.request_ip}")
    try:
        ttl = int(frappe.cache.ttl(key))
    except Exception:  # noqa: BLE001 - the header is a courtesy
        ttl = WINDOW
    return ttl if 0 < ttl <= WINDOW else WINDOW


def after_request(response=None, request=None) -> None:
    """hooks.py after_request: headers the standalone host also sends."""
    import frappe

    if response is None or request is None:
        return
    if response.status_code == 429 and getattr(frappe.local, "meetings_retry_after", None):
        response.headers["Retry-After"] = str(frappe.local.meetings_retry_after)
    path = request.path or ""
    if path.startswith("/meetings/manage/"):
        # The token is in the address: keep it out of Referer headers, caches and search.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = NOINDEX
    elif path.startswith("/meetings/"):
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        # A link kept out of search engines (www/meetings/index.py sets it).
        robots = getattr(frappe.local, "meetings_robots", None)
        if robots and response.status_code == 200:
            response.headers["X-Robots-Tag"] = robots
