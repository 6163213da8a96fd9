"""No double booking, ever: concurrent requests through Frappe's web server (gunicorn
workers and threads, each request its own MariaDB transaction)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

frappe = pytest.importorskip("frappe")

from tests.frappe.conftest import Http, cleanup, link_values, make_user, next_day, unique, visitor_email  # noqa: E402

CONCURRENT = 20


def fire(http, bodies):
    """POST every body to book at once (one client session per request)."""
    barrier = threading.Barrier(len(bodies))

    def one(body):
        client = Http(http.base, http.session.headers["Host"])
        barrier.wait()
        return client.method("book", post=body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))


def body(slug, start, tag, emails):
    email = visitor_email(tag)
    emails.append(email)
    return {"link": slug, "start": start, "duration": 30, "timezone": "Europe/Paris", "first_name": tag.title(),
            "last_name": f"Racer {tag}", "email": email, "consent": True}


def first_slot(http, slug, day):
    response = http.method("get_slots", get={"link": slug, "start": day.isoformat(), "end": day.isoformat(),
                                             "timezone": "Europe/Paris"})
    assert response.status_code == 200, response.text
    return response.json()["message"]["slots"][0]["start"]


def test_twenty_concurrent_bookings_of_one_slot_make_exactly_one(http, link):
    start = first_slot(http, link["slug"], next_day(10))
    responses = fire(http, [body(link["slug"], start, f"r{i}", link["emails"]) for i in range(CONCURRENT)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (CONCURRENT - 1), [(r.status_code, r.text[:300]) for r in responses]
    assert {r.json()["exc_type"] for r in responses if r.status_code == 409} == {"SlotUnavailable"}
    frappe.db.rollback()
    booked = frappe.get_all("Booking", {"meeting_link": link["slug"], "status": "Confirmed"}, ["name", "start", "email"])
    winner = next(r for r in responses if r.status_code == 200).json()["message"]["booking"]
    same_slot = [b for b in booked if b.name == winner or b.email in link["emails"][-CONCURRENT:]]
    assert [b.name for b in same_slot] == [winner]
    # The losers left nothing behind: no Contact for their email.
    losers = [e for e in link["emails"][-CONCURRENT:] if e != frappe.db.get_value("Booking", winner, "email")]
    assert not frappe.get_all("Contact Email", {"email_id": ["in", losers]})


@pytest.fixture(scope="module")
def many_links(site):
    slugs, users, emails = [], [], []
    for _ in range(6):
        slug = unique("mc")
        host = make_user(f"{slug}@meetings-host.example.com", "Host")
        frappe.get_doc(link_values(slug, host)).insert(ignore_permissions=True)
        slugs.append(slug)
        users.append(host)
    frappe.db.commit()
    yield slugs, emails
    cleanup(slugs, users, emails)


def test_concurrent_bookings_for_different_hosts_at_one_instant_all_succeed(http, many_links):
    """Reservations for different hosts at the same instant do not turn each other away:
    a MariaDB deadlock between two of them (InnoDB gap locks) is retried, not answered
    as an error."""
    slugs, emails = many_links
    start = first_slot(http, slugs[0], next_day(11))
    bodies = [body(slug, start, f"m{i}", emails) for i, slug in enumerate(slugs) for _ in range(2)]
    responses = fire(http, bodies)
    by_link: dict[str, list[int]] = {}
    for request, response in zip(bodies, responses):
        by_link.setdefault(request["link"], []).append(response.status_code)
    assert all(sorted(codes) == [200, 409] for codes in by_link.values()), [
        (r.status_code, r.text[:300]) for r in responses if r.status_code not in (200, 409)]
