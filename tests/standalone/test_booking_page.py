"""The booking page without a browser: one template rendered alike by both hosts, the
/assets/meetings_addon files (and nothing else), the translation files, the page's
language and colours. The browser tests (tests/browser) drive the page itself."""

from __future__ import annotations

import csv
import http.client
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

import pytest
from jinja2 import ChoiceLoader, DebugUndefined, FileSystemLoader, PrefixLoader
from jinja2.sandbox import SandboxedEnvironment

from meetings_addon import booking_page
from meetings_addon.hosts.standalone.web import _public_file

PACKAGE = Path(booking_page.__file__).resolve().parent
TEMPLATE = PACKAGE / "templates" / "meetings" / "booking_page.html"


class Frozen:
    """The real time, stopped: both renders of a page see the same clock."""

    def __init__(self):
        self.at = datetime.now(timezone.utc)

    def now(self) -> datetime:
        return self.at


def frappe_like_render(context: dict) -> str:
    """www/meetings/index.html as Frappe renders it: a sandboxed environment that does not
    autoescape, DebugUndefined, templates found as "<app>/<path>"."""
    loader = ChoiceLoader([PrefixLoader({"meetings_addon": FileSystemLoader(str(PACKAGE))}), FileSystemLoader(str(PACKAGE))])
    env = SandboxedEnvironment(loader=loader, undefined=DebugUndefined)
    source = (PACKAGE / "www" / "meetings" / "index.html").read_text()
    assert "{% extends" in source  # so Frappe does not wrap it in web.html
    return env.from_string(source).render(**context)


@pytest.fixture
def link(h, server, services):
    services.clock = Frozen()
    h.add_host(name="Hana <Host> & Co")
    return h.add_link(
        "hana-30", title="<script>alert(1)</script> & chat", description='"quoted" <b>bold</b>\n\nSecond paragraph',
        location="Room <1>", durations="30,60", language="fr", accent_color="#ffff00",
        questions=[{"label": "<img src=x onerror=alert(1)>Goal", "fieldname": "goal", "fieldtype": "Select",
                    "options": "A\n<b>B</b>", "required": 1}],
        consent_enabled=1, consent_text="I agree </script><script>alert(2)</script>",
    )


