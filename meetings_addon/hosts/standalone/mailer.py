"""The standalone host's Mailer: SMTP when MEETINGS_SMTP_URL is set, else a dev outbox.

- MEETINGS_SMTP_URL: `smtp://user:password@host:port` (`?starttls=true` to upgrade the
  connection; `smtps://` for TLS from the start; user and password URL-encoded). Default
  ports: 465 for smtps, 587 with starttls, else 25.
- MEETINGS_OUTBOX: the dev outbox's folder (default ./outbox): each message is an .eml
  file named by the moment it was sent, so `ls` sorts them; `meetings outbox list` and
  `meetings outbox show N` read them.
- MEETINGS_MAIL_FROM: the From address (default: the SMTP user when it is an address,
  else `Meetings <no-reply@localhost>`).

Messages are multipart: text (derived from the HTML), HTML, and each text/calendar
attachment also as a calendar alternative part (the invitation Outlook recognises; Gmail
and Apple Mail read either), then the attachments themselves (invite.ics).
"""

from __future__ import annotations

import os
import re
import secrets
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Mapping, Optional, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from ...errors import InvalidInput

DEFAULT_OUTBOX = "outbox"
DEFAULT_SENDER = "Meetings <no-reply@localhost>"
TRUE = {"1", "true", "yes", "on"}


# --- building a message ------------------------------------------------------------------


class _Text(HTMLParser):
    """HTML to readable plain text: blocks on their own lines, a table row's cells as
    `label: value`, links followed by their URL."""

    BLOCKS = {"p", "div", "h1", "h2", "h3", "tr", "table", "ul", "ol", "li", "br"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: Optional[str] = None
        self.link_text: list[str] = []
        self.cell = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self.parts.append("\n")
            self.cell = 0
        elif tag == "td":
            if self.cell:
                while self.parts and not self.parts[-1].strip(" "):
                    self.parts.pop()  # the layout whitespace between the cells
                if self.parts:
                    self.parts[-1] = self.parts[-1].rstrip(" ")
                self.parts.append(": " if self.cell == 1 else " ")
            self.cell += 1
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []

    def handle_endtag(self, tag):
        if tag in self.BLOCKS and tag != "tr":  # rows: one line each
            self.parts.append("\n")
        elif tag == "a" and self.href:
            text = " ".join("".join(self.link_text).split())
            if not self.href.startswith("mailto:") and self.href != text:
                self.parts.append(f" <{self.href}>")
            self.href = None

    def handle_data(self, data):
        data = re.sub(r"\s+", " ", data)  # as HTML shows it: layout whitespace is one space
        self.parts.append(data)
        if self.href is not None:
            self.link_text.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def html_document(subject: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(subject)}</title></head>\n"
        f'<body style="margin: 0; padding: 16px; background: #ffffff;">\n{body}\n</body></html>\n'
    )


def build_message(
    sender: str,
    recipients: Sequence[str],
    subject: str,
    html: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    reference: Optional[tuple[str, str]] = None,
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    if reference and reference[1]:
        message["X-Meetings-Reference"] = f"{reference[0]}/{reference[1]}"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(html_to_text(html))
    message.add_alternative(html_document(subject, html), subtype="html")
    parsed = [(name, content, _mime(mime)) for name, content, mime in attachments]
    for _name, content, (maintype, subtype, params) in parsed:
        if (maintype, subtype) == ("text", "calendar"):
            message.add_alternative(content, maintype=maintype, subtype=subtype, params={**params, "charset": "utf-8"})
    for name, content, (maintype, subtype, params) in parsed:
        extra = {**params, "charset": "utf-8"} if maintype == "text" else params
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name, params=extra)
    return message


def _mime(mime: str) -> tuple[str, str, dict[str, str]]:
    """`text/calendar; method=REQUEST` -> ("text", "calendar", {"method": "REQUEST"})."""
    kind, *rest = [part.strip() for part in mime.split(";")]
    maintype, _, subtype = kind.partition("/")
    params = {}
    for part in rest:
        key, _, value = part.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return maintype or "application", subtype or "octet-stream", params


