"""The guest rate limit: Meetings Settings > Guest Rate Limit requests a minute per client
address and method, then 429 with Retry-After; 0 switches it off."""

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.hosts.frappe.http import guest_rate_limit  # noqa: E402


def set_limit(value):
    frappe.db.rollback()
    frappe.db.set_single_value("Meetings Settings", "guest_rate_limit", value)
    frappe.db.commit()


def test_past_the_limit_guests_get_429_with_retry_after(http, link):
    set_limit(3)
    try:
        codes, last = [], None
        for _ in range(5):
            last = http.method("manage", get={"token": "z" * 43})
            codes.append(last.status_code)
        assert codes[-1] == 429 and set(codes) <= {404, 429} and codes.count(404) <= 3, codes
        assert last.json()["exc_type"] == "RateLimitExceededError"
        assert 1 <= int(last.headers["Retry-After"]) <= 60
        # Another method has its own count (Frappe's rate_limit keys by method).
        assert http.method("get_link", get={"link": link["slug"]}).status_code in (200, 429)
    finally:
        set_limit(0)
    assert http.method("manage", get={"token": "z" * 43}).status_code == 404  # 0: no limit


def test_the_limit_comes_from_the_settings(site):
    frappe.db.set_single_value("Meetings Settings", "guest_rate_limit", 7)
    assert guest_rate_limit() == 7
    frappe.db.set_single_value("Meetings Settings", "guest_rate_limit", 0)
    assert guest_rate_limit() == 0
    frappe.db.sql("delete from `tabSingles` where doctype = 'Meetings Settings' and field = 'guest_rate_limit'")
    assert guest_rate_limit() == int(frappe.get_meta("Meetings Settings").get_field("guest_rate_limit").default)
