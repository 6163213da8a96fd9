"""Where a meeting link is served and whether search engines may index it.

The rules (docs/ARCHITECTURE.md, "Domains and search engines"), written once for both hosts:

- A link's slug is its name, unique on the site: /meetings/<slug> is the same link on
  every domain that reaches the site. The link is found by slug alone, never by host.
- `custom_domain` is a bare host name, stored lowercase in ASCII (IDNA: a Unicode name is
  kept as its xn-- form, which is what browsers send in the Host header). Case, spaces
  around it, one trailing dot and one trailing slash are tidied; a scheme, path, port,
  user, IP address or single-label name is refused, naming `custom_domain`.
- A booking page asked for on another host than the link's custom domain answers 301 to
  https://<custom domain>/meetings/<slug>, query string kept. Addresses built for a
  link (its page, its manage links in emails and answers) use https://<custom domain>
  when it has one, else the site's URL.
- /meetings on a host that is some published link's custom domain answers 302 to that
  link (the one marked default first, else the oldest); elsewhere it stays a 404.
- `exclude_from_search`: the page says `noindex, nofollow` (meta robots and the
  X-Robots-Tag header). The manage page is private, so it always does.

Pure Python over the Store port: no Frappe, SQL or HTTP.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping, Optional, Union
from urllib.parse import quote

import idna

from .errors import InvalidRule
from .ports import Services

LINK = "Meeting Link"
FIELD = "custom_domain"
SCHEME = "https"  # a custom domain is a public site: its links are https
NOINDEX = "noindex, nofollow"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def clean_custom_domain(value: Any) -> str:
    """The stored form of a custom domain ("" for none); InvalidRule naming the field."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRule(FIELD, "enter a domain name, e.g. meet.example.com")
    text = value.strip()
    if text.endswith("/"):
        text = text[:-1]
    if text.endswith("."):
        text = text[:-1]
    if not text:
        return ""
    example = "e.g. meet.example.com"
    if "://" in text or text.lower().startswith(("http:", "https:")):
        raise InvalidRule(FIELD, f"enter the domain only, without http:// or https:// ({example})")
    for mark, what in (("/", "a path"), (":", "a port"), ("@", "a user name"), ("?", "a query"), ("#", "a fragment")):
        if mark in text:
            raise InvalidRule(FIELD, f"enter the domain only, without {what} ({example})")
    if any(ch.isspace() for ch in text):
        raise InvalidRule(FIELD, f"a domain name has no spaces ({example})")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise InvalidRule(FIELD, f"enter a domain name, not an IP address ({example})")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidRule(FIELD, f"{text!r} is not a valid domain name ({example})") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidRule(FIELD, f"{text!r} is not a valid domain name ({example})")
    if labels[-1].isdigit():
        raise InvalidRule(FIELD, f"enter a domain name, not an IP address ({example})")
    return ascii_name


def request_host(host: Optional[str]) -> str:
    """A Host header as a custom domain is stored: lowercase, no port, no trailing dot."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # an IPv6 literal: never a custom domain
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def custom_domain(link: Optional[Mapping[str, Any]]) -> str:
    return ((link or {}).get(FIELD) or "").strip().lower()


def base_url(services: Services, link: Optional[Mapping[str, Any]]) -> str:
    """https://<custom domain> when the link has one, else the site's URL."""
    domain = custom_domain(link)
    return f"{SCHEME}://{domain}" if domain else services.site_url.rstrip("/")


def _link(services: Services, link: Union[Mapping[str, Any], str, None]) -> Optional[Mapping[str, Any]]:
    if isinstance(link, str):
        return {FIELD: services.store.get_value(LINK, {"name": link}, FIELD)} if link else None
    return link


def page_url(services: Services, link: Mapping[str, Any]) -> str:
    """The address of a link's booking page (its canonical URL)."""
    return f"{base_url(services, link)}/meetings/{quote(link.get('name') or '', safe='')}"


def manage_url(services: Services, token: str, link: Union[Mapping[str, Any], str, None] = None) -> str:
    """The manage page of a booking of `link` (a record or its name) on the link's domain."""
    return f"{base_url(services, _link(services, link))}/meetings/manage/{token}"


def redirect_url(link: Mapping[str, Any], host: Optional[str], path: str, query: str = "") -> Optional[str]:
    """Where a request for the link's page on `host` belongs, or None when it is there."""
    domain = custom_domain(link)
    if not domain or request_host(host) == domain:
        return None
    return f"{SCHEME}://{domain}{path}" + (f"?{query}" if query else "")


def redirect_for_slug(services: Services, slug: Any, host: Optional[str], path: str, query: str = "") -> Optional[str]:
    """redirect_url for the published link `slug` (one light read: the page itself may read
    calendars); None for an unknown or unpublished link, which answers its 404 where asked."""
    if not isinstance(slug, str) or not slug.strip():
        return None
    rows = services.store.list(LINK, {"name": slug.strip()}, fields=("name", "published", FIELD), limit=1)
    if not rows or not rows[0].get("published"):
        return None
    return redirect_url(rows[0], host, path, query)


def link_for_host(services: Services, host: Optional[str]) -> Optional[str]:
    """The slug /meetings leads to on `host`: the published link whose custom domain it
    is (the default one first, then the oldest); None when no link uses the domain."""
    domain = request_host(host)
    if not domain:
        return None
    rows = services.store.list(LINK, {FIELD: domain, "published": 1}, fields=("name", "is_default", "creation"))
    if not rows:
        return None
    rows.sort(key=lambda row: (not row.get("is_default"), str(row.get("creation") or ""), row["name"]))
    return rows[0]["name"]


def robots(link: Optional[Mapping[str, Any]]) -> str:
    """The robots directive for a link's page: NOINDEX when it is kept out of search."""
    return NOINDEX if (link or {}).get("exclude_from_search") else ""
