"""Install hooks of the Frappe app (hooks.py: after_install).

Loads without Frappe: `frappe` is imported inside the functions that need a site.
"""

from __future__ import annotations

import re
from typing import Iterable

# Free mail and placeholder domains never make a colleague: a visitor writing from
# gmail.com is a guest even when one of the team's users also has a gmail address.
PUBLIC_DOMAINS = frozenset(
    {
        "aol.com",
        "example.com",
        "example.net",
        "example.org",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "web.de",
        "yahoo.com",
        "yandex.ru",
    }
)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+")


def parse_domains(text: str | None) -> list[str]:
    """Meetings Settings' internal_domains (one per line; commas and blanks also
    separate; a leading "@" is dropped) as sorted, lowercase, unique domains.

    Raises ValueError naming the first entry that is not a domain name.
    """
    domains = set()
    for entry in re.split(r"[\s,;]+", text or ""):
        domain = entry.strip().lstrip("@").rstrip(".").lower()
        if not domain:
            continue
        if not DOMAIN.fullmatch(domain):
            raise ValueError(f"{entry!r} is not a domain name such as example.com")
        domains.add(domain)
    return sorted(domains)


def internal_domains_from_emails(emails: Iterable[str | None]) -> list[str]:
    """The team's email domains: those of the given addresses, public mail domains left out."""
    domains = set()
    for email in emails:
        _, at, domain = (email or "").strip().rpartition("@")
        domain = domain.rstrip(".").lower()
        if at and DOMAIN.fullmatch(domain) and domain not in PUBLIC_DOMAINS:
            domains.add(domain)
    return sorted(domains)


def default_internal_domains() -> list[str]:
    """Email domains of the site's enabled System Users (Administrator and Guest aside)."""
    import frappe

    emails = frappe.get_all(
        "User",
        filters={
            "enabled": 1,
            "user_type": "System User",
            "name": ("not in", ("Administrator", "Guest")),
        },
        pluck="email",
    )
    return internal_domains_from_emails(emails)


def after_install() -> None:
    import frappe

    from meetings_addon.patches.v0_1 import add_contact_email_index, crm_events_in_timeline

    # Frappe marks every patch in patches.txt as done on install without running it,
    # so the ones a fresh site needs too run here.
    add_contact_email_index.execute()
    crm_events_in_timeline.execute()

    settings = frappe.get_single("Meetings Settings")
    if not (settings.internal_domains or "").strip():
        settings.internal_domains = "\n".join(default_internal_domains())
        settings.flags.ignore_permissions = True
        settings.save()


def after_app_install(app_name: str) -> None:
    """Another app was installed on the site: Frappe CRM's Lead and Deal timelines."""
    if app_name == "crm":
        from meetings_addon.patches.v0_1 import crm_events_in_timeline

        crm_events_in_timeline.execute()
