"""Tests that run inside a real Frappe bench (skipped anywhere else).

Run them with the bench's Python, from the bench's `sites` folder, as the bench's user:

    cd <bench>/sites
    MEETINGS_FRAPPE_SITE=test.localhost ../env/bin/python -m pytest <app>/tests/frappe -q -p no:cacheprovider

- MEETINGS_FRAPPE_SITE (required): the site, with meetings_addon installed.
- MEETINGS_FRAPPE_SITES_PATH: the sites folder (default: the working directory).
- MEETINGS_FRAPPE_URL: a running web server for the site (e.g. http://127.0.0.1:8001: the
  requests carry the site in their Host header);
  without it the HTTP tests start their own gunicorn on a free loopback port, with the
  bench's Python, serving Frappe's WSGI app as `bench serve` does, and stop it after.

In-process tests get frappe connected as Administrator and roll back after each test.
HTTP tests need their data committed (another process serves them): the fixtures that
commit delete what they and the requests made afterwards.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

SITE = os.environ.get("MEETINGS_FRAPPE_SITE", "").strip()
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    reason = None
    if not SITE:
        reason = "MEETINGS_FRAPPE_SITE is not set: these tests run inside a Frappe bench"
    else:
        try:
            import frappe  # noqa: F401
        except ImportError:
            reason = "frappe is not importable: run with the bench's Python"
    if reason:
        for item in items:
            if Path(str(item.fspath)).resolve().is_relative_to(here):
                item.add_marker(pytest.mark.skip(reason=reason))


# --- the site ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    if not SITE:
        pytest.skip("MEETINGS_FRAPPE_SITE is not set")
    frappe = pytest.importorskip("frappe")
    sites_path = os.path.abspath(os.environ.get("MEETINGS_FRAPPE_SITES_PATH", "."))
    if not os.path.isdir(os.path.join(sites_path, SITE)):
        pytest.fail(f"{SITE} is not a site in {sites_path}: run from the bench's sites folder "
                    "or set MEETINGS_FRAPPE_SITES_PATH", pytrace=False)
    frappe.init(site=SITE, sites_path=sites_path)
    frappe.connect()
    frappe.flags.in_test = True
    frappe.set_user("Administrator")
    if "meetings_addon" not in frappe.get_installed_apps():
        pytest.fail(f"meetings_addon is not installed on {SITE}", pytrace=False)
    yield SITE
    frappe.db.rollback()
    frappe.destroy()


@pytest.fixture(autouse=True)
def _rolled_back(site):
    """Each test starts clean as Administrator and is rolled back after."""
    import frappe

    frappe.db.rollback()
    frappe.local.message_log = []
    frappe.set_user("Administrator")
    yield
    frappe.db.rollback()
    frappe.local.message_log = []
    frappe.set_user("Administrator")


@pytest.fixture
def services(site):
    from meetings_addon.hosts.frappe.services import services as build

    return build()


# --- committed fixtures (for the HTTP server) ------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def make_user(email: str, first_name: str, last_name: str = "Host") -> str:
    import frappe

    if not frappe.db.exists("User", email):
        frappe.get_doc(
            {
                "doctype": "User",
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "send_welcome_email": 0,
                "time_zone": "Europe/Paris",
                "roles": [{"role": "System Manager"}],
            }
        ).insert(ignore_permissions=True)
    return email


def link_values(slug: str, host: str, **values: Any) -> dict[str, Any]:
    base = {
        "doctype": "Meeting Link",
        "slug": slug,
        "title": f"Intro call {slug}",
        "host": host,
        "durations": "30,60",
        "timezone": "Europe/Paris",
        "published": 1,
        "rolling_weeks": 8,
        "availability": [{"weekday": day, "start_time": "09:00:00", "end_time": "17:00:00"} for day in WEEKDAYS],
        "questions": [{"label": "Company", "fieldname": "company", "fieldtype": "Data", "required": 0}],
    }
    base.update(values)
    return base


def cleanup(slugs: list[str] = (), users: list[str] = (), emails: list[str] = ()) -> None:
    """Delete what tests committed: links, their bookings with events, timeline
    communications and Local calendar events, the visitors' contacts, the users."""
    import frappe

    frappe.db.rollback()
    frappe.set_user("Administrator")
    for slug in slugs:
        for booking in frappe.get_all("Booking", {"meeting_link": slug}, ["name", "event"]):
            if booking.event and frappe.db.exists("Event", booking.event):
                frappe.delete_doc("Event", booking.event, force=True, ignore_permissions=True)
            frappe.db.delete("Booking", {"name": booking.name})
            _delete_job(f"calendar:{booking.name}")
        frappe.db.delete("Meeting Link Availability", {"parent": slug})
        frappe.db.delete("Meeting Link Question", {"parent": slug})
        frappe.db.delete("Meeting Link Host", {"parent": slug})
        frappe.db.delete("Meeting Link", {"name": slug})
    for user in users:
        frappe.db.delete("Local Calendar Event", {"user": user})
        frappe.db.delete("Calendar Connection", {"user": user})
        if frappe.db.exists("User", user):
            frappe.delete_doc("User", user, force=True, ignore_permissions=True)
    for email in [*users, *emails]:  # Frappe makes a Contact for every new User too
        for contact in frappe.get_all("Contact Email", {"email_id": email}, pluck="parent"):
            frappe.delete_doc("Contact", contact, force=True, ignore_permissions=True)
    frappe.db.commit()


