"""Consent (GDPR) on the booking form, per link, as HubSpot Meetings does it.

Two kinds, chosen per Meeting Link (`consent_type`):

- "Notice and consent": the notice (`consent_text`), one checkbox per subscription type
  (its `checkbox_label`, else the type's name), the checkbox consenting to the processing
  of the visitor's data (`processing_consent_text`) and the privacy text. Without the
  processing consent the booking is refused when the link requires it; subscriptions are
  optional ticks.
- "Legitimate interest": a legal basis (prospect/lead or existing customer) the link must
  name, the subscription types given implicitly, the notice and privacy text shown, no
  checkbox.

Before issue 7 a link had one checkbox whose label was `consent_text`. A link that still
has no `processing_consent_text` keeps that form: `consent_text` labels the processing
checkbox and there is no separate notice (so its stored text is unchanged too).

New links take their defaults from Meetings Settings (`new_link_defaults`); a link keeps
its own texts and subscription rows while consent is off, so turning it on again shows
them as they were. What the visitor was shown and agreed to is kept on the Booking
(`record`) and told on the Contact's timeline (`summary`, booking/timeline.py).

Pure functions over a link's record (a Frappe doc's as_dict() or a standalone row).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from ..errors import InvalidBooking, InvalidRule
from ..notifications import i18n

NOTICE_AND_CONSENT = "Notice and consent"
LEGITIMATE_INTEREST = "Legitimate interest"
TYPES = (NOTICE_AND_CONSENT, LEGITIMATE_INTEREST)
LEGAL_BASES = ("Legitimate interest - prospect/lead", "Legitimate interest - existing customer")
DEFAULT_PROCESSING_TEXT = "I agree that my details are stored and used to arrange this meeting."
DEFAULT_SUBSCRIPTION_TYPE = "One to one"  # HubSpot's "one to one" communication
SETTINGS = "Meetings Settings"
MAX_SUBSCRIPTIONS = 50
TRUE = (True, 1, "1", "true")
BOOLEAN = (None, True, False, 0, 1, "0", "1", "true", "false")


@dataclass(frozen=True)
class Subscription:
    type: str
    label: str  # the checkbox's text (Notice and consent)


@dataclass(frozen=True)
class Form:
    """What the booking page shows, resolved from the link's fields."""

    enabled: bool
    type: str
    legal_basis: str  # "" unless Legitimate interest
    notice: str  # shown above the checkboxes (or alone, under legitimate interest)
    subscriptions: tuple[Subscription, ...]
    processing_text: str  # the processing checkbox's label; "" = DEFAULT_PROCESSING_TEXT translated
    processing_required: bool
    privacy_text: str

    @property
    def checkboxes(self) -> bool:
        return self.enabled and self.type == NOTICE_AND_CONSENT


@dataclass(frozen=True)
class Choice:
    """What the visitor ticked: the processing consent and the subscription types."""

    processing: bool
    subscriptions: tuple[str, ...] = ()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def subscription_rows(link: Mapping[str, Any]) -> tuple[Subscription, ...]:
    rows = []
    for row in link.get("subscriptions") or []:
        kind = _text(row.get("subscription_type"))
        if kind and kind not in (r.type for r in rows):
            rows.append(Subscription(kind, _text(row.get("checkbox_label")) or kind))
    return tuple(rows)


def form(link: Mapping[str, Any]) -> Form:
    kind = link.get("consent_type") if link.get("consent_type") in TYPES else NOTICE_AND_CONSENT
    consent_text = _text(link.get("consent_text"))
    processing_text = _text(link.get("processing_consent_text"))
    if kind == NOTICE_AND_CONSENT and not processing_text:
        notice, processing_text = "", consent_text  # the one-checkbox form of earlier links
    else:
        notice = consent_text
    required = link.get("processing_consent_required")
    return Form(
        enabled=bool(link.get("consent_enabled")),
        type=kind,
        legal_basis=_text(link.get("legal_basis")) if kind == LEGITIMATE_INTEREST else "",
        notice=notice,
        subscriptions=subscription_rows(link),
        processing_text=processing_text,
        # The field defaults to 1: a link stored before it existed requires it, as it did.
        processing_required=kind == NOTICE_AND_CONSENT and required not in (0, "0", False),
        privacy_text=_text(link.get("privacy_text")),
    )


