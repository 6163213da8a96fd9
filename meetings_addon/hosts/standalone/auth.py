"""Users and API keys of the standalone host, as Frappe's token authentication sees them.

A client sends `Authorization: token <api_key>:<api_secret>` (or HTTP Basic with the
same pair). The User row keeps `api_key` in the clear (it is an identifier, unique) and
only a SHA-256 hash of the secret, in `__Auth` like any Password field: the secret itself
is printed once, when it is issued, and never stored.

Administrators: the user named "Administrator" (Frappe's built-in administrator) sees
and edits every row; every other user sees only their own (see web_resource.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Optional

from email_validator import EmailNotValidError, validate_email

from ...errors import InvalidInput, MeetingsError, NotFound
from ...ports import Services
from ...scheduling import load_zone

USER = "User"
ADMINISTRATOR = "Administrator"
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class AuthenticationError(MeetingsError):
    """Credentials were sent but are wrong (Frappe answers 401)."""

    http_status = 401


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_credentials() -> tuple[str, str]:
    """(api_key, api_secret): 15 hex characters like Frappe's key, a 32-byte secret."""
    return secrets.token_hex(8)[:15], secrets.token_urlsafe(32)


def check_email(email: str) -> str:
    if email == ADMINISTRATOR:
        return email
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidInput("email", f"{email!r} is not a valid email address ({error})") from None


def create_user(services: Services, email: str, *, full_name: str = "", time_zone: str = "UTC") -> dict:
    """A new enabled user; raises DuplicateEntry when the email is taken."""
    from ...errors import DuplicateEntry

    email = check_email(email)
    load_zone(time_zone, "timezone")
    if services.store.get_value(USER, {"name": email}, "name"):
        raise DuplicateEntry(f"User {email} already exists (`meetings user key {email}` issues a new API key)")
    full_name = (full_name or "").strip() or (email.split("@")[0].replace(".", " ").title() if "@" in email else email)
    if len(full_name) > 140:
        raise InvalidInput("full_name", "is too long (at most 140 characters)")
    first, _, last = full_name.partition(" ")
    return services.store.insert(
        USER,
        {
            "name": email,
            "email": email if "@" in email else "admin@localhost",
            "first_name": first,
            "last_name": last,
            "full_name": full_name,
            "time_zone": time_zone.strip(),
            "enabled": 1,
            "user_type": "System User",
            "language": "en",
        },
    )


def issue_api_key(services: Services, user: str) -> tuple[str, str]:
    """New credentials for `user` (the previous ones stop working); returns (key, secret)."""
    if not services.store.get_value(USER, {"name": user}, "name"):
        raise NotFound(f"User {user} does not exist")
    key, secret = new_credentials()
    with services.store.atomic():
        services.store.update(USER, user, {"api_key": key, "api_secret": "set"})  # column keeps asterisks
        services.store.set_password(USER, user, "api_secret", hash_secret(secret))
    return key, secret


def parse_authorization(header: Optional[str]) -> Optional[tuple[str, str]]:
    """(key, secret) from `token key:secret` or `Basic base64(key:secret)`; None if absent."""
    if not header or not header.strip():
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise AuthenticationError("Invalid Basic credentials") from None
    elif scheme.lower() != "token":
        raise AuthenticationError("Use `Authorization: token <api_key>:<api_secret>`")
    key, sep, secret = value.partition(":")
    if not sep or not key or not secret:
        raise AuthenticationError("Use `Authorization: token <api_key>:<api_secret>`")
    return key, secret


def authenticate(services: Services, header: Optional[str]) -> Optional[str]:
    """The user name the header proves, None for a guest; AuthenticationError when wrong."""
    credentials = parse_authorization(header)
    if credentials is None:
        return None
    key, secret = credentials
    rows = services.store.list(USER, {"api_key": key}, fields=("name", "enabled"), limit=1) if len(key) <= 140 else []
    user = rows[0] if rows else None
    stored = services.store.get_password(USER, user["name"], "api_secret") if user else None
    # Compare even when the key is unknown, so timing does not tell keys apart.
    matches = hmac.compare_digest(hash_secret(secret), stored or _DUMMY_HASH)
    if not user or not stored or not matches:
        raise AuthenticationError("Invalid API key or secret")
    if not user.get("enabled"):
        raise AuthenticationError(f"User {user['name']} is disabled")
    return user["name"]


def is_admin(user: Optional[str]) -> bool:
    return user == ADMINISTRATOR
