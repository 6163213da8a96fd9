"""A visitor's booking form, checked field by field before anything is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from email_validator import EmailNotValidError, validate_email

from ..errors import InvalidBooking
from . import consent
from ..scheduling import load_zone
from ..errors import InvalidRule

MAX_NAME = 140
MAX_EMAIL = 140  # the Data columns that keep it (Booking.email, Contact.email_id) hold 140
MAX_ANSWER = 5000
MAX_REASON = 2000
_MARKUP = re.compile(r"[<>\x00-\x1f\x7f]|&#|javascript:", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{4,32}$")


@dataclass(frozen=True)
class Visitor:
    first_name: str
    last_name: str
    email: str
    timezone: str
    answers: dict[str, Any]
    consent: bool  # the processing consent
    subscriptions: tuple[str, ...] = ()  # the subscription types ticked (booking/consent.py)


def text(payload: Mapping[str, Any], field: str, *, required: bool = True, limit: int = MAX_NAME, plain: bool = True) -> str:
    value = payload.get(field)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidBooking(field, "must be text")
    value = value.strip()
    if required and not value:
        raise InvalidBooking(field, "is required")
    if len(value) > limit:
        raise InvalidBooking(field, f"is too long ({len(value)} characters, at most {limit})")
    if plain and _MARKUP.search(value):
        raise InvalidBooking(field, "may not contain markup or control characters")
    return value


def email(payload: Mapping[str, Any], field: str = "email") -> str:
    value = text(payload, field, limit=MAX_EMAIL)
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidBooking(field, f"{value!r} is not a valid email address ({error})") from None
    return checked.normalized.lower()


def timezone_name(payload: Mapping[str, Any], field: str = "timezone") -> str:
    value = payload.get(field)
    try:
        load_zone(value, field)
    except InvalidRule as error:
        raise InvalidBooking(field, error.reason) from None
    return value.strip()


def instant(payload: Mapping[str, Any], field: str = "start") -> datetime:
    value = payload.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidBooking(field, "is required: an ISO 8601 date-time with its UTC offset")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidBooking(field, f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidBooking(field, f"{value!r} has no UTC offset (e.g. 2026-11-23T09:00:00+01:00)")
    return parsed


def day(payload: Mapping[str, Any], field: str) -> date:
    value = payload.get(field)
    try:
        return date.fromisoformat(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidBooking(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def minutes(payload: Mapping[str, Any], field: str, offered: list[int]) -> int:
    value = payload.get(field)
    if value in (None, ""):
        return offered[0]
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidBooking(field, f"{value!r} is not a number of minutes") from None
    if number not in offered:
        raise InvalidBooking(field, f"{number} minutes is not offered (choose {', '.join(map(str, offered))})")
    return number


def answers(payload: Mapping[str, Any], questions: list[Mapping[str, Any]]) -> dict[str, Any]:
    given = payload.get("answers") or {}
    if not isinstance(given, Mapping):
        raise InvalidBooking("answers", "must be an object of {fieldname: value}")
    known = {q["fieldname"]: q for q in questions}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidBooking(unknown[0], "is not a question of this meeting link")
    result: dict[str, Any] = {}
    for fieldname, question in known.items():
        value = given.get(fieldname)
        kind = question.get("fieldtype") or "Data"
        if kind == "Check":
            if value in (None, "", False, 0, "0"):
                value = False
            elif value in (True, 1, "1", "true", "on"):
                value = True
            else:
                raise InvalidBooking(fieldname, "must be checked or not")
            if question.get("required") and not value:
                raise InvalidBooking(fieldname, f"{question.get('label')} must be checked")
            result[fieldname] = value
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if question.get("required"):
                raise InvalidBooking(fieldname, f"{question.get('label')} is required")
            continue
        if kind == "Int":
            try:
                value = int(str(value).strip())
            except ValueError:
                raise InvalidBooking(fieldname, f"{question.get('label')} must be a whole number") from None
            if abs(value) > 10**12:
                raise InvalidBooking(fieldname, "is out of range")
            result[fieldname] = value
            continue
        if not isinstance(value, str):
            raise InvalidBooking(fieldname, "must be text")
        value = value.strip()
        if len(value) > MAX_ANSWER:
            raise InvalidBooking(fieldname, f"is too long ({len(value)} characters, at most {MAX_ANSWER})")
        if "\x00" in value:
            raise InvalidBooking(fieldname, "may not contain control characters")
        if kind == "Select":
            options = [o.strip() for o in (question.get("options") or "").split("\n") if o.strip()]
            if value not in options:
                raise InvalidBooking(fieldname, f"choose one of: {', '.join(options)}")
        if kind == "Phone" and not _PHONE.match(value):
            raise InvalidBooking(fieldname, f"{value!r} is not a phone number")
        result[fieldname] = value  # free text is stored as given and escaped wherever shown
    return result


def visitor(payload: Mapping[str, Any], link: Mapping[str, Any]) -> Visitor:
    choice = consent.check(link, payload)
    return Visitor(
        first_name=text(payload, "first_name"),
        last_name=text(payload, "last_name"),
        email=email(payload),
        timezone=timezone_name(payload),
        answers=answers(payload, list(link.get("questions") or [])),
        consent=choice.processing,
        subscriptions=choice.subscriptions,
    )
