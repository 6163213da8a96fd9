"""services(): the Frappe host's bundle of ports."""

from datetime import timezone

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.hosts.frappe.services import FrappeJobs, FrappeStore, services  # noqa: E402


def test_services_for_the_site(site):
    bundle = services()
    assert isinstance(bundle.store, FrappeStore) and isinstance(bundle.jobs, FrappeJobs)
    now = bundle.clock.now()
    assert now.tzinfo == timezone.utc
    assert bundle.site_url == frappe.utils.get_url()


def test_mailer_queues_in_frappes_email_queue(site):
    if not frappe.db.exists("Email Account", {"default_outgoing": 1, "enable_outgoing": 1}):
        frappe.get_doc(
            {
                "doctype": "Email Account",
                "email_account_name": "Meetings Test Outgoing",
                "email_id": "meetings@example.org",
                "enable_outgoing": 1,
                "default_outgoing": 1,
                "smtp_server": "127.0.0.1",
                "smtp_port": 2525,
                "no_smtp_authentication": 1,
            }
        ).insert(ignore_permissions=True)  # rolled back after the test
    bundle = services()
    before = frappe.db.count("Email Queue")
    bundle.mailer.send(
        ["ann@example.org"],
        "Your meeting",
        "<p>See you</p>",
        attachments=[("invite.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")],
    )
    assert frappe.db.count("Email Queue") == before + 1
    queued = frappe.get_last_doc("Email Queue")
    assert "ann@example.org" in [r.recipient for r in queued.recipients]
    assert "invite.ics" in queued.message


def test_secrets_round_trip_encrypted(site):
    bundle = services()
    name = frappe.db.get_value("User", "Administrator", "name")
    bundle.secrets.set("User", name, "meetings_test_secret", "s3cr3t")
    assert bundle.secrets.get("User", name, "meetings_test_secret") == "s3cr3t"
    stored = frappe.db.sql(
        "select password from __Auth where doctype='User' and name=%s and fieldname='meetings_test_secret'", name
    )[0][0]
    assert stored != "s3cr3t"
    bundle.secrets.set("User", name, "meetings_test_secret", None)
    assert bundle.secrets.get("User", name, "meetings_test_secret") is None


def test_cache_on_redis(site):
    cache = services().cache
    key = f"test:{frappe.generate_hash(length=8)}"
    assert cache.get(key) is None
    cache.set(key, {"slots": [1, 2], "when": frappe.utils.now_datetime()}, 30)
    assert cache.get(key)["slots"] == [1, 2]
    assert 0 < frappe.cache.ttl(cache._key(key)) <= 30
    counter = f"{key}:n"
    assert cache.incr(counter) == 1 and cache.incr(counter) == 2 and cache.get(counter) == 2
    frappe.cache.delete(cache._key(key), cache._key(counter))


def test_after_commit_runs_on_commit_only(site):
    store = services().store
    ran = []
    assert store.after_commit(lambda: ran.append("first")) is True
    frappe.db.rollback()
    assert ran == []
    with store.atomic():
        store.after_commit(lambda: ran.append("kept"))
        try:
            with store.atomic():
                store.after_commit(lambda: ran.append("dropped"))
                raise ValueError("undo")
        except ValueError:
            pass
    store.after_commit(lambda: 1 / 0)  # a failing callback does not fail the commit
    frappe.db.commit()
    assert ran == ["kept"]


def test_month_views_are_cached_and_a_booking_drops_them(http, link):
    """The slot cache lives in Redis, shared by the web workers; a booking's commit bumps
    its epoch, so the next month view shows the slot as taken."""
    from meetings_addon.booking import slot_cache

    from tests.frappe.conftest import next_day, visitor_email

    bundle = services()
    day = next_day(13)
    query = {"link": link["slug"], "start": day.isoformat(), "end": day.isoformat(), "timezone": "Europe/Paris"}
    first = http.method("get_slots", get=query).json()["message"]["slots"]
    epoch = slot_cache.epoch(bundle)
    assert frappe.cache.keys(bundle.cache._key("meetings:slots:*")), "no month view in the cache"
    email = visitor_email("cache")
    link["emails"].append(email)
    booked = http.method("book", post={**query, "start": first[0]["start"], "first_name": "Cy", "last_name": "Che",
                                       "email": email})
    assert booked.status_code == 200, booked.text
    assert slot_cache.epoch(bundle) > epoch
    again = http.method("get_slots", get=query).json()["message"]["slots"]
    assert first[0] not in again and again == first[1:]
