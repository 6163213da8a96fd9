"""Domains and search engines on Frappe: a System Manager connects the site's domains
(Meetings Settings > Custom Domains), the Meeting Link controller tidies a custom domain
and refuses one the site has not connected, and the site's web server, asked as bench's nginx asks it (the visitor's
Host header plus X-Frappe-Site-Name), redirects to the custom domain, leads /meetings on
it to its link and sends X-Robots-Tag."""

import pytest

frappe = pytest.importorskip("frappe")

from tests.frappe.conftest import cleanup, link_values, make_user, unique  # noqa: E402

DOMAIN = "meet.example.test"


def as_nginx_sends(http, path, host):
    """The site's web server reached through `host` (bench's nginx sets the site's name)."""
    site = http.session.headers["Host"]
    return http.get(path, headers={"Host": host, "X-Frappe-Site-Name": site, "Accept": "text/html"},
                    allow_redirects=False)


def set_site_domains(text):
    settings = frappe.get_single("Meetings Settings")
    settings.custom_domains = text
    settings.save(ignore_permissions=True)
    frappe.db.commit()  # the HTTP tests' web server reads it
    return settings.custom_domains


@pytest.fixture(scope="module")
def links(site):
    slug = unique("dm")
    host = make_user(f"{slug}@meetings-host.example.com", "Dora")
    names = {"home": f"{slug}-home", "private": f"{slug}-private"}
    domain = f"{slug}.{DOMAIN}"
    before = frappe.db.get_single_value("Meetings Settings", "custom_domains")
    set_site_domains(domain.upper())
    frappe.get_doc(link_values(names["home"], host, custom_domain=domain.upper() + "/")).insert(ignore_permissions=True)
    frappe.get_doc(link_values(names["private"], host, exclude_from_search=1)).insert(ignore_permissions=True)
    frappe.db.commit()
    yield {**names, "domain": domain}
    cleanup(list(names.values()), [host])
    set_site_domains(before)


def test_the_controller_tidies_a_domain_and_refuses_a_url(links):
    assert frappe.db.get_value("Meeting Link", links["home"], "custom_domain") == links["domain"]
    for bad in ("https://meet.example.com", "meet.example.com:8443", "meet.example.com/book", "10.0.0.1"):
        # A fresh copy each time: a refused save has already stamped its own `modified`.
        doc = frappe.get_doc("Meeting Link", links["private"])
        doc.custom_domain = bad
        with pytest.raises(frappe.ValidationError, match="Custom Domain"):
            doc.save(ignore_permissions=True)
    frappe.db.rollback()
    assert not frappe.db.get_value("Meeting Link", links["private"], "custom_domain")


def test_the_page_redirects_to_its_custom_domain(http, links):
    moved = as_nginx_sends(http, f"/meetings/{links['home']}?lang=fr", "crm.example.test")
    assert moved.status_code == 301, moved.text[:300]
    assert moved.headers["Location"] == f"https://{links['domain']}/meetings/{links['home']}?lang=fr"
    page = as_nginx_sends(http, f"/meetings/{links['home']}", links["domain"])
    assert page.status_code == 200
    assert f'<link rel="canonical" href="https://{links["domain"]}/meetings/{links["home"]}">' in page.text
    assert "X-Robots-Tag" not in page.headers and '<meta name="robots"' not in page.text
    root = as_nginx_sends(http, "/meetings", links["domain"])
    assert root.status_code == 302 and root.headers["Location"].endswith(f"/meetings/{links['home']}")
    assert as_nginx_sends(http, "/meetings", "nobody.example.test").status_code == 404


def test_a_link_kept_out_of_search_says_so(http, links):
    page = as_nginx_sends(http, f"/meetings/{links['private']}", "crm.example.test")
    assert page.status_code == 200
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in page.text


def test_a_link_may_only_use_a_domain_the_site_connected(links):
    doc = frappe.get_doc("Meeting Link", links["private"])
    doc.custom_domain = "evil.example.test"
    with pytest.raises(frappe.ValidationError, match="Meetings Settings > Custom Domains"):
        doc.save(ignore_permissions=True)
    frappe.db.rollback()
    assert not frappe.db.get_value("Meeting Link", links["private"], "custom_domain")


def test_the_settings_refuse_what_is_not_a_domain(links):
    settings = frappe.get_single("Meetings Settings")
    settings.custom_domains = f"{links['domain']}\nhttps://meet.example.com"
    with pytest.raises(frappe.ValidationError, match="Custom Domains: line 2"):
        settings.save(ignore_permissions=True)
    frappe.db.rollback()
    assert frappe.db.get_single_value("Meetings Settings", "custom_domains") == links["domain"]


def test_a_disconnected_domain_no_longer_redirects(http, links):
    set_site_domains("someone-else.example.test")
    try:
        page = as_nginx_sends(http, f"/meetings/{links['home']}", "crm.example.test")
        assert page.status_code == 200, page.headers.get("Location")
        assert f'https://{links["domain"]}' not in page.text
        assert as_nginx_sends(http, "/meetings", links["domain"]).status_code == 404
    finally:
        set_site_domains(links["domain"])


def test_only_the_exact_slug_is_a_page(http, links):
    # (Frappe's router strips spaces around a path itself; the redirect is built from the name.)
    for path in (f"/meetings/{links['home'].upper()}", f"/meetings/{links['home']}%0d%0a"):
        answer = as_nginx_sends(http, path, "crm.example.test")
        assert answer.status_code == 404, (path, answer.status_code, answer.headers.get("Location"))
