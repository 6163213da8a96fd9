"""Browser tests of the booking page: Playwright for Python driving Debian's Chromium
against the standalone host (a real server on 127.0.0.1, a fresh SQLite file per test).

The server's clock is fixed (NOW, a Tuesday in March 2031) and the page takes "today"
from the server, so every run sees the same month, days and slots. The browser runs in
Europe/Paris with an en-US locale unless a test says otherwise.

They skip, saying why, only where Chromium (/usr/bin/chromium) or Playwright is missing
and the CI variable is unset; in CI they must run (.ci/run installs both). Playwright's
own browser downloads are never used: `playwright install` is not needed.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pytest
import requests
from werkzeug.serving import make_server

from meetings_addon.hosts.standalone.auth import create_user
from meetings_addon.hosts.standalone.services import build_services
from meetings_addon.hosts.standalone.web import make_app
from tests.chromium import launch, why_not

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
API = "/api/method/meetings_addon.api.booking."
NOW = datetime(2031, 3, 4, 7, 0, tzinfo=timezone.utc)  # Tuesday 4 March 2031, 08:00 in Paris
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
HOST = "alex@team.example"




def pytest_collection_modifyitems(config, items):
    reason = why_not()
    if reason is None:
        return
    if os.environ.get("CI"):
        return  # in CI the tests run and fail loudly: the browser must be there
    marker = pytest.mark.skip(reason=f"browser tests skipped: {reason}")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(marker)


class FixedClock:
    def __init__(self, now: datetime):
        self.current = now

    def now(self) -> datetime:
        return self.current


class Site:
    """The standalone host on a free port, its services and a requests session."""

    def __init__(self, services):
        self.services = services
        self.app = make_app(services, guest_rate_limit=0)
        self.httpd = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        services.site_url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.http = requests.Session()

    def get(self, fn: str, **params: Any) -> requests.Response:
        return self.http.get(self.url + API + fn, params=params, timeout=10)

    def post(self, fn: str, body: dict) -> requests.Response:
        return self.http.post(self.url + API + fn, json=body, timeout=10)

    def slots(self, slug: str, day: str, zone: str = "Europe/Paris", duration: Optional[int] = None) -> list[dict]:
        params = {"link": slug, "start": day, "end": day, "timezone": zone}
        if duration:
            params["duration"] = duration
        answer = self.get("get_slots", **params)
        assert answer.status_code == 200, answer.text
        return answer.json()["message"]["slots"]

    def book(self, slug: str, start: str, email: str = "other@client.example", **extra: Any) -> requests.Response:
        body = {"link": slug, "start": start, "timezone": "Europe/Paris", "first_name": "Olga", "last_name": "Other",
                "email": email, "answers": {}, "consent": True}
        body.update(extra)
        return self.post("book", body)

    def bookings(self) -> list[dict]:
        return self.services.store.list("Booking", fields=("name", "status", "start", "email", "answers", "cancel_reason",
                                                           "first_name", "last_name", "timezone", "duration"))

    def stop(self) -> None:
        self.http.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def link(slug: str, **fields: Any) -> dict:
    doc = {
        "name": slug,
        "slug": slug,
        "title": "Intro meeting",
        "host": HOST,
        "owner": HOST,
        "published": 1,
        "meeting_type": "One-on-one",
        "durations": "30",
        "timezone": "Europe/Paris",
        "language": "en",
        "location": "Video call (link in the invitation)",
        "description": "Thirty minutes to get to know your team and what you need.\n\nBring your questions!",
        "availability": [{"weekday": day, "start_time": start, "end_time": end}
                         for day in WEEKDAYS for start, end in (("09:00", "12:00"), ("13:00", "17:00"))],
        "window_type": "Rolling",
        "rolling_weeks": 4,
        "minimum_notice": 60,
        "questions": [],
    }
    doc.update(fields)
    return doc


QUESTIONS = [
    {"label": "Company", "fieldname": "company", "fieldtype": "Data", "required": 1},
    {"label": "What would you like to talk about?", "fieldname": "topic", "fieldtype": "Small Text", "required": 0},
    {"label": "Team size", "fieldname": "team_size", "fieldtype": "Int", "required": 0},
    {"label": "Phone", "fieldname": "phone", "fieldtype": "Phone", "required": 0},
    {"label": "Plan", "fieldname": "plan", "fieldtype": "Select", "options": "Starter\nGrowth\nEnterprise", "required": 0},
    {"label": "Send me the product newsletter", "fieldname": "newsletter", "fieldtype": "Check", "required": 0},
]


def seed(services) -> None:
    create_user(services, HOST, full_name="Alex Morgan", time_zone="Europe/Paris")
    store = services.store
    store.insert("Meeting Link", link(
        "intro", durations="30,60", questions=QUESTIONS, consent_enabled=1,
        consent_text="I agree that Acme stores my details to arrange this meeting.",
        privacy_text="We use your details only for this meeting. See our privacy policy.",
        accent_color="#0f766e",
    ))
    store.insert("Meeting Link", link("quick", title="Quick call", questions=[QUESTIONS[1]]))
    store.insert("Meeting Link", link("rdv", title="Premier rendez-vous", language="fr", location="Visioconférence",
                                      description="Trente minutes pour faire connaissance.",
                                      questions=[{"label": "Société", "fieldname": "societe", "fieldtype": "Data", "required": 1}]))
    store.insert("Meeting Link", link(
        "xss", title="<script>alert('title')</script>Demo",
        questions=[{"label": "<img src=x onerror=alert('label')>Your goal", "fieldname": "goal", "fieldtype": "Small Text", "required": 1}],
    ))


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("MEETINGS_GUEST_RATE_LIMIT", raising=False)
    services = build_services(f"sqlite:///{tmp_path / 'meetings.sqlite'}", redis_url="", clock=FixedClock(NOW))
    seed(services)
    site = Site(services)
    yield site
    site.stop()
    services.jobs.drain(10)
    services.store.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    reason = why_not()
    if reason:
        pytest.fail(f"browser tests need Chromium and Playwright: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p.chromium)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """new_page(**context options) -> a page that fails the test on any page error."""
    contexts = []

    def make(**options: Any):
        settings = {"locale": "en-US", "timezone_id": "Europe/Paris", "viewport": {"width": 1280, "height": 800}}
        settings.update(options)
        context = browser.new_context(**settings)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.errors = []
        page.dialogs = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))

        def on_dialog(dialog):
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def open_link(page, site: Site, slug: str, query: str = ""):
    page.goto(f"{site.url}/meetings/{slug}{query}")
    page.wait_for_selector("#mt-slots button.mt-slot")
    return page


def fill_details(page, *, first: str = "Vera", last: str = "Visitor", email: str = "vera@client.example") -> None:
    page.fill("#mt-first-name", first)
    page.fill("#mt-last-name", last)
    page.fill("#mt-email", email)


def run_axe(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it stands."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm install --no-audit --no-fund` at the repository root")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
