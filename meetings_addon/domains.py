"""Where a meeting link is served and whether search engines may index it.

The rules (docs/ARCHITECTURE.md, "Domains and search engines"), written once for both hosts:

- A link's slug is its name, unique on the site: /meetings/<slug> is the same link on
  every domain that reaches the site. The link is found by slug alone, never by host.
- The site's domains are connected by an administrator (HubSpot's domain manager):
  Meetings Settings > Custom Domains, one host name per line, each cleaned as below,
  duplicates dropped; the site's own host name is refused (it would take over
  /meetings). A link's `custom_domain` must be one of them, else it is refused naming
  `custom_domain`: a link owner cannot send visitors (and manage tokens) elsewhere.
- `custom_domain` is a bare host name, stored lowercase in ASCII (IDNA: a Unicode name is
  kept as its xn-- form, which is what browsers send in the Host header). Case, spaces
  around it, one trailing dot and one trailing slash are tidied; a scheme, path, port,
  user, IP address or single-label name is refused, naming `custom_domain`.
- At serve time a link's custom domain counts only while it is still listed in the
  settings; otherwise the link has none (no redirect, addresses on the site's URL), so
  removing a domain never strands or redirects visitors.
- /meetings/<slug> is served only when <slug> is exactly a published link's name (a
  stray space, capital or control character is another address: 404). Asked for on
  another host than the link's custom domain it answers 301 to
  https://<custom domain>/meetings/<quoted name>, query string kept: the address is
  built from the stored name, never from the request. Addresses built for a link (its
  page, its manage links in emails and answers) use https://<custom domain> when it
  has one, else the site's URL.
- /meetings on a host that is a listed domain and some published link's custom domain
  answers 302 to that link (the one marked default first, else the oldest); elsewhere
  it stays a 404.
- `exclude_from_search`: the page says `noindex, nofollow` (meta robots and the
  X-Robots-Tag header). The manage page is private, so it always does.

Pure Python over the Store port: no Frappe, SQL or HTTP.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping, Optional, Union
from urllib.parse import quote, urlsplit

import idna

from .errors import InvalidRule
from .ports import Services

LINK = "Meeting Link"
FIELD = "custom_domain"
SETTINGS = "Meetings Settings"
SETTINGS_FIELD = "custom_domains"  # the administrator's list, one host name per line
NOT_LISTED = "is not one of this site's domains: an administrator adds it in Meetings Settings > Custom Domains"
SCHEME = "https"  # a custom domain is a public site: its links are https
NOINDEX = "noindex, nofollow"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def clean_custom_domain(value: Any, field: str = FIELD) -> str:
    """The stored form of a custom domain ("" for none); InvalidRule naming `field`."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRule(field, "enter a domain name, e.g. meet.example.com")
    text = value.strip()
    if text.endswith("/"):
        text = text[:-1]
    if text.endswith("."):
        text = text[:-1]
    if not text:
        return ""
    example = "e.g. meet.example.com"
    if "://" in text or text.lower().startswith(("http:", "https:")):
        raise InvalidRule(field, f"enter the domain only, without http:// or https:// ({example})")
    for mark, what in (("/", "a path"), (":", "a port"), ("@", "a user name"), ("?", "a query"), ("#", "a fragment")):
        if mark in text:
            raise InvalidRule(field, f"enter the domain only, without {what} ({example})")
    if any(ch.isspace() for ch in text):
        raise InvalidRule(field, f"a domain name has no spaces ({example})")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise InvalidRule(field, f"enter a domain name, not an IP address ({example})")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidRule(field, f"{text!r} is not a valid domain name ({example})") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidRule(field, f"{text!r} is not a valid domain name ({example})")
    if labels[-1].isdigit():
        raise InvalidRule(field, f"enter a domain name, not an IP address ({example})")
    return ascii_name


def request_host(host: Optional[str]) -> str:
    """A Host header as a custom domain is stored: lowercase, no port, no trailing dot."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # an IPv6 literal: never a custom domain
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def clean_site_domains(value: Any, site_url: str = "") -> str:
    """Meetings Settings > Custom Domains as stored: one cleaned host name per line, in
    the order given, duplicates dropped. InvalidRule naming `custom_domains` for a line
    that is not a host name, or that is the site's own (`site_url`'s) host name."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRule(SETTINGS_FIELD, "enter one domain name per line, e.g. meet.example.com")
    own = (urlsplit(site_url or "").hostname or "").lower()
    kept: list[str] = []
    for number, line in enumerate(value.splitlines(), start=1):
        try:
            domain = clean_custom_domain(line, SETTINGS_FIELD)
        except InvalidRule as error:
            raise InvalidRule(SETTINGS_FIELD, f"line {number}: {error.reason}") from None
        if domain and domain == own:
            raise InvalidRule(SETTINGS_FIELD, f"line {number}: {domain} is this site's own address, not a custom domain")
        if domain and domain not in kept:
            kept.append(domain)
    return "\n".join(kept)


