"""The public booking page, built once for both hosts.

One Jinja template (templates/meetings/booking_page.html), one script and one stylesheet
(public/js/booking_page.js, public/css/booking_page.css) are served unchanged by Frappe
(www/meetings/index.py, assets at /assets/meetings_addon/) and by the standalone host
(hosts/standalone/web.py, which serves public/ at the same path). This module computes the
template's context from the use-cases, so both hosts give it the same values:

- the link's facts for the first paint (title, host name and photo, durations, location,
  description, logo, accent colour), dates formatted with Babel in the page's language;
- the page's language: `?lang=` when this app has it, else the link's `language`, else
  English; strings come from Frappe's translation files (<app>/translations/<lang>.csv),
  which Frappe reads itself and the standalone host reads here (`csv_translator`);
- the script's configuration (JSON in the page): the API base, the server's clock, the
  booking window and the translated strings the script uses (its `__("...")` calls).

Pure Python: no Frappe, SQL or HTTP. The host passes `translate_for(lang)`, the function
that translates a message into `lang` (Frappe's `_`, or the CSV files here).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from . import domains
from .booking import consent, service
from .errors import InvalidInput, NotFound
from .links import rules_from_link
from .ports import Services
from .scheduling import booking_window, compile_rules, load_zone

PACKAGE = Path(__file__).resolve().parent
PUBLIC = PACKAGE / "public"
TRANSLATIONS = PACKAGE / "translations"
TEMPLATE = "booking_page.html"  # in TEMPLATE_DIR; Frappe: meetings_addon/templates/meetings/booking_page.html
TEMPLATE_DIR = PACKAGE / "templates" / "meetings"
SCRIPT = "js/booking_page.js"
STYLESHEET = "css/booking_page.css"
EMBED_SCRIPT = "js/embed.js"
ASSET_PREFIX = "/assets/meetings_addon/"
API = "/api/method/meetings_addon.api.booking."
DEFAULT_LANGUAGE = "en"
DEFAULT_ACCENT = "#2563eb"

Translate = Callable[[str], str]

# --- languages -------------------------------------------------------------------------


def languages() -> list[str]:
    """English (the source language) and every language with a translation file here."""
    found = sorted(path.stem for path in TRANSLATIONS.glob("*.csv")) if TRANSLATIONS.is_dir() else []
    return [DEFAULT_LANGUAGE] + [code for code in found if code != DEFAULT_LANGUAGE]


def choose_language(requested: Any, link_language: Any) -> str:
    """The visitor's `?lang=` when this app speaks it, else the link's, else English.

    A regional code falls back to its language (`pt-BR` -> `pt`, `fr_CA` -> `fr`)."""
    offered = languages()
    for wanted in (requested, link_language):
        if not isinstance(wanted, str) or not wanted.strip():
            continue
        code = wanted.strip().replace("_", "-")
        for candidate in (code, code.split("-")[0].lower()):
            match = next((lang for lang in offered if lang.lower() == candidate.lower()), None)
            if match:
                return match
    return DEFAULT_LANGUAGE


@functools.lru_cache(maxsize=32)
def _catalog(lang: str, stamp: float) -> dict[str, str]:
    path = TRANSLATIONS / f"{lang}.csv"
    catalog: dict[str, str] = {}
    if not path.is_file():
        return catalog
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            # Frappe's format: source, translation[, context] (the key is "source:context").
            if len(row) == 3 and row[2]:
                catalog[f"{row[0]}:{row[2]}"] = row[1].strip()
            elif len(row) in (2, 3) and row[1].strip():
                catalog[row[0]] = row[1].strip()
    return catalog


def catalog(lang: str) -> dict[str, str]:
    """The translations of one language as Frappe reads them from translations/<lang>.csv
    (a regional code also takes its parent language's file, the child winning)."""
    merged: dict[str, str] = {}
    parts = lang.split("-")
    for code in (parts[0], lang) if len(parts) > 1 else (lang,):
        path = TRANSLATIONS / f"{code}.csv"
        stamp = path.stat().st_mtime if path.is_file() else 0.0
        merged.update(_catalog(code, stamp))
    return merged


def csv_translator(lang: str) -> Translate:
    """The standalone host's `_`: this app's translation files, the message itself when
    there is no translation."""
    table = catalog(lang)
    return lambda message: table.get(message) or message


def language_name(code: str) -> str:
    """A language's name in that language ("Français", "Português")."""
    try:
        from babel import Locale

        name = Locale.parse(code.replace("-", "_")).get_display_name(code.replace("-", "_")) or code
    except Exception:  # noqa: BLE001 - an unknown code shows as itself
        name = code
    return name[:1].upper() + name[1:]


# --- the script's strings --------------------------------------------------------------

_JS_MESSAGE = re.compile(r"""\b__\(\s*"((?:[^"\\\n]|\\.)*)"|\b__\(\s*'((?:[^'\\\n]|\\.)*)'""")


@functools.lru_cache(maxsize=4)
def _script_messages(stamp: float) -> tuple[str, ...]:
    source = (PUBLIC / SCRIPT).read_text(encoding="utf-8")
    found: list[str] = []
    for match in _JS_MESSAGE.finditer(source):
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        text = json.loads(f'"{raw}"') if match.group(1) is not None else raw.replace("\\'", "'")
        if text not in found:
            found.append(text)
    return tuple(found)


def script_messages() -> tuple[str, ...]:
    """The messages the script translates: the first argument of each `__("...")` call."""
    path = PUBLIC / SCRIPT
    return _script_messages(path.stat().st_mtime if path.is_file() else 0.0)


# --- assets ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _asset_version(path: str, stamp: float, size: int) -> str:
    return hashlib.sha256((PUBLIC / path).read_bytes()).hexdigest()[:12]


def asset_url(path: str) -> str:
    """/assets/meetings_addon/<path>?v=<content hash>: both hosts serve public/ there, and
    the hash changes whenever the file does, so the URL may be cached for good."""
    file = PUBLIC / path
    try:
        stat = file.stat()
    except OSError:
        return ASSET_PREFIX + path
    return f"{ASSET_PREFIX}{path}?v={_asset_version(path, stat.st_mtime, stat.st_size)}"


# --- branding --------------------------------------------------------------------------

_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def _rgb(color: str) -> tuple[float, float, float]:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, c)) * 255):02x}" for c in rgb)


