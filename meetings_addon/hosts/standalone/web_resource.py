"""`/api/resource/<DocType>` of the standalone host, with Frappe's shapes.

Create (POST), read (GET /<name>), update (PUT /<name>), delete (DELETE /<name>) and list
(GET with fields, filters, limit_start, limit_page_length, order_by) for the doctypes a
client may touch. Values are checked field by field as Frappe's document validation
would (Select options, Link targets, mandatory fields, lengths, set-only-once fields);
any bad value raises InvalidInput naming the field (417, Frappe's ValidationError).

Permissions, one simple rule: a user sees and changes only the rows whose owner field
(Meeting Link.host, Booking.host, Calendar Connection.user, Local Calendar Event.user) is
themselves; the Administrator sees every row. Password fields, Booking.manage_token and
the __Auth table are never returned, filtered or sorted on.

Datetimes: Frappe keeps Datetime values naive in the site's system time zone. The
standalone host's system time zone is UTC, so values go out as "YYYY-MM-DD HH:MM:SS" in
UTC (the JSON encoder in web.py does it) and naive values coming in are read as UTC.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping, Optional

from email_validator import EmailNotValidError, validate_email

from ... import conferencing
from ...booking import consent, service
from ...errors import InvalidInput, InvalidRule, MeetingsError, NotFound
from ...domains import check_custom_domain, clean_site_domains
from ...links import validate_hosts, validate_link_rules
from ...notifications.reminders import validate_reminders
from ...ports import Services
from ...scheduling.wallclock import parse_clock
from .auth import is_admin
from .schema import NO_VALUE, TABLE_TYPES, TEXT, Meta
from .store import CHILD_STANDARD, OPERATORS, STANDARD

LINK = "Meeting Link"
BOOKING = "Booking"
CONNECTION = "Calendar Connection"
LOCAL_EVENT = "Local Calendar Event"
WEBHOOK = "Meetings Webhook"
SETTINGS = "Meetings Settings"  # a single: read and changed at /api/resource/Meetings Settings/Meetings Settings
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG = 100
MAX_ROWS = 200  # rows in one child table
MAX_TEXT = 100_000
DEFAULT_PAGE_LENGTH = 20  # Frappe's default for /api/resource lists


class PermissionDenied(MeetingsError):
    """Frappe's PermissionError: authenticated or not, this is not yours to see or do."""

    http_status = 403


class LinkExists(MeetingsError):
    """Frappe's LinkExistsError: other documents still point at this one."""

    http_status = 417


@dataclass(frozen=True)
class Resource:
    owner_field: str
    create: bool = True
    update: bool = True
    delete: bool = True
    admin_only: bool = False  # Frappe's System Manager-only doctypes


RESOURCES = {
    LINK: Resource("host"),
    # Bookings are created through the booking use-case (the slot is reserved atomically)
    # and change only through cancel / reschedule with their manage link.
    BOOKING: Resource("host", update=False, delete=False),
    CONNECTION: Resource("user"),
    LOCAL_EVENT: Resource("user", create=False, update=False, delete=False),
    # A webhook receives every booking's data: the Administrator's alone (System Manager in Frappe).
    WEBHOOK: Resource("owner", admin_only=True),
    # The site's settings (custom domains, defaults, providers): System Manager in Frappe.
    SETTINGS: Resource("owner", create=False, delete=False, admin_only=True),
}
HIDDEN = {BOOKING: {"manage_token"}}


# --- entry points (web.py calls these) ----------------------------------------------------


def resource(services: Services, doctype: str, user: Optional[str] = None) -> tuple[Meta, Resource]:
    meta = services.store.meta(doctype)  # NotFound for an unknown doctype (404)
    if doctype not in RESOURCES or (RESOURCES[doctype].admin_only and not is_admin(user)):
        raise PermissionDenied(f"Not permitted: {doctype} is not available through this API")
    return meta, RESOURCES[doctype]


def list_docs(services: Services, user: str, doctype: str, args: Mapping[str, Any]) -> list[dict]:
    meta, spec = resource(services, doctype, user)
    if meta.issingle:  # no table to query: its one document, as Frappe lists a single
        return [{"name": doctype}]
    visible = _visible_columns(services, meta)
    fields = _fields_arg(args.get("fields"), visible)
    filters = _filters_arg(args.get("filters"), doctype, visible)
    if not is_admin(user):
        filters.append([spec.owner_field, "=", user])
    order_by = str(args.get("order_by") or "modified desc")
    for part in order_by.split(","):
        column = part.strip().split(" ")[0].strip("`") if part.strip() else ""
        if column not in visible:
            raise InvalidInput("order_by", f"{doctype} has no field {column!r} to sort on")
    start = _int_arg(args.get("limit_start") or args.get("start"), "limit_start", 0)
    length = _int_arg(args.get("limit_page_length", args.get("limit")), "limit_page_length", DEFAULT_PAGE_LENGTH)
    try:
        rows = services.store.list(doctype, filters, fields=fields, order_by=order_by, limit=(start + length) if length else None)
    except (ValueError, TypeError) as error:  # a filter value of the wrong type
        raise InvalidInput("filters", f"a value does not fit its field ({error})") from None
    return rows[start:]


