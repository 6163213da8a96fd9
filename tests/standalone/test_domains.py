"""Domains and search engines (meetings_addon/domains.py) through the standalone server:
the Host header each request carries decides where a link's page answers, a slug is one
link on every domain, and a link can be kept out of search engines."""

from __future__ import annotations

import re

import pytest

DOMAIN = "meet.example.test"


class Mailbox:
    def __init__(self):
        self.sent = []

    def send(self, recipients, subject, html, *, attachments=(), reference=None):
        self.sent.append((list(recipients), subject, html, attachments))


def get(server, path, host, **kwargs):
    """GET on this server as if it were reached at `host` (its Host header)."""
    return server.http.get(server.url + path, headers={"Host": host}, allow_redirects=False, timeout=10, **kwargs)


def canonical(html: str):
    found = re.search(r'<link rel="canonical" href="([^"]*)">', html)
    return found and found.group(1)


def meta_robots(html: str):
    found = re.search(r'<meta name="robots" content="([^"]*)">', html)
    return found and found.group(1)


@pytest.fixture
def token(h):
    return h.add_host()


def create_link(server, token, slug, **fields):
    body = {
        "slug": slug, "title": "Intro call", "host": "host@team.example", "published": 1, "durations": "30",
        "timezone": "America/New_York", "window_type": "Rolling", "rolling_weeks": 4,
        "availability": [{"weekday": day, "start_time": "09:00", "end_time": "17:00"}
                         for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")],
        **fields,
    }
    return server.resource("POST", "Meeting%20Link", token, json=body)


def test_a_slug_is_the_same_link_on_every_host(h, server, token):
    assert create_link(server, token, "hana-30").status_code == 200
    pages = [get(server, "/meetings/hana-30", host) for host in ("crm.example.test", "other.example.test:8080")]
    assert [p.status_code for p in pages] == [200, 200]
    assert all('data-link="hana-30"' in p.text for p in pages)
    # Without a custom domain the page's address is the one it was asked on.
    assert canonical(pages[0].text) == "http://crm.example.test/meetings/hana-30"
    facts = [server.http.get(server.url + h.API + "get_link", params={"link": "hana-30"}, headers={"Host": host}, timeout=10)
             for host in ("crm.example.test", DOMAIN)]
    assert [f.json()["message"]["link"] for f in facts] == ["hana-30", "hana-30"]


def test_a_second_link_cannot_take_a_slug_used_on_another_domain(server, services, token):
    assert create_link(server, token, "hana-30", custom_domain=DOMAIN).status_code == 200
    again = create_link(server, token, "hana-30", title="Another", custom_domain="other.example.test")
    assert again.status_code == 409 and again.json()["exc_type"] == "DuplicateEntryError"
    kept = services.store.get("Meeting Link", "hana-30")
    assert (kept["title"], kept["custom_domain"]) == ("Intro call", DOMAIN)


def test_the_page_moves_to_its_custom_domain_with_the_query_kept(server, token):
    made = create_link(server, token, "hana-30", custom_domain="Meet.Example.TEST/")
    assert made.json()["data"]["custom_domain"] == DOMAIN  # tidied: lowercase, no trailing slash
    moved = get(server, "/meetings/hana-30?lang=fr&embed=1", "crm.example.test")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"https://{DOMAIN}/meetings/hana-30?lang=fr&embed=1"
    assert "no-store" in moved.headers["Cache-Control"]  # a domain may change: browsers must ask again
    for host in (DOMAIN, f"{DOMAIN}:8443", "MEET.example.test."):
        page = get(server, "/meetings/hana-30", host)
        assert page.status_code == 200, host
        assert canonical(page.text) == f"https://{DOMAIN}/meetings/hana-30"
    # The share box and the embed snippet give the custom domain's address.
    assert f'value="https://{DOMAIN}/meetings/hana-30"' in page.text
    # An unknown or unpublished link stays a 404 on every host, never a redirect.
    create_link(server, token, "hidden", custom_domain=DOMAIN, published=0)
    assert get(server, "/meetings/hidden", "crm.example.test").status_code == 404
    assert get(server, "/meetings/nope", "crm.example.test").status_code == 404


def test_meetings_on_a_custom_domain_leads_to_its_link(server, token):
    assert get(server, "/meetings", DOMAIN).status_code == 404  # no link uses it yet
    create_link(server, token, "first", custom_domain=DOMAIN)
    create_link(server, token, "second", custom_domain=DOMAIN)
    create_link(server, token, "elsewhere", custom_domain="other.example.test")
    for path in ("/meetings", "/meetings/"):
        found = get(server, path + "?lang=fr", DOMAIN)
        assert found.status_code == 302 and found.headers["Location"] == "/meetings/first?lang=fr"  # the oldest
    assert server.resource("PUT", "Meeting%20Link/second", token, json={"is_default": 1}).status_code == 200
    assert get(server, "/meetings", DOMAIN).headers["Location"] == "/meetings/second"  # the default one
    server.resource("PUT", "Meeting%20Link/second", token, json={"published": 0})
    assert get(server, "/meetings", DOMAIN).headers["Location"] == "/meetings/first"  # published links only
    assert get(server, "/meetings", "other.example.test").headers["Location"] == "/meetings/elsewhere"
    assert get(server, "/meetings", "crm.example.test").status_code == 404


@pytest.mark.parametrize("value", [
    "https://meet.example.com", "meet.example.com/book", "meet.example.com:8443", "meet example.com",
    "192.168.1.10", "localhost", "-meet.example.com", "meet..example.com", "user@meet.example.com",
])
def test_a_bad_custom_domain_is_refused_naming_the_field(server, services, token, value):
    refused = create_link(server, token, "hana-30", custom_domain=value)
    assert refused.status_code == 417, refused.text
    assert refused.json()["field"] == "custom_domain"
    assert services.store.get("Meeting Link", "hana-30") is None
    create_link(server, token, "kept", custom_domain=DOMAIN)
    changed = server.resource("PUT", "Meeting%20Link/kept", token, json={"custom_domain": value, "title": "Changed"})
    assert changed.status_code == 417 and changed.json()["field"] == "custom_domain"
    kept = services.store.get("Meeting Link", "kept")
    assert (kept["custom_domain"], kept["title"]) == (DOMAIN, "Intro call")


def test_unicode_domains_are_kept_as_browsers_send_them(server, token):
    made = create_link(server, token, "hana-30", custom_domain="Bücher.example")
    assert made.json()["data"]["custom_domain"] == "xn--bcher-kva.example"
    assert get(server, "/meetings/hana-30", "xn--bcher-kva.example").status_code == 200
    cleared = server.resource("PUT", "Meeting%20Link/hana-30", token, json={"custom_domain": ""})
    assert cleared.status_code == 200
    assert get(server, "/meetings/hana-30", "crm.example.test").status_code == 200  # no domain: served anywhere


def test_a_link_can_be_kept_out_of_search_engines(h, server, services, token):
    create_link(server, token, "public")
    create_link(server, token, "private", exclude_from_search=1)
    public = get(server, "/meetings/public", "crm.example.test")
    private = get(server, "/meetings/private", "crm.example.test")
    assert "X-Robots-Tag" not in public.headers and meta_robots(public.text) is None
    assert private.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert meta_robots(private.text) == "noindex, nofollow"
    # Changing the setting takes effect at once.
    server.resource("PUT", "Meeting%20Link/private", token, json={"exclude_from_search": 0})
    assert "X-Robots-Tag" not in get(server, "/meetings/private", "crm.example.test").headers
    # A manage page is private whatever the link says.
    slot = server.method("get_slots", get={"link": "public", "start": str(h.next_monday()), "end": str(h.next_monday()),
                                           "timezone": "Europe/Paris"}).json()["message"]["slots"][0]
    booked = server.method("book", post={"link": "public", "start": slot["start"], **h.visitor()}).json()["message"]
    manage = server.http.get(booked["manage_url"], timeout=10)
    assert manage.status_code == 200
    assert manage.headers["X-Robots-Tag"] == "noindex, nofollow" and meta_robots(manage.text) == "noindex, nofollow"


def test_robots_txt(server, tmp_path, monkeypatch):
    default = server.http.get(server.url + "/robots.txt", timeout=10)
    assert default.status_code == 200 and default.headers["Content-Type"].startswith("text/plain")
    assert "Disallow: /api/" in default.text and "/meetings" not in default.text
    own = tmp_path / "robots.txt"
    own.write_text("User-agent: *\nDisallow: /meetings*\n")
    monkeypatch.setenv("MEETINGS_ROBOTS_TXT", str(own))
    assert server.http.get(server.url + "/robots.txt", timeout=10).text == "User-agent: *\nDisallow: /meetings*\n"


def test_emails_and_answers_use_the_custom_domain(h, server, services, token):
    services.mailer = Mailbox()
    create_link(server, token, "hana-30", custom_domain=DOMAIN)
    monday = str(h.next_monday())
    slots = server.http.get(server.url + h.API + "get_slots", headers={"Host": DOMAIN}, timeout=10, params={
        "link": "hana-30", "start": monday, "end": monday, "timezone": "Europe/Paris"})
    assert slots.status_code == 200, slots.text  # the guest API answers on the custom domain too
    made = server.http.post(server.url + h.API + "book", headers={"Host": DOMAIN}, timeout=10,
                            json={"link": "hana-30", "start": slots.json()["message"]["slots"][0]["start"], **h.visitor()})
    assert made.status_code == 200, made.text
    manage_url = made.json()["message"]["manage_url"]
    assert manage_url.startswith(f"https://{DOMAIN}/meetings/manage/")
    services.jobs.drain(10)
    to_visitor = [html for recipients, subject, html, attachments in services.mailer.sent if "vera@client.example" in recipients]
    assert to_visitor and manage_url in to_visitor[0]
    # The manage page answers where its address says.
    token_ = manage_url.rsplit("/", 1)[1]
    assert get(server, f"/meetings/manage/{token_}", DOMAIN).status_code == 200
    # Cancelled: "Book another time" leads to the link on its domain.
    assert server.method("cancel", post={"token": token_}).status_code == 200
    services.jobs.drain(10)
    cancelled = [html for recipients, subject, html, attachments in services.mailer.sent if "vera@client.example" in recipients]
    assert f'href="https://{DOMAIN}/meetings/hana-30"' in cancelled[-1]
