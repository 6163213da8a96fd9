"""Domains and search engines on Frappe: the Meeting Link controller tidies or refuses a
custom domain, and the site's web server, asked as bench's nginx asks it (the visitor's
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


@pytest.fixture(scope="module")
def links(site):
    slug = unique("dm")
    host = make_user(f"{slug}@meetings-host.example.com", "Dora")
    names = {"home": f"{slug}-home", "private": f"{slug}-private"}
    domain = f"{slug}.{DOMAIN}"
    frappe.get_doc(link_values(names["home"], host, custom_domain=domain.upper() + "/")).insert(ignore_permissions=True)
    frappe.get_doc(link_values(names["private"], host, exclude_from_search=1)).insert(ignore_permissions=True)
    frappe.db.commit()
    yield {**names, "domain": domain}
    cleanup(list(names.values()), [host])


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
