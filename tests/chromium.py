"""Debian's Chromium for the browser tests (tests/browser on the standalone host,
tests/frappe/test_desk_browser.py on a bench): where it is, why it cannot run, and how it
is launched. Playwright's own browser downloads are never used."""

from __future__ import annotations

import os
from typing import Optional

CHROMIUM = "/usr/bin/chromium"
ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")


def why_not() -> Optional[str]:
    """Why the browser tests cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing from this Python (pip install playwright; no `playwright install` needed)"
    return None


def launch(browser_type, *local_hosts: str):
    """Headless Chromium; each of `local_hosts` resolves to 127.0.0.1."""
    rules = [f"--host-resolver-rules=MAP {host} 127.0.0.1" for host in local_hosts]
    return browser_type.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, *rules])