def get_doc(services: Services, user: str, doctype: str, name: str) -> dict:
    meta, spec = resource(services, doctype, user)
    return _public(services, meta, _readable(services, user, doctype, spec, name))


def create_doc(services: Services, user: str, doctype: str, body: Mapping[str, Any]) -> dict:
    meta, spec = resource(services, doctype, user)
    if not spec.create:
        raise PermissionDenied(f"Not permitted: {doctype} is read-only here")
    body = _body(body)
    if doctype == BOOKING:
        return _create_booking(services, user, meta, body)
    values, passwords = clean(services, meta, body)
    if doctype == LINK:  # before the JSON defaults, which would make consent_enabled look chosen
        values.update(consent.new_link_defaults(values, consent.settings_of(services)))
    _apply_defaults(services, meta, values, user)
    owner = values.get(spec.owner_field)
    if not is_admin(user) and owner != user:
        raise PermissionDenied(f"Not permitted: {spec.owner_field} must be yourself ({user})")
    if doctype == LINK:
        _check_link(services, values, None)
    if doctype == WEBHOOK:
        _check_webhook(values)
    _check_mandatory(services, meta, values)
    values["owner"] = user
    with services.store.atomic():
        doc = services.store.insert(doctype, values)
        for fieldname, secret in passwords.items():
            _set_secret(services, doctype, doc["name"], fieldname, secret)
    return get_doc(services, user, doctype, doc["name"])


def update_doc(services: Services, user: str, doctype: str, name: str, body: Mapping[str, Any]) -> dict:
    meta, spec = resource(services, doctype, user)
    current = _readable(services, user, doctype, spec, name)
    if not spec.update:
        raise PermissionDenied(f"Not permitted: {doctype} cannot be changed through this API")
    body = {k: v for k, v in _body(body).items() if k not in ("name", "doctype")}
    values, passwords = clean(services, meta, body)
    for f in meta.fields:
        fieldname = f["fieldname"]
        if f.get("set_only_once") and fieldname in values and values[fieldname] != current.get(fieldname):
            raise InvalidInput(fieldname, "cannot be changed after creation")
    merged = {**current, **values}
    if not is_admin(user) and merged.get(spec.owner_field) != user:
        raise PermissionDenied(f"Not permitted: {spec.owner_field} must stay yourself ({user})")
    if doctype == LINK:
        _check_link(services, merged, current)
        if "custom_domain" in values:  # stored as _check_link tidied it
            values["custom_domain"] = merged["custom_domain"]
    if doctype == WEBHOOK:
        _check_webhook(values)
    if doctype == SETTINGS:  # what the Frappe controller checks
        if "custom_domains" in values:
            values["custom_domains"] = clean_site_domains(values["custom_domains"], services.site_url)
        consent.validate_settings(merged)
    _check_mandatory(services, meta, merged)
    with services.store.atomic():
        services.store.update(doctype, name, values)
        for fieldname, secret in passwords.items():
            _set_secret(services, doctype, name, fieldname, secret)
    return get_doc(services, user, doctype, name)


def delete_doc(services: Services, user: str, doctype: str, name: str) -> None:
    meta, spec = resource(services, doctype, user)
    _readable(services, user, doctype, spec, name)
    if not spec.delete:
        raise PermissionDenied(f"Not permitted: {doctype} cannot be deleted through this API")
    if doctype == LINK:
        count = len(services.store.list(BOOKING, {"meeting_link": name}, fields=("name",), limit=1000))
        if count:
            raise LinkExists(
                f"Cannot delete Meeting Link {name}: {count} booking(s) refer to it. Unpublish it instead."
            )
    with services.store.atomic():
        services.store.delete(doctype, name)
        for fieldname in meta.passwords():
            _set_secret(services, doctype, name, fieldname, None)


def _check_webhook(values: dict) -> None:
    """What the Meetings Webhook controller checks in Frappe: an http(s) URL."""
    from ...notifications.webhooks import check_url

    if "url" in values:
        try:
            values["url"] = check_url(values["url"])
        except ValueError as error:
            raise InvalidInput("url", str(error)) from None