def site_domains(services: Services) -> frozenset[str]:
    """The domains an administrator connected (Meetings Settings > Custom Domains). A line
    that no longer passes (stored before a rule existed) is skipped, never trusted."""
    settings = services.store.get(SETTINGS, SETTINGS) or {}
    listed = set()
    # The site's own name is refused when the list is saved, not here: on Frappe the
    # site's URL follows the request's Host, which on a custom domain is that domain.
    for line in str(settings.get(SETTINGS_FIELD) or "").splitlines():
        try:
            domain = clean_custom_domain(line, SETTINGS_FIELD)
        except InvalidRule:
            continue
        if domain:
            listed.add(domain)
    return frozenset(listed)


def check_custom_domain(services: Services, value: Any, current: Any = None) -> str:
    """A link's custom_domain as stored: cleaned, and one of the site's domains. A value
    the link already has is kept even if no longer listed (it is inert until listed
    again), so an owner can still edit the rest of the link."""
    domain = clean_custom_domain(value)
    if domain and domain != (current or "") and domain not in site_domains(services):
        raise InvalidRule(FIELD, f"{domain} {NOT_LISTED}")
    return domain


def custom_domain(services: Services, link: Optional[Mapping[str, Any]]) -> str:
    """The link's custom domain while it is one of the site's domains, else ""."""
    domain = ((link or {}).get(FIELD) or "").strip().lower()
    return domain if domain and domain in site_domains(services) else ""


def base_url(services: Services, link: Optional[Mapping[str, Any]]) -> str:
    """https://<custom domain> when the link has one (still listed), else the site's URL."""
    domain = custom_domain(services, link)
    return f"{SCHEME}://{domain}" if domain else services.site_url.rstrip("/")


def _link(services: Services, link: Union[Mapping[str, Any], str, None]) -> Optional[Mapping[str, Any]]:
    if isinstance(link, str):
        return {FIELD: services.store.get_value(LINK, {"name": link}, FIELD)} if link else None
    return link


def page_path(name: str) -> str:
    """/meetings/<name>, the name quoted: an address built from the stored slug."""
    return "/meetings/" + quote(name or "", safe="")


def page_url(services: Services, link: Mapping[str, Any]) -> str:
    """The address of a link's booking page (its canonical URL)."""
    return f"{base_url(services, link)}{page_path(link.get('name') or '')}"


def manage_url(services: Services, token: str, link: Union[Mapping[str, Any], str, None] = None) -> str:
    """The manage page of a booking of `link` (a record or its name) on the link's domain."""
    return f"{base_url(services, _link(services, link))}/meetings/manage/{token}"


def published_page(services: Services, slug: Any) -> Optional[Mapping[str, Any]]:
    """The published link /meetings/<slug> shows, only when `slug` is exactly its name
    (one light read: the page itself may read calendars); None answers a 404. A database
    that compares case- or space-insensitively (MariaDB) must not make "X " the same page."""
    if not isinstance(slug, str) or not slug or len(slug) > 140:
        return None
    rows = services.store.list(LINK, {"name": slug}, fields=("name", "published", FIELD), limit=1)
    if not rows or rows[0].get("name") != slug or not rows[0].get("published"):
        return None
    return rows[0]


def redirect_url(services: Services, link: Mapping[str, Any], host: Optional[str], query: str = "") -> Optional[str]:
    """Where a request for the link's page on `host` belongs, or None when it is there.
    The path is built from the link's stored name, never from the request's path."""
    domain = custom_domain(services, link)
    if not domain or request_host(host) == domain:
        return None
    return f"{SCHEME}://{domain}{page_path(link['name'])}" + (f"?{query}" if query else "")


def link_for_host(services: Services, host: Optional[str]) -> Optional[str]:
    """The slug /meetings leads to on `host`: the published link whose custom domain it
    is (the default one first, then the oldest); None when no link uses the domain."""
    domain = request_host(host)
    if not domain or domain not in site_domains(services):
        return None
    rows = services.store.list(LINK, {FIELD: domain, "published": 1}, fields=("name", "is_default", "creation"))
    if not rows:
        return None
    rows.sort(key=lambda row: (not row.get("is_default"), str(row.get("creation") or ""), row["name"]))
    return rows[0]["name"]


def robots(link: Optional[Mapping[str, Any]]) -> str:
    """The robots directive for a link's page: NOINDEX when it is kept out of search."""
    return NOINDEX if (link or {}).get("exclude_from_search") else ""