# --- mailers -------------------------------------------------------------------------------


class OutboxMailer:
    """ports.Mailer into a folder of .eml files (development, demos, tests)."""

    def __init__(self, directory: str | os.PathLike, sender: str = DEFAULT_SENDER):
        self.directory = Path(directory).resolve()
        self.sender = sender
        self._lock = threading.Lock()

    def send(self, recipients, subject, html, *, attachments=(), reference=None) -> None:
        message = build_message(self.sender, recipients, subject, html, attachments, reference)
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            path = self.directory / f"{stamp}-{secrets.token_hex(3)}.eml"
            partial = path.with_suffix(".part")
            partial.write_bytes(message.as_bytes())
            os.replace(partial, path)  # a reader never sees half a message

    def __repr__(self) -> str:
        return f"OutboxMailer({str(self.directory)!r})"


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    username: Optional[str]
    password: Optional[str]
    ssl: bool  # TLS from the start (smtps://)
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> "SMTPSettings":
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise InvalidInput("MEETINGS_SMTP_URL", "use smtp://user:password@host:port[?starttls=true] or smtps://...")
        query = {key.lower(): values[-1].strip().lower() for key, values in parse_qs(parts.query).items()}
        starttls = query.get("starttls", "") in TRUE
        secure = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if secure else 587 if starttls else 25)
        except ValueError:
            raise InvalidInput("MEETINGS_SMTP_URL", "the port is not a number") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ssl=secure,
            starttls=starttls and not secure,
        )


class SMTPMailer:
    """ports.Mailer over SMTP: one connection per email (the job runner retries a failure)."""

    def __init__(self, settings: SMTPSettings, sender: str = DEFAULT_SENDER, timeout: float = 30):
        self.settings = settings
        self.sender = sender
        self.timeout = timeout

    def send(self, recipients, subject, html, *, attachments=(), reference=None) -> None:
        message = build_message(self.sender, recipients, subject, html, attachments, reference)
        s = self.settings
        context = ssl.create_default_context()
        if s.ssl:
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        with client:
            if s.starttls:
                client.starttls(context=context)
            if s.username:
                client.login(s.username, s.password or "")
            client.send_message(message, from_addr=parseaddr(self.sender)[1], to_addrs=[a for _, a in getaddresses(list(recipients))])

    def __repr__(self) -> str:
        return f"SMTPMailer({self.settings.host}:{self.settings.port})"


def build_mailer(environ: Optional[Mapping[str, str]] = None):
    """SMTP when MEETINGS_SMTP_URL is set, else the outbox (MEETINGS_OUTBOX, ./outbox)."""
    environ = os.environ if environ is None else environ
    url = (environ.get("MEETINGS_SMTP_URL") or "").strip()
    sender = (environ.get("MEETINGS_MAIL_FROM") or "").strip()
    if url:
        settings = SMTPSettings.from_url(url)
        if not sender and settings.username and "@" in settings.username:
            sender = settings.username
        return SMTPMailer(settings, sender or DEFAULT_SENDER)
    return OutboxMailer(outbox_dir(environ), sender or DEFAULT_SENDER)


# --- reading the outbox ------------------------------------------------------------------------


def outbox_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path((environ.get("MEETINGS_OUTBOX") or "").strip() or DEFAULT_OUTBOX).resolve()


def outbox_files(directory: str | os.PathLike) -> list[Path]:
    """The outbox's messages, oldest first (numbered from 1 by `meetings outbox`)."""
    folder = Path(directory)
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def read_message(path: str | os.PathLike) -> EmailMessage:
    with open(path, "rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def attachments_of(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    """(filename, content type with its parameters, content) of each attachment."""
    found = []
    for part in message.iter_attachments():
        params = "".join(f"; {k}={v}" for k, v in part.get_params()[1:] if k != "charset")
        found.append((part.get_filename() or "", f"{part.get_content_type()}{params}", part.get_payload(decode=True) or b""))
    return found