def public(link: Mapping[str, Any]) -> dict[str, Any]:
    """The consent keys of get_link (CONTRACT.md): what the page needs to show the form."""
    shown = form(link)
    return {
        "consent_enabled": shown.enabled,
        "consent_type": shown.type,
        "legal_basis": shown.legal_basis,
        "consent_text": _text(link.get("consent_text")),
        "notice_text": shown.notice,
        "processing_consent_required": shown.processing_required and shown.enabled,
        "processing_consent_text": shown.processing_text,
        "subscriptions": [{"subscription_type": s.type, "label": s.label} for s in shown.subscriptions],
        "privacy_text": shown.privacy_text,
    }


# --- the visitor's answer --------------------------------------------------------------


def _subscriptions_given(payload: Mapping[str, Any]) -> tuple[str, ...]:
    value = payload.get("subscriptions")
    if value in (None, ""):
        return ()
    if isinstance(value, str):  # a form post carries the list as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidBooking("subscriptions", "must be a list of subscription types") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidBooking("subscriptions", "must be a list of subscription types")
    if len(value) > MAX_SUBSCRIPTIONS:
        raise InvalidBooking("subscriptions", f"at most {MAX_SUBSCRIPTIONS} subscription types")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def check(link: Mapping[str, Any], payload: Mapping[str, Any]) -> Choice:
    """The visitor's consent, checked against the link; InvalidBooking names `consent` or
    `subscriptions`. `consent` is the processing consent (the API's field since the start)."""
    consent = payload.get("consent")
    if consent not in BOOLEAN:
        raise InvalidBooking("consent", "must be true or false")
    processing = consent in TRUE
    given = _subscriptions_given(payload)
    shown = form(link)
    offered = [s.type for s in shown.subscriptions] if shown.enabled else []
    unknown = [kind for kind in given if kind not in offered]
    if unknown:
        raise InvalidBooking("subscriptions", f"{unknown[0]!r} is not a subscription type of this meeting link")
    if shown.checkboxes and shown.processing_required and not processing:
        raise InvalidBooking("consent", "please accept the privacy terms to book")
    return Choice(processing, given)


def processing_label(shown: Form, lang: Optional[str]) -> str:
    return shown.processing_text or i18n.gettext(DEFAULT_PROCESSING_TEXT, lang)


def record(link: Mapping[str, Any], choice: Choice, now: datetime, lang: Optional[str] = None) -> dict[str, Any]:
    """The Booking's consent fields: what was shown (the notice, the ticked checkboxes'
    labels, the privacy text, in the page's language), the type, the legal basis, the
    subscriptions (ticked, or all of them under legitimate interest) and the time."""
    shown = form(link)
    if not shown.enabled:
        # No consent asked; a CRM user may still note that the contact gave it.
        return {"consent_given": 1 if choice.processing else 0, "consent_text": "",
                "consent_time": now if choice.processing else None,
                "consent_type": "", "legal_basis": "", "consent_subscriptions": None}
    lang = lang if isinstance(lang, str) and 0 < len(lang) <= 20 else link.get("language")
    if shown.type == LEGITIMATE_INTEREST:
        subscriptions = [s.type for s in shown.subscriptions]
        lines = [shown.notice, shown.privacy_text]
        given = 0
    else:
        subscriptions = [s.type for s in shown.subscriptions if s.type in choice.subscriptions]
        lines = [shown.notice, *(s.label for s in shown.subscriptions if s.type in subscriptions)]
        lines += [processing_label(shown, lang) if choice.processing else "", shown.privacy_text]
        given = 1 if choice.processing else 0
    return {
        "consent_given": given,
        "consent_text": "\n".join(line for line in lines if line),
        "consent_time": now,
        "consent_type": shown.type,
        "legal_basis": shown.legal_basis,
        "consent_subscriptions": subscriptions,
    }


