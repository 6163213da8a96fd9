"""The standalone host's Secrets port: Fernet (AES-128-CBC + HMAC-SHA256, from
`cryptography`) over the store's `__Auth` table, where Frappe keeps Password fields too.

The key comes from the environment, MEETINGS_SECRET_KEY, and only from there: it is
never written beside the data, so a copy of the database (a backup, a stolen disk) holds
ciphertext only. `meetings secret-key` prints a new key. Several keys separated by
commas rotate them: the first encrypts, every one decrypts (MultiFernet).

Without a key, nothing secret can be stored or read: the error names the variable
(SecretKeyMissing, 503: the server is not set up for it), and everything that needs no
secret (booking on the Local calendar, the API keys, which are hashed) keeps working.
The API secrets of users are SHA-256 hashes stored directly (auth.py), not through here.
"""

from __future__ import annotations

import os
from typing import Optional

from ...errors import MeetingsError

ENV = "MEETINGS_SECRET_KEY"


class SecretKeyMissing(MeetingsError):
    """No usable MEETINGS_SECRET_KEY: secrets can be neither stored nor read."""

    http_status = 503


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _fernet(value: Optional[str]):
    from cryptography.fernet import Fernet, MultiFernet

    keys = [part.strip() for part in (value or "").split(",") if part.strip()]
    if not keys:
        raise SecretKeyMissing(
            f"{ENV} is not set: calendar passwords and tokens are encrypted with it. Run `meetings secret-key` "
            f"and set {ENV} in the server's environment (keep it out of the database folder)."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise SecretKeyMissing(
            f"{ENV} is not a valid key (a Fernet key: 32 url-safe base64-encoded bytes). Run `meetings secret-key` for one."
        ) from None


class FernetSecrets:
    """ports.Secrets: encrypted values in `__Auth` (doctype, name, fieldname)."""

    def __init__(self, store, key: Optional[str] = None):
        self.store = store
        self._key = key  # None: read MEETINGS_SECRET_KEY at each use (it may be set later)

    def _cipher(self):
        return _fernet(self._key if self._key is not None else os.environ.get(ENV))

    def set(self, doctype: str, name: str, field: str, value: Optional[str]) -> None:
        if value is None or value == "":
            self.store.set_password(doctype, name, field, None)
            return
        token = self._cipher().encrypt(str(value).encode("utf-8")).decode("ascii")
        self.store.set_password(doctype, name, field, token)

    def get(self, doctype: str, name: str, field: str) -> Optional[str]:
        from cryptography.fernet import InvalidToken

        token = self.store.get_password(doctype, name, field)
        if token is None:
            return None
        try:
            return self._cipher().decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretKeyMissing(
                f"a stored secret ({doctype} {name}, {field}) cannot be decrypted with {ENV}: it was stored with "
                f"another key. Set {ENV} back to that key (or list it after the new one, comma-separated)."
            ) from None