def _set_secret(services: Services, doctype: str, name: str, fieldname: str, value: Optional[str]) -> None:
    """A Password field's value goes through the Secrets port (encrypted at rest) when the
    host has one; the column keeps asterisks, as Frappe's does."""
    if services.secrets is not None:
        services.secrets.set(doctype, name, fieldname, value)
    else:
        services.store.set_password(doctype, name, fieldname, value)


# --- reading -----------------------------------------------------------------------------


def _readable(services: Services, user: str, doctype: str, spec: Resource, name: str) -> dict:
    if services.store.meta(doctype).issingle and name != doctype:
        raise NotFound(f"{doctype} {name} not found")  # a single's one name is its doctype's
    doc = services.store.get(doctype, name) if len(name) <= 140 else None
    if not doc:
        raise NotFound(f"{doctype} {name} not found")
    if not is_admin(user) and doc.get(spec.owner_field) != user:
        raise PermissionDenied(f"No permission to read {doctype} {name}")
    return doc


def _hidden(meta: Meta) -> set[str]:
    return meta.passwords() | HIDDEN.get(meta.name, set())


def _visible_columns(services: Services, meta: Meta) -> set[str]:
    table = services.store.metadata.tables[meta.table]
    return {c.name for c in table.columns} - _hidden(meta)


def _public(services: Services, meta: Meta, doc: Mapping[str, Any]) -> dict:
    hidden = _hidden(meta)
    out = {}
    for key, value in doc.items():
        if key in hidden:
            continue
        child = meta.tables().get(key)
        if child and isinstance(value, list):
            child_meta = services.store.meta(child)
            value = [_public(services, child_meta, {**row, "doctype": child}) for row in value]
        out[key] = value
    out["doctype"] = meta.name
    return out


def _json_arg(value: Any, field: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise InvalidInput(field, f"{value[:80]!r} is not valid JSON") from None
    return value


def _fields_arg(value: Any, visible: set[str]) -> list[str]:
    if value in (None, "", []):
        return ["name"]
    if isinstance(value, str) and not value.strip().startswith("["):
        value = [part.strip() for part in value.split(",")]
    value = _json_arg(value, "fields")
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise InvalidInput("fields", 'must be a JSON list of field names, e.g. ["name", "title"]')
    if "*" in value:
        return sorted(visible)
    for fieldname in value:
        if fieldname.strip("`") not in visible:
            raise InvalidInput("fields", f"{fieldname!r} is not a readable field")
    return [f.strip("`") for f in value]


def _filters_arg(value: Any, doctype: str, visible: set[str]) -> list[list[Any]]:
    """Frappe's filter forms: {"f": v}, {"f": [op, v]}, [[f, op, v]], [[doctype, f, op, v]]."""
    if value in (None, "", [], {}):
        return []
    value = _json_arg(value, "filters")
    rows: list[list[Any]] = []
    if isinstance(value, Mapping):
        for fieldname, condition in value.items():
            if isinstance(condition, (list, tuple)) and len(condition) == 2 and str(condition[0]).lower() in OPERATORS + ("between",):
                rows.append([fieldname, condition[0], condition[1]])
            else:
                rows.append([fieldname, "=", condition])
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, (list, tuple)) or len(item) not in (2, 3, 4):
                raise InvalidInput("filters", f"{item!r} is not [field, operator, value]")
            item = list(item)
            if len(item) == 4:
                if item[0] != doctype:
                    raise InvalidInput("filters", f"filters on {item[0]} are not supported here")
                item = item[1:]
            if len(item) == 2:
                item = [item[0], "=", item[1]]
            rows.append(item)
    else:
        raise InvalidInput("filters", "must be a JSON object or a list of [field, operator, value]")
    result = []
    for fieldname, operator, operand in rows:
        if not isinstance(fieldname, str) or fieldname not in visible:
            raise InvalidInput("filters", f"{fieldname!r} is not a field you can filter on")
        operator = str(operator).lower().strip()
        if operator == "between":
            if not isinstance(operand, (list, tuple)) or len(operand) != 2:
                raise InvalidInput("filters", "between takes [from, to]")
            result += [[fieldname, ">=", operand[0]], [fieldname, "<=", operand[1]]]
            continue
        if operator not in OPERATORS:
            raise InvalidInput("filters", f"unknown operator {operator!r}")
        if operator == "is" and operand not in ("set", "not set"):
            raise InvalidInput("filters", 'the "is" operator takes "set" or "not set"')
        result.append([fieldname, operator, operand])
    return result