def _delete_job(job_id: str) -> None:
    from frappe.utils.background_jobs import get_job

    job = get_job(job_id)
    if job is not None:
        job.delete()


def visitor_email(tag: str) -> str:
    return f"{tag}.{secrets.token_hex(3)}@example.org"


@pytest.fixture(scope="module")
def link(site) -> Iterator[dict[str, Any]]:
    """A committed, published link (Europe/Paris, 09:00-17:00 every day) of a new host."""
    import frappe

    slug = unique("mt")
    host = make_user(f"{slug}@meetings-host.example.com", "Hanna")
    frappe.get_doc(link_values(slug, host)).insert(ignore_permissions=True)
    frappe.db.commit()
    facts = {"slug": slug, "host": host, "emails": []}
    yield facts
    cleanup([slug], [host], facts["emails"])


def next_day(offset: int) -> date:
    return date.today() + timedelta(days=offset)


# --- the web server ------------------------------------------------------------------------------


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Http:
    """requests against the site's web server, with the site's Host header."""

    def __init__(self, base: str, site: str):
        import requests

        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Host"] = site
        self.session.headers["Accept"] = "application/json"

    def method(self, name: str, *, get: dict | None = None, post: dict | None = None, **kwargs):
        url = f"{self.base}/api/method/meetings_addon.api.booking.{name}"
        if post is not None:
            return self.session.post(url, json=post, timeout=60, **kwargs)
        return self.session.get(url, params=get or {}, timeout=60, **kwargs)

    def get(self, path: str, **kwargs):
        return self.session.get(f"{self.base}{path}", timeout=60, **kwargs)


@contextmanager
def web_server(site: str, env: dict[str, str] | None = None, *, own: bool = False) -> Iterator[Http]:
    """The site's web server (MEETINGS_FRAPPE_URL, or a gunicorn started here), with the
    guest rate limit off while it runs (restored after). `own`: always start a gunicorn,
    with `env` added to its environment (a module whose server must see its variables)."""
    import frappe

    settings = frappe.get_single("Meetings Settings")
    saved_limit = settings.guest_rate_limit
    frappe.db.set_single_value("Meetings Settings", "guest_rate_limit", 0)
    frappe.db.commit()

    server = None
    base = "" if own else os.environ.get("MEETINGS_FRAPPE_URL", "").strip()
    if not base:
        port = _free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = subprocess.Popen(
            [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
             "--worker-class", "gthread", "--timeout", "120", "--graceful-timeout", "5",
             "frappe.app:application"],
            cwd=os.path.abspath(os.environ.get("MEETINGS_FRAPPE_SITES_PATH", ".")),
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
    client = Http(base, site)
    try:
        _wait_for(client, server)
        yield client
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        frappe.db.rollback()
        frappe.db.set_single_value("Meetings Settings", "guest_rate_limit", saved_limit)
        frappe.db.commit()


@pytest.fixture(scope="session")
def http(site) -> Iterator[Http]:
    """The site's web server (see web_server), for the whole session."""
    with web_server(site) as client:
        yield client


def _wait_for(client: Http, server) -> None:
    deadline = time.monotonic() + 60
    last = None
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            pytest.fail(f"gunicorn exited: {server.stderr.read().decode()[-2000:]}", pytrace=False)
        try:
            if client.session.get(f"{client.base}/api/method/ping", timeout=5).json() == {"message": "pong"}:
                return
        except Exception as error:  # noqa: BLE001 - not up yet
            last = error
        time.sleep(0.3)
    pytest.fail(f"{client.base} did not answer /api/method/ping within 60 s: {last}", pytrace=False)
