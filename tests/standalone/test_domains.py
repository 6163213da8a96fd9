"""Domains and search engines (meetings_addon/domains.py) through the standalone server:
the Administrator connects the site's domains (Meetings Settings > Custom Domains), a
link may use one of them, the Host header each request carries decides where a link's
page answers, a slug is one link on every domain, and a link can be kept out of search
engines."""

from __future__ import annotations

import re

import pytest

DOMAIN = "meet.example.test"
CONNECTED = (DOMAIN, "other.example.test", "Bücher.example")  # what the Administrator lists
SETTINGS = "Meetings%20Settings/Meetings%20Settings"


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
def admin(h):
    return h.add_host("Administrator", tz="UTC", name="Administrator")


@pytest.fixture
def token(h, server, admin):
    assert connect(server, admin, *CONNECTED).status_code == 200
    return h.add_host()


def connect(server, admin, *domains):
    """The Administrator's list of the site's domains (Meetings Settings > Custom Domains)."""
    return server.resource("PUT", SETTINGS, admin, json={"custom_domains": "\n".join(domains)})


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


# --- only the domains the Administrator connected (an open redirect otherwise) ------------


def test_a_link_owner_cannot_point_a_link_at_a_domain_the_site_has_not_connected(server, services, token):
    refused = create_link(server, token, "hana-30", custom_domain="evil.example.test")
    assert refused.status_code == 417 and refused.json()["field"] == "custom_domain"
    assert "Meetings Settings > Custom Domains" in refused.json()["exception"]
    assert services.store.get("Meeting Link", "hana-30") is None
    assert create_link(server, token, "hana-30").status_code == 200
    moved = server.resource("PUT", "Meeting%20Link/hana-30", token, json={"custom_domain": "evil.example.test", "title": "X"})
    assert moved.status_code == 417 and moved.json()["field"] == "custom_domain"
    kept = services.store.get("Meeting Link", "hana-30")
    assert (kept["custom_domain"], kept["title"]) == (None, "Intro call")
    assert get(server, "/meetings/hana-30", "crm.example.test").status_code == 200  # no redirect anywhere
    # A connected domain is taken however it is typed.
    assert server.resource("PUT", "Meeting%20Link/hana-30", token, json={"custom_domain": "OTHER.example.test."}).status_code == 200
    assert get(server, "/meetings/hana-30", "crm.example.test").headers["Location"] == "https://other.example.test/meetings/hana-30"


def test_only_the_administrator_connects_domains(server, services, admin, token):
    assert server.resource("GET", SETTINGS, token).status_code == 403
    denied = server.resource("PUT", SETTINGS, token, json={"custom_domains": "evil.example.test"})
    assert denied.status_code == 403
    assert "evil.example.test" not in services.store.get("Meetings Settings", "Meetings Settings")["custom_domains"]
    # Tidied as a link's domain is, one a line, duplicates dropped.
    tidy = connect(server, admin, "Meet.Example.TEST/", "", "  meet.example.test ", "Bücher.example")
    assert tidy.status_code == 200, tidy.text
    assert tidy.json()["data"]["custom_domains"] == "meet.example.test\nxn--bcher-kva.example"
    assert "zoom_client_secret" not in tidy.json()["data"]  # passwords are never returned
    for bad in ("https://meet.example.test", "meet.example.test:8443", "10.0.0.1", "localhost"):
        refused = connect(server, admin, "a.example.test", bad)
        assert refused.status_code == 417 and refused.json()["field"] == "custom_domains", bad
        assert "line 2" in refused.json()["exception"]
    # The site's own name is no custom domain: it would take over /meetings.
    services.site_url = "https://crm.example.test"
    own = connect(server, admin, "CRM.example.test")
    assert own.status_code == 417 and own.json()["field"] == "custom_domains"
    after = server.resource("GET", SETTINGS, admin).json()["data"]["custom_domains"]
    assert after == "meet.example.test\nxn--bcher-kva.example"  # nothing changed by a refused save