def summary(booking: Mapping[str, Any]) -> str:
    """One line for the Contact's timeline, e.g. "Consent: Notice and consent — processing:
    yes — subscriptions: Marketing, One to one — 2031-03-04 08:00 UTC"."""
    parts = [f"Consent: {booking.get('consent_type')}"]
    if booking.get("consent_type") == LEGITIMATE_INTEREST:
        parts.append(f"legal basis: {booking.get('legal_basis') or '-'}")
    else:
        parts.append(f"processing: {'yes' if booking.get('consent_given') else 'no'}")
    subscriptions = booking.get("consent_subscriptions") or []
    if isinstance(subscriptions, str):
        subscriptions = json.loads(subscriptions or "[]")
    parts.append(f"subscriptions: {', '.join(subscriptions) or 'none'}")
    moment = booking.get("consent_time")
    if isinstance(moment, datetime):
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        parts.append(f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC")
    if booking.get("name"):
        parts.append(f"booking {booking['name']}")
    return " — ".join(parts)


# --- the link's settings -----------------------------------------------------------------


def _check_type_and_basis(values: Mapping[str, Any], type_field: str, basis_field: str, in_use: bool) -> None:
    """A consent type and legal basis from the choices; legitimate interest in use needs its basis."""
    kind, basis = values.get(type_field), values.get(basis_field)
    if kind not in (None, "") and kind not in TYPES:
        raise InvalidRule(type_field, f"{kind!r} is not one of: {', '.join(TYPES)}")
    if basis not in (None, "") and basis not in LEGAL_BASES:
        raise InvalidRule(basis_field, f"{basis!r} is not one of: {', '.join(LEGAL_BASES)}")
    if in_use and kind == LEGITIMATE_INTEREST and not basis:
        raise InvalidRule(basis_field, f"choose the legal basis: {' or '.join(LEGAL_BASES)}")


def validate_link(link: Mapping[str, Any]) -> None:
    """Raise InvalidRule naming the Meeting Link field that is wrong. Only what is in use
    is required: a link with consent off keeps whatever it had."""
    _check_type_and_basis(link, "consent_type", "legal_basis", in_use=bool(link.get("consent_enabled")))
    rows = list(link.get("subscriptions") or [])
    if len(rows) > MAX_SUBSCRIPTIONS:
        raise InvalidRule("subscriptions", f"at most {MAX_SUBSCRIPTIONS} subscription types")
    seen = set()
    for number, row in enumerate(rows, start=1):
        kind_name = _text(row.get("subscription_type"))
        if not kind_name:
            raise InvalidRule("subscriptions", f"row {number}: the subscription type is required")
        if kind_name in seen:
            raise InvalidRule("subscriptions", f"row {number}: {kind_name} is listed twice")
        seen.add(kind_name)


def validate_settings(settings: Mapping[str, Any]) -> None:
    """Meetings Settings' consent defaults: a default of legitimate interest needs its
    legal basis, or every new link that turns consent on would be refused."""
    _check_type_and_basis(settings, "default_consent_type", "default_legal_basis", in_use=True)


def new_link_defaults(link: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The values a new link takes from Meetings Settings (HubSpot: links created after
    GDPR is turned on have it on; a link not customised takes the account's texts and
    the default subscription type). `consent_enabled` None means "not chosen".

    Returns only the fields to set; nothing the link was given is replaced."""
    changes: dict[str, Any] = {}
    enabled = link.get("consent_enabled")
    if enabled in (None, ""):
        enabled = 1 if settings.get("consent_enabled_by_default") else 0
        changes["consent_enabled"] = enabled
    if not enabled:
        return changes
    if not link.get("consent_type"):
        kind = settings.get("default_consent_type")
        changes["consent_type"] = kind if kind in TYPES else NOTICE_AND_CONSENT
    for field, default in (
        ("consent_text", "default_consent_text"),
        ("privacy_text", "default_privacy_text"),
        ("processing_consent_text", "default_processing_consent_text"),
        ("legal_basis", "default_legal_basis"),
    ):
        if not _text(link.get(field)) and _text(settings.get(default)):
            changes[field] = settings[default]
    if not link.get("subscriptions"):
        kind = _text(settings.get("default_subscription_type")) or DEFAULT_SUBSCRIPTION_TYPE
        changes["subscriptions"] = [{"subscription_type": kind}]
    return changes


def settings_of(services) -> dict[str, Any]:
    """Meetings Settings through the Store port ({} when there is none yet)."""
    return services.store.get(SETTINGS, SETTINGS) or {}