def _luminance(rgb: tuple[float, float, float]) -> float:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""
    la, lb = sorted((_luminance(_rgb(a)), _luminance(_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(a: str, b: str, weight: float) -> str:
    """`weight` of a, the rest of b."""
    ra, rb = _rgb(a), _rgb(b)
    return _hex(tuple(x * weight + y * (1 - weight) for x, y in zip(ra, rb)))  # type: ignore[arg-type]


def theme(accent: Any) -> dict[str, str]:
    """The link's accent colour and the colours derived from it so every text stays
    readable (WCAG AA, 4.5:1): `on_accent` for text on the accent, `ink` for accent-coloured
    text on white and on `tint` (the accent's light wash behind bookable days). A colour
    too pale to see on white (under 3:1) is darkened first."""
    match = _HEX.match(accent.strip()) if isinstance(accent, str) else None
    color = _hex(_rgb(match.group(1))) if match else DEFAULT_ACCENT
    # Too pale to outline a button or mark a day on white (WCAG 1.4.11 asks 3:1), or with
    # no text colour readable on it (red: 4.0 with white, 4.4 with near-black): the same
    # hue, darkened until it is.
    for step in range(0, 21):
        darker = _mix(color, "#000000", 1 - step * 0.05)
        if contrast(darker, "#ffffff") >= 3 and max(contrast(darker, "#ffffff"), contrast(darker, "#111827")) >= 4.5:
            color = darker
            break
    on_accent = "#ffffff" if contrast(color, "#ffffff") >= contrast(color, "#111827") else "#111827"
    tint = _mix(color, "#ffffff", 0.12)
    ink = color
    for step in range(1, 21):
        if contrast(ink, "#ffffff") >= 4.6 and contrast(ink, tint) >= 4.6:
            break
        ink = _mix(color, "#000000", 1 - step * 0.05)
    return {"accent": color, "on_accent": on_accent, "ink": ink, "tint": tint}


def safe_image(url: Any) -> str:
    """An image address the page may show: a path on this site or an http(s) URL."""
    if not isinstance(url, str):
        return ""
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    if re.match(r"^https?://[^\s\"'<>]+$", url, re.IGNORECASE):
        return url
    return ""


def initials(name: str) -> str:
    parts = [p for p in re.split(r"\s+", name or "") if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


# --- formatting (Babel) ----------------------------------------------------------------


def _locale(lang: str) -> str:
    return lang.replace("-", "_")


def format_minutes(minutes: int, lang: str) -> str:
    """"30 min" in the page's language."""
    try:
        from babel.units import format_unit

        return format_unit(minutes, "duration-minute", length="short", locale=_locale(lang))
    except Exception:  # noqa: BLE001 - Babel without that unit: plain digits
        return f"{minutes} min"


def format_when(start: datetime, end: datetime, zone: str, lang: str) -> str:
    """"Monday, March 3, 2031, 10:00 – 10:30 AM" in `zone`, for the page's language."""
    tz = load_zone(zone or "UTC")
    start, end = start.astimezone(tz), end.astimezone(tz)
    try:
        from babel.dates import format_date, format_interval

        day = format_date(start.date(), format="full", locale=_locale(lang))
        hours = format_interval(start, end, skeleton="hm" if _uses_12h(lang) else "Hm", tzinfo=tz, locale=_locale(lang))
        return f"{day}, {hours}"
    except Exception:  # noqa: BLE001
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


def _uses_12h(lang: str) -> bool:
    try:
        from babel import Locale

        return "a" in Locale.parse(_locale(lang)).time_formats["short"].pattern
    except Exception:  # noqa: BLE001
        return False


# --- the context -----------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def _window(services: Services, link: Mapping[str, Any]) -> dict[str, str]:
    """First and last day (in the link's zone) a meeting may lie in, for month navigation."""
    try:
        compiled = compile_rules(rules_from_link(link))
        first, end = booking_window(compiled, int(services.clock.now().timestamp()))
    except InvalidInput:
        today = services.clock.now().date()
        return {"first": today.isoformat(), "last": (today + timedelta(weeks=4)).isoformat()}
    zone = compiled.zone
    return {
        "first": datetime.fromtimestamp(first, zone).date().isoformat(),
        "last": datetime.fromtimestamp(end - 1, zone).date().isoformat(),
    }


def _json_for_html(value: Any) -> str:
    """JSON that is safe inside <script type="application/json">: no `<`, `>` or `&`."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return (
        text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def _base(lang: str, translate: Translate, *, embed: bool, base_url: str, path: str) -> dict[str, Any]:
    base_url = (base_url or "").rstrip("/")
    extra = "&embed=1" if embed else ""
    return {
        "lang": lang,
        "embed": embed,
        "languages": [
            {"code": code, "name": language_name(code), "href": f"{path}?lang={code}{extra}", "current": code == lang}
            for code in languages()
        ],
        "assets": {"css": asset_url(STYLESHEET), "js": asset_url(SCRIPT)},
        "theme": theme(None),
        "base_url": base_url,
        "page_url": base_url + path,
        "canonical_url": "",  # the link's address (its custom domain's when set): booking pages only
        "robots": domains.NOINDEX,  # manage and 404 pages are never indexed; a link's page decides
        "embed_script": base_url + asset_url(EMBED_SCRIPT),
        "logo": "",
        "photo": "",
        "initials": "",
        "host_name": "",
        "title": "",
        "document_title": "",
        "location": "",
        "description": [],
        "durations": [],
        "default_duration": 0,
        "duration_label": "",
        "mode": "book",
        "questions": [],
        "consent_enabled": False,
        "consent_text": "",
        "privacy_text": "",
        "consent": _consent({}, translate),
        "slug": "",
        "manage": {},
        "message": "",
        "config_json": "{}",
    }


def _link_facts(page: dict[str, Any], facts: Mapping[str, Any], lang: str) -> None:
    host_name = facts.get("host") or ", ".join(h["name"] for h in facts.get("hosts") or []) or ""
    minutes = list(facts.get("durations") or [])
    page.update(
        slug=facts["link"],
        title=facts.get("title") or "",
        host_name=host_name,
        photo=safe_image(facts.get("photo")),
        initials=initials(host_name),
        logo=safe_image(facts.get("logo")),
        theme=theme(facts.get("accent_color")),
        location=facts.get("location") or "",
        description=_paragraphs(facts.get("description") or ""),
        durations=[{"minutes": m, "label": format_minutes(m, lang)} for m in minutes],
        default_duration=facts.get("default_duration") or (minutes[0] if minutes else 0),
        duration_label=" / ".join(format_minutes(m, lang) for m in minutes),
        mode=facts.get("mode") or "book",
    )


def _questions(facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    questions = []
    for index, q in enumerate(facts.get("questions") or []):
        kind = q.get("fieldtype") or "Data"
        options = [o.strip() for o in str(q.get("options") or "").split("\n") if o.strip()]
        questions.append({
            "id": f"mt-q{index}",
            "fieldname": q.get("fieldname") or "",
            "label": q.get("label") or q.get("fieldname") or "",
            "fieldtype": kind if kind in ("Data", "Small Text", "Select", "Check", "Phone", "Int") else "Data",
            "options": options,
            "required": bool(q.get("required")),
        })
    return questions


def _consent(facts: Mapping[str, Any], translate: Translate) -> dict[str, Any]:
    """The consent part of the form (booking/consent.py): the notice, one checkbox per
    subscription type and the processing checkbox (Notice and consent), or the notice
    alone (Legitimate interest), and the privacy text. Texts are shown escaped, their
    line breaks kept by the stylesheet."""
    enabled = bool(facts.get("consent_enabled"))
    checkboxes = enabled and facts.get("consent_type") != consent.LEGITIMATE_INTEREST
    return {
        "enabled": enabled,
        "checkboxes": checkboxes,
        "legitimate": enabled and not checkboxes,
        "notice": facts.get("notice_text") or "",
        "subscriptions": [
            {"id": f"mt-sub{index}", "type": row["subscription_type"], "label": row["label"]}
            for index, row in enumerate(facts.get("subscriptions") or [])
        ],
        "processing_label": facts.get("processing_consent_text") or translate(consent.DEFAULT_PROCESSING_TEXT),
        "processing_required": bool(facts.get("processing_consent_required")),
        "privacy_text": facts.get("privacy_text") or "",
    }


def _config(page: dict[str, Any], services: Services, translate: Translate, **extra: Any) -> str:
    messages = {}
    for message in script_messages():
        translated = translate(message)
        if translated != message:
            messages[message] = translated
    config = {
        "kind": page["kind"],
        "lang": page["lang"],
        "api": API,
        "now": services.clock.now().isoformat(),
        "embed": page["embed"],
        "messages": messages,
        **extra,
    }
    return _json_for_html(config)


def booking_context(services: Services, slug: Any, *, lang: Any = None, embed: bool = False, base_url: str = "",
                    translate_for: Callable[[str], Translate] = csv_translator) -> dict[str, Any]:
    """The context of /meetings/<slug>. Raises NotFound for an unknown or unpublished link."""
    facts = service.get_link(services, slug)
    language = choose_language(lang, facts.get("language"))
    translate = translate_for(language)
    page = _base(language, translate, embed=embed, base_url=base_url, path=f"/meetings/{facts['link']}")
    page["kind"] = "book"
    _link_facts(page, facts, language)
    page.update(
        document_title=f"{page['title']} · {page['host_name']}" if page["host_name"] else page["title"],
        questions=_questions(facts),
        consent_enabled=bool(facts.get("consent_enabled")),
        consent_text=facts.get("consent_text") or "",
        privacy_text=facts.get("privacy_text") or "",
        consent=_consent(facts, translate),
    )
    link = service.published_link(services, facts["link"])
    if domains.custom_domain(services, link):  # shared and embedded at its custom domain's address
        page["page_url"] = domains.page_url(services, link)
    page.update(canonical_url=page["page_url"], robots=domains.robots(link))
    page["config_json"] = _config(
        page, services, translate,
        link=facts["link"],
        title=page["title"],
        host=page["host_name"],
        location=page["location"],
        mode=page["mode"],
        durations=[d["minutes"] for d in page["durations"]],
        duration=page["default_duration"],
        window=_window(services, link),
        timezone=facts.get("timezone") or "UTC",
        questions=[{k: q[k] for k in ("id", "fieldname", "fieldtype", "required", "label")} for q in page["questions"]],
    )
    return {"page": page, "_": translate, "title": page["document_title"], "language": language}


def manage_context(services: Services, token: Any, *, lang: Any = None, embed: bool = False, base_url: str = "",
                   translate_for: Callable[[str], Translate] = csv_translator) -> dict[str, Any]:
    """The context of /meetings/manage/<token>. Raises NotFound for an unknown token."""
    view = service.manage_view(services, token)
    try:
        facts: Optional[Mapping[str, Any]] = service.get_link(services, view["link"])
    except NotFound:
        facts = None  # unpublished since: the meeting can still be cancelled
    language = choose_language(lang, (facts or {}).get("language"))
    translate = translate_for(language)
    page = _base(language, translate, embed=embed, base_url=base_url, path=f"/meetings/manage/{token}")
    page["kind"] = "manage"
    if facts:
        _link_facts(page, facts, language)
    page.update(title=view.get("title") or page["title"], host_name=view.get("host") or page["host_name"])
    page["initials"] = initials(page["host_name"])
    start = datetime.fromisoformat(view["start"])
    end = datetime.fromisoformat(view["end"])
    changeable = view["status"] in ("Confirmed", "Requested") and start > services.clock.now()
    minutes = int(view.get("duration") or 0)
    if minutes:
        page["duration_label"] = format_minutes(minutes, language)
    page["slug"] = ""
    page["manage"] = {
        "when": format_when(start, end, view.get("timezone") or "UTC", language),
        "timezone": view.get("timezone") or "UTC",
        "status": view["status"],
        "status_label": translate(view["status"]),
        "changeable": changeable,
        "reschedulable": changeable and facts is not None,
        "calendar_file": f"{API}calendar_file?token={token}",
    }
    page["document_title"] = f"{page['title']} · {page['host_name']}" if page["host_name"] else page["title"]
    page["config_json"] = _config(
        page, services, translate,
        token=token,
        link=view["link"] if facts else "",
        title=page["title"],
        host=page["host_name"],
        location=page["location"],
        mode=page["mode"],
        durations=[minutes] if minutes else [],
        duration=minutes,
        window=_window(services, service.published_link(services, view["link"])) if facts else None,
        timezone=(facts or {}).get("timezone") or "UTC",
        booking={"start": view["start"], "end": view["end"], "timezone": view.get("timezone"), "status": view["status"]},
        calendar_file=page["manage"]["calendar_file"],
        questions=[],
    )
    return {"page": page, "_": translate, "title": page["document_title"], "language": language}


def not_found_context(message: str, *, lang: Any = None, translate_for: Callable[[str], Translate] = csv_translator,
                      services: Optional[Services] = None) -> dict[str, Any]:
    """The standalone host's 404 page (Frappe shows its own)."""
    language = choose_language(lang, None)
    translate = translate_for(language)
    page = _base(language, translate, embed=False, base_url="", path="")
    page["languages"] = []
    page.update(kind="not_found", title=translate("Page not found"), document_title=translate("Page not found"),
                message=translate(message))
    page["config_json"] = _json_for_html({"kind": "not_found", "lang": language, "messages": {}})
    return {"page": page, "_": translate, "title": page["document_title"], "language": language}
