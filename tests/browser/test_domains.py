"""A link on its custom domain, in Chromium: the browser resolves meet.example.test to the
test server (--host-resolver-rules), so the page is asked for with that Host header as a
real custom domain would be."""

from __future__ import annotations

import pytest

from tests.chromium import launch

from .conftest import fill_details

DOMAIN = "meet.example.test"
DAY = "2031-03-05"  # the day after the fixed "today" (conftest.NOW)


@pytest.fixture(scope="module")
def domain_browser(browser):
    """A second Chromium, from the session's Playwright (one per process), that resolves
    DOMAIN to this machine."""
    second = launch(browser.browser_type, DOMAIN)
    yield second
    second.close()


@pytest.fixture
def page(domain_browser):
    context = domain_browser.new_context(locale="en-US", timezone_id="Europe/Paris")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def on_domain(site):
    # Connected by the administrator (Meetings Settings > Custom Domains), then chosen for the link.
    site.services.store.update("Meetings Settings", "Meetings Settings", {"custom_domains": DOMAIN})
    site.services.store.update("Meeting Link", "quick", {"custom_domain": DOMAIN})
    return f"http://{DOMAIN}:{site.httpd.server_port}"


def test_a_visitor_books_on_the_custom_domain(site, page, on_domain):
    page.goto(f"{on_domain}/meetings/quick")
    assert page.url == f"{on_domain}/meetings/quick"  # already home: no redirect
    assert page.inner_text("h1") == "Quick call"
    assert page.get_attribute('link[rel="canonical"]', "href") == f"https://{DOMAIN}/meetings/quick"
    page.click(f'#mt-days button[data-day="{DAY}"]')
    page.wait_for_selector("#mt-slots button.mt-slot")
    page.locator("#mt-slots button.mt-slot").first.click()
    page.wait_for_selector("#mt-step-form:not([hidden])")
    fill_details(page)
    page.click("#mt-submit")  # the page calls the booking API on the host it came from
    page.wait_for_selector("#mt-done-title")
    assert page.inner_text("#mt-done-title") == "You're booked"
    assert page.get_attribute("#mt-manage-link", "href").startswith(f"https://{DOMAIN}/meetings/manage/")
    [booking] = site.bookings()
    assert booking["status"] == "Confirmed" and booking["email"] == "vera@client.example"
    assert page.errors == []


def test_the_site_address_takes_the_browser_to_the_custom_domain(site, page, on_domain):
    # A link without a custom domain stays where it was asked for, on any host.
    page.goto(f"{on_domain}/meetings/intro")
    assert page.url == f"{on_domain}/meetings/intro"
    assert page.inner_text("h1") == "Intro meeting"
    followed = []
    page.on("request", lambda request: followed.append(request) if request.redirected_from else None)
    # Nothing serves https for the custom domain here, so the navigation itself fails
    # (Playwright does not route a redirect's target): what matters is where Chromium went.
    with pytest.raises(Exception, match="ERR_CONNECTION_REFUSED"):
        page.goto(f"{site.url}/meetings/quick?lang=fr")
    [moved] = followed
    assert moved.url == f"https://{DOMAIN}/meetings/quick?lang=fr"
    assert moved.redirected_from.url == f"{site.url}/meetings/quick?lang=fr"


def test_a_disconnected_domain_leaves_the_page_where_it_is(site, page, on_domain):
    site.services.store.update("Meetings Settings", "Meetings Settings", {"custom_domains": "other.example.test"})
    page.goto(f"{site.url}/meetings/quick")
    assert page.url == f"{site.url}/meetings/quick"  # no redirect to a domain the site no longer serves
    assert page.inner_text("h1") == "Quick call"
    assert page.get_attribute('link[rel="canonical"]', "href") == f"{site.url}/meetings/quick"
    assert page.errors == []