def test_a_domain_removed_from_the_settings_stops_redirecting(h, server, services, admin, token):
    services.mailer = Mailbox()
    create_link(server, token, "hana-30", custom_domain=DOMAIN)
    assert get(server, "/meetings/hana-30", "crm.example.test").status_code == 301
    assert connect(server, admin, "other.example.test").status_code == 200  # DOMAIN disconnected
    page = get(server, "/meetings/hana-30", "crm.example.test")
    assert page.status_code == 200  # served where it is asked for: no visitor stranded
    assert canonical(page.text) == "http://crm.example.test/meetings/hana-30"
    assert get(server, "/meetings", DOMAIN).status_code == 404
    monday = str(h.next_monday())
    slot = server.method("get_slots", get={"link": "hana-30", "start": monday, "end": monday,
                                           "timezone": "Europe/Paris"}).json()["message"]["slots"][0]
    booked = server.method("book", post={"link": "hana-30", "start": slot["start"], **h.visitor()})
    manage_url = booked.json()["message"]["manage_url"]
    assert manage_url.startswith(f"{server.url}/meetings/manage/")  # the site's own address
    services.jobs.drain(10)
    to_visitor = [html for recipients, subject, html, attachments in services.mailer.sent if "vera@client.example" in recipients]
    assert to_visitor and manage_url in to_visitor[0] and DOMAIN not in to_visitor[0]
    # The owner can still edit the link; connected again, the domain works again.
    assert server.resource("PUT", "Meeting%20Link/hana-30", token, json={"title": "Renamed"}).status_code == 200
    assert connect(server, admin, DOMAIN).status_code == 200
    assert get(server, "/meetings/hana-30", "crm.example.test").status_code == 301


# --- the redirect is built from the stored slug --------------------------------------------


@pytest.mark.parametrize("path", ["/meetings/hana-30%20", "/meetings/hana-30%0d%0a", "/meetings/HANA-30",
                                  "/meetings/%20hana-30", "/meetings/hana-30%00"])
def test_only_the_exact_slug_is_a_page(server, token, path):
    create_link(server, token, "hana-30", custom_domain=DOMAIN)
    create_link(server, token, "plain")
    for host in ("crm.example.test", DOMAIN):
        answer = get(server, path, host)
        assert answer.status_code == 404, (host, answer.status_code, answer.headers.get("Location"))
        answer = get(server, path.replace("hana-30", "plain").replace("HANA-30", "PLAIN"), host)
        assert answer.status_code == 404, (host, answer.status_code)


def test_the_redirect_names_the_stored_slug(server, token):
    create_link(server, token, "hana-30", custom_domain=DOMAIN)
    moved = get(server, "/meetings/hana-30/?lang=fr", "crm.example.test")  # the request's own path differs
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"https://{DOMAIN}/meetings/hana-30?lang=fr"


# --- behind a reverse proxy (TLS ends there) -----------------------------------------------


def test_trusted_proxies_say_which_host_the_visitor_asked_for(start_server, services, h, monkeypatch):
    def through_proxy(server, forwarded_host):
        return server.http.get(server.url + "/meetings/hana-30", allow_redirects=False, timeout=10, headers={
            "X-Forwarded-Host": forwarded_host, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})

    plain = start_server()  # MEETINGS_TRUSTED_PROXIES unset: the headers are ignored
    admin = h.add_host("Administrator", tz="UTC", name="Administrator")
    assert connect(plain, admin, DOMAIN).status_code == 200
    token = h.add_host()
    assert create_link(plain, token, "hana-30", custom_domain=DOMAIN).status_code == 200
    spoofed = through_proxy(plain, DOMAIN)
    assert spoofed.status_code == 301 and spoofed.headers["Location"] == f"https://{DOMAIN}/meetings/hana-30"

    monkeypatch.setenv("MEETINGS_TRUSTED_PROXIES", "1")  # nginx in front: proxy_set_header X-Forwarded-Host ...
    proxied = start_server()
    page = through_proxy(proxied, DOMAIN)
    assert page.status_code == 200, page.headers.get("Location")
    assert canonical(page.text) == f"https://{DOMAIN}/meetings/hana-30"
    elsewhere = through_proxy(proxied, "crm.example.test")
    assert elsewhere.status_code == 301 and elsewhere.headers["Location"] == f"https://{DOMAIN}/meetings/hana-30"