def test_both_hosts_render_the_same_escaped_page(link, server, services):
    page = server.http.get(server.url + "/meetings/hana-30", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self': no inline script runs
    context = booking_page.booking_context(services, "hana-30", base_url=server.url)
    assert frappe_like_render(context) == page.text  # Frappe (no autoescape) sends the same bytes
    html = page.text
    for raw in ("<script>alert", "<img src=x", "<b>", "Room <1>", "</script><script>"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; chat" in html
    assert "&lt;img src=x onerror=alert(1)&gt;Goal" in html and "Hana &lt;Host&gt; &amp; Co" in html
    assert "{{" not in html and "}}" not in html  # nothing left undefined (Frappe's DebugUndefined)
    assert 'data-link="hana-30"' in html and 'lang="fr"' in html and "<noscript>" in html
    config = json.loads(re.search(r'<script type="application/json" id="mt-config">(.*?)</script>', html, re.S).group(1))
    assert config["kind"] == "book" and config["link"] == "hana-30" and config["durations"] == [30, 60]
    assert config["messages"]["Sorry, that time was just taken. Please choose another one."].startswith("Désolé")
    assert config["questions"][0]["label"] == "<img src=x onerror=alert(1)>Goal"  # JSON, shown as text by the script


def test_the_page_links_versioned_assets_that_the_host_serves(link, server):
    html = server.http.get(server.url + "/meetings/hana-30", timeout=5).text
    for path, kind in (("css/booking_page.css", "text/css"), ("js/booking_page.js", "text/javascript")):
        url = re.search(rf'"(/assets/meetings_addon/{path}\?v=\w+)"', html).group(1)
        answer = server.http.get(server.url + url, timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(kind)
        assert answer.content == (PACKAGE / "public" / path).read_bytes()
        assert "immutable" in answer.headers["Cache-Control"]
        plain = server.http.get(server.url + url.split("?")[0], timeout=5)
        assert "immutable" not in plain.headers["Cache-Control"] and plain.headers.get("ETag")
        again = server.http.get(server.url + url.split("?")[0], headers={"If-None-Match": plain.headers["ETag"]}, timeout=5)
        assert again.status_code == 304
    embed = server.http.get(server.url + "/assets/meetings_addon/js/embed.js", timeout=5)
    assert embed.status_code == 200 and embed.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("path", [
    "/assets/meetings_addon/../booking_page.py",
    "/assets/meetings_addon/%2e%2e/booking_page.py",
    "/assets/meetings_addon/js/../../hosts/standalone/web.py",
    "/assets/meetings_addon/js/%2e%2e/%2e%2e/booking_page.py",
    "/assets/meetings_addon/..%2fbooking_page.py",
    "/assets/meetings_addon/js/..%5c..%5cbooking_page.py",
    "/assets/meetings_addon//etc/passwd",
    "/assets/meetings_addon/.gitkeep",
    "/assets/meetings_addon/js",
    "/assets/meetings_addon/js/",
    "/assets/meetings_addon/js/nothing.js",
    "/assets/meetings_addon/%00.js",
])
def test_assets_never_leave_the_public_folder(server, path):
    # http.client sends the path as written (requests would resolve the dots first).
    address = urlparse(server.url)
    for _ in range(3):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        if answer.status not in (301, 308):
            break
        path = urlparse(str(answer.getheader("Location"))).path  # Werkzeug merges double slashes first
        assert path.startswith("/assets/meetings_addon/")
    assert answer.status == 404, (path, answer.status)
    assert b"import" not in body and b"root:" not in body


def test_public_file_resolution():
    assert _public_file("js/booking_page.js") == (PACKAGE / "public" / "js" / "booking_page.js").resolve()
    for bad in ("", "/etc/passwd", "../booking_page.py", "js/../../hooks.py", "js\\..\\x.js", ".gitkeep", "js", "js/x\x00.js",
                "js//booking_page.js"):
        assert _public_file(bad) is None, bad


def test_the_manage_page_and_unknown_pages(h, server, services):
    services.clock = Frozen()
    h.add_host()
    h.add_link(language="pt")
    start = server.method("get_slots", get={"link": "hana-30", "start": str(h.next_monday()), "end": str(h.next_monday()),
                                            "timezone": "Europe/Paris"}).json()["message"]["slots"][0]["start"]
    made = server.method("book", post={"link": "hana-30", "start": start, **h.visitor()}).json()["message"]
    page = server.http.get(made["manage_url"], timeout=5)
    assert page.status_code == 200 and 'data-kind="manage"' in page.text and 'lang="pt"' in page.text
    assert "Confirmada" in page.text and "calendar_file?token=" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    token = made["manage_url"].rsplit("/", 1)[1]
    context = booking_page.manage_context(services, token, base_url=server.url)
    assert frappe_like_render(context) == page.text
    missing = server.http.get(server.url + "/meetings/no-such-link?lang=fr", timeout=5)
    assert missing.status_code == 404 and "Page introuvable" in missing.text
    assert server.http.get(server.url + "/meetings/page", timeout=5).status_code == 404
    assert not (PACKAGE / "www" / "meetings" / "page.html").exists()  # Frappe must not serve /meetings/page


def test_the_language_is_the_visitors_then_the_links():
    assert booking_page.languages()[:1] == ["en"] and {"fr", "pt"} <= set(booking_page.languages())
    assert booking_page.choose_language("pt", "fr") == "pt"
    assert booking_page.choose_language("pt-BR", "fr") == "pt"
    assert booking_page.choose_language("xx", "fr_CA") == "fr"
    assert booking_page.choose_language(None, "de") == "en"
    assert booking_page.choose_language("<script>", None) == "en"
    assert booking_page.language_name("fr") == "Français" and booking_page.language_name("pt") == "Português"


def _template_messages() -> set[str]:
    source = TEMPLATE.read_text()
    return {a or b for a, b in re.findall(r'''\b_\(\s*"((?:[^"\\]|\\.)*)"|\b_\(\s*'((?:[^'\\]|\\.)*)'\s*\)''', source)}


@pytest.mark.parametrize("lang", ["fr", "pt"])
def test_every_string_of_the_page_is_translated(lang):
    path = PACKAGE / "translations" / f"{lang}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert all(len(row) == 2 and row[0] and row[1].strip() for row in rows), "Frappe's format: source,translation"
    table = dict(rows)
    assert len(table) == len(rows), "a source string appears twice"
    wanted = _template_messages() | set(booking_page.script_messages()) | {
        "Page not found", "Confirmed", "Requested", "Cancelled", "Rescheduled",
        "No meeting link here: check the address you were given.",
        "This meeting link does not exist or is no longer published.",
        "This link to manage a meeting is not valid.",
    }
    assert len(wanted) > 60
    missing = sorted(wanted - set(table))
    assert not missing, f"{lang}.csv lacks: {missing}"
    for source, translated in table.items():
        assert re.findall(r"\{\d\}", source) == re.findall(r"\{\d\}", translated), (source, translated)
        assert not re.search("<[^>]+>", source), f"Frappe's _ strips what looks like HTML: {source!r}"


def test_accent_colours_stay_readable():
    for color in ("#ffff00", "#ffffff", "#0f766e", "#000000", "#93c5fd", "#ff0000", "#22c55e", "nonsense", None, "red;}"):
        theme = booking_page.theme(color)
        assert re.fullmatch(r"#[0-9a-f]{6}", theme["accent"])
        assert booking_page.contrast(theme["accent"], "#ffffff") >= 3
        assert booking_page.contrast(theme["accent"], theme["on_accent"]) >= 4.5
        assert booking_page.contrast(theme["ink"], "#ffffff") >= 4.5
        assert booking_page.contrast(theme["ink"], theme["tint"]) >= 4.5


def test_only_site_paths_and_web_addresses_are_shown_as_images():
    assert booking_page.safe_image("/files/alex.png") == "/files/alex.png"
    assert booking_page.safe_image("https://cdn.example/a.png") == "https://cdn.example/a.png"
    for bad in ("javascript:alert(1)", "//evil.example/a.png", "data:text/html,<script>", 'https://x/"onerror=1', None, 3):
        assert booking_page.safe_image(bad) == ""