def _int_arg(value: Any, field: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a whole number") from None
    if number < 0:
        raise InvalidInput(field, "cannot be negative")
    return number


# --- writing -----------------------------------------------------------------------------


def _body(body: Any) -> dict:
    """Frappe takes the document as the JSON body or as a `data` form field holding JSON."""
    if isinstance(body, Mapping) and set(body) == {"data"}:
        body = _json_arg(body["data"], "data")
    if not isinstance(body, Mapping):
        raise InvalidInput("data", "must be a JSON object of field values")
    return dict(body)


def clean(services: Services, meta: Meta, given: Mapping[str, Any], *, table: Optional[str] = None) -> tuple[dict, dict]:
    """(values, passwords): every known field coerced to its type; unknown keys are ignored
    as Frappe ignores them. Errors name the field (or the child table and row)."""
    fields = {f["fieldname"]: f for f in meta.fields}
    values: dict[str, Any] = {}
    passwords: dict[str, Optional[str]] = {}
    for fieldname, value in given.items():
        f = fields.get(fieldname)
        if f is None or fieldname in STANDARD or fieldname in CHILD_STANDARD:
            continue
        fieldtype = f["fieldtype"]
        if fieldtype in TABLE_TYPES:
            values[fieldname] = _clean_rows(services, fieldname, f["options"], value)
        elif fieldtype in NO_VALUE:
            continue
        elif fieldtype == "Password":
            if value not in (None, "") and not isinstance(value, str):
                raise InvalidInput(table or fieldname, "must be text")
            passwords[fieldname] = value or None
        else:
            values[fieldname] = _coerce(services, f, value, table)
    return values, passwords


def _clean_rows(services: Services, fieldname: str, child_doctype: str, rows: Any) -> list[dict]:
    if rows is None:
        return []
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise InvalidInput(fieldname, "must be a list of rows (objects)")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(fieldname, f"at most {MAX_ROWS} rows")
    meta = services.store.meta(child_doctype)
    cleaned = []
    for number, row in enumerate(rows, start=1):
        try:
            values, _ = clean(services, meta, row, table=fieldname)
        except InvalidInput as error:
            raise InvalidInput(fieldname, f"row {number}: {error.reason}") from None
        for f in meta.fields:
            if f.get("default") is not None and values.get(f["fieldname"]) is None and f["fieldtype"] not in NO_VALUE:
                values[f["fieldname"]] = _coerce(services, f, f["default"], fieldname)
            if f.get("reqd") and values.get(f["fieldname"]) in (None, ""):
                raise InvalidInput(fieldname, f"row {number}: {f['fieldname']} is required")
        cleaned.append(values)
    return cleaned


def _coerce(services: Services, f: Mapping[str, Any], value: Any, table: Optional[str]) -> Any:
    fieldname, fieldtype = f["fieldname"], f["fieldtype"]

    def bad(reason: str) -> InvalidInput:
        return InvalidInput(fieldname, reason)

    if fieldtype in ("Int", "Check"):
        if value in (None, ""):
            return 0
        if isinstance(value, bool):
            value = int(value)
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise bad(f"{value!r} is not a whole number")
        if fieldtype == "Check" and number not in (0, 1):
            raise bad("must be 0 or 1")
        if abs(number) > 2**31 - 1:
            raise bad("is out of range")
        return number
    if value is None or value == "":
        return None
    if fieldtype in ("Float", "Currency", "Percent"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad(f"{value!r} is not a number") from None
    if fieldtype == "Date":
        try:
            return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value).strip())
        except ValueError:
            raise bad(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if fieldtype == "Datetime":
        try:
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise bad(f"{value!r} is not a date-time (YYYY-MM-DD HH:MM:SS, UTC)") from None
        # Naive values are in the system time zone, UTC here.
        return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if fieldtype == "Time":
        try:
            seconds = parse_clock(value, fieldname, is_end=fieldname.startswith("end"))
        except InvalidRule as error:
            raise bad(error.reason) from None
        seconds %= 24 * 3600  # 24:00 is stored as 00:00, Frappe's Time for midnight
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    if fieldtype == "JSON":
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise bad("must be text")
    limit = MAX_TEXT if fieldtype in TEXT else int(f.get("length") or 140)
    if len(value) > limit:
        raise bad(f"is too long ({len(value)} characters, at most {limit})")
    if "\x00" in value:
        raise bad("may not contain NUL characters")
    if fieldtype == "Select":
        options = [o for o in (f.get("options") or "").split("\n") if o]
        if options and value not in options:
            raise bad(f"{value!r} is not one of: {', '.join(options)}")
    if fieldtype == "Data" and f.get("options") == "Email":
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            raise bad(f"{value!r} is not a valid email address") from None
    if fieldtype == "Link" and f.get("options") and f["options"] in services.store.metas and f["options"] != "DocType":
        if not services.store.get_value(f["options"], {"name": value}, "name"):
            raise bad(f"{f['options']} {value!r} does not exist")
    return value


def _apply_defaults(services: Services, meta: Meta, values: dict, user: str) -> None:
    for f in meta.fields:
        default = f.get("default")
        if default is None or values.get(f["fieldname"]) not in (None, "") or f["fieldtype"] in NO_VALUE:
            continue
        if f["fieldtype"] in ("Int", "Check") and f["fieldname"] in values:
            continue  # an explicit 0 stays 0
        values[f["fieldname"]] = user if default == "__user" else _coerce(services, f, default, None)


def _check_mandatory(services: Services, meta: Meta, doc: Mapping[str, Any]) -> None:
    for f in meta.fields:
        if f.get("reqd") and f["fieldtype"] not in NO_VALUE and doc.get(f["fieldname"]) in (None, ""):
            raise InvalidInput(f["fieldname"], "is required")


def _check_link(services: Services, doc: dict, current: Optional[Mapping[str, Any]]) -> None:
    """Meeting Link rules beyond field types: the slug, the time zone, the scheduling rules."""
    slug = doc.get("slug")
    if current is None:
        if not slug:
            raise InvalidInput("slug", "is required")
        if len(slug) > MAX_SLUG or not SLUG.match(slug):
            raise InvalidInput("slug", "use lowercase letters, digits and single hyphens (e.g. alex-30)")
        if slug in service.RESERVED_SLUGS:
            raise InvalidInput("slug", f"{slug!r} is reserved; choose another")
        doc["name"] = slug
    if not doc.get("timezone") and doc.get("host"):
        doc["timezone"] = services.store.get_value("User", {"name": doc["host"]}, "time_zone") or "UTC"
    validate_link_rules(doc)
    validate_hosts(doc)
    validate_reminders(doc)
    conferencing.validate_link(services, doc, current)
    consent.validate_link(doc)
    if "custom_domain" in doc:  # one of the site's domains (Meetings Settings), as Frappe's controller checks
        doc["custom_domain"] = check_custom_domain(services, doc["custom_domain"], (current or {}).get("custom_domain"))
    if current is None and services.store.get_value(LINK, {"name": slug}, "name"):
        from ...errors import DuplicateEntry

        raise DuplicateEntry(f"Meeting Link {slug} already exists: choose another slug")


def _create_booking(services: Services, user: str, meta: Meta, body: Mapping[str, Any]) -> dict:
    """A booking made by a host (CRM): the same atomic reservation as the booking page."""
    link_name = body.get("meeting_link")
    link = services.store.get(LINK, link_name) if isinstance(link_name, str) and link_name else None
    if not link:
        raise InvalidInput("meeting_link", f"Meeting Link {link_name!r} does not exist")
    if not is_admin(user) and link.get("host") != user:
        raise PermissionDenied(f"Not permitted: Meeting Link {link_name} is not yours")
    start = body.get("start")
    if isinstance(start, str) and start.strip():
        try:
            parsed = datetime.fromisoformat(start.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("start", f"{start!r} is not a date-time") from None
        if parsed.tzinfo is None:  # Frappe's naive system time: UTC here
            start = parsed.replace(tzinfo=timezone.utc).isoformat()
    payload = {
        "link": link_name,
        "start": start,
        "duration": body.get("duration"),
        "timezone": body.get("timezone") or link.get("timezone"),
        "first_name": body.get("first_name"),
        "last_name": body.get("last_name"),
        "email": body.get("email"),
        "answers": body.get("answers"),
        "consent": body.get("consent_given", body.get("consent")),
        "subscriptions": body.get("consent_subscriptions", body.get("subscriptions")),
    }
    extra, _ = clean(services, meta, {k: body[k] for k in ("reference_doctype", "reference_name") if k in body})
    answer = service.book(services, payload)
    services.store.update(BOOKING, answer["booking"], {"source": "CRM", **extra})
    return get_doc(services, user, BOOKING, answer["booking"])


def format_value(value: Any) -> Any:
    """Frappe's JSON forms for values the json module cannot write."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return str(value)  # "YYYY-MM-DD HH:MM:SS[.ffffff]", naive UTC (the system time zone)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
