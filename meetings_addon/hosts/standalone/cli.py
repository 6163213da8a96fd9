"""`meetings`: the standalone host's command line (see CONTRACT.md).

    meetings serve [--host 127.0.0.1] [--port 8000] [--db URL] [--guest-rate-limit N] [--proxy-hops N]
    meetings demo [--port 8000] [--db URL]
    meetings user add <email> [--full-name NAME] [--timezone ZONE]
    meetings user key <email>
    meetings calendar import <user-email> <file.ics>
    meetings contact timeline <email> [--timezone ZONE]
    meetings link list
    meetings outbox list | show N
    meetings worker [--burst]
    meetings secret-key

Every command takes --db (else MEETINGS_DB_URL, else a SQLite file in the working
directory); REDIS_URL switches jobs to RQ (run `meetings worker` beside `serve`). Bad
input ends with one line on stderr and exit code 2, never a traceback
(MEETINGS_DEBUG=1 shows it for unexpected errors).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Optional, Sequence

from ...errors import MeetingsError
from ...scheduling import load_zone

DEFAULT_DB = "sqlite:///meetings.sqlite"
DEMO_DB = "sqlite:///meetings-demo.sqlite"


class UsageError(Exception):
    """Bad input on the command line: one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's two-line usage error, as one line
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _db_url(args, default: str = DEFAULT_DB) -> str:
    return args.db or os.environ.get("MEETINGS_DB_URL") or default


def _services(args, default: str = DEFAULT_DB, site_url: Optional[str] = None):
    from sqlalchemy.exc import ArgumentError, OperationalError

    from .services import build_services

    url = _db_url(args, default)
    try:
        return build_services(url, site_url=site_url)
    except ArgumentError:
        raise UsageError(f"--db {url!r} is not a database URL (e.g. sqlite:///meetings.sqlite)") from None
    except ModuleNotFoundError as error:
        raise UsageError(f"--db {url!r} needs the Python package {error.name!r}: pip install it") from None
    except OperationalError as error:
        raise UsageError(f"cannot open the database {url!r}: {error.orig}") from None


def _drain(services, timeout: float = 30) -> None:
    drain = getattr(services.jobs, "drain", None)
    if drain:
        drain(timeout)


# --- serve / demo ------------------------------------------------------------------------


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _serve(services, host: str, port: int, guest_rate_limit: Optional[int], threads: int, banner=None,
           proxy_hops: Optional[int] = None) -> int:
    from waitress import create_server

    from .web import make_app, resolve_guest_rate_limit

    limit = resolve_guest_rate_limit(guest_rate_limit)
    app = make_app(services, guest_rate_limit=limit, proxy_hops=proxy_hops)
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="meetings")
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{server.effective_port}"
    if not os.environ.get("MEETINGS_SITE_URL"):
        services.site_url = url  # manage links in answers point here
    if banner:
        banner(url)
    jobs = "RQ on REDIS_URL (run `meetings worker`)" if os.environ.get("REDIS_URL") else "in this process"
    print(f"Jobs run {jobs}; guest rate limit {limit or 'off'}{' a minute per address' if limit else ''}.")
    print(f"Serving on {url} (Ctrl+C to stop)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl+C: close, then finish queued jobs
    from .scheduler import SyncScheduler  # calendar sync poll + push channels (hourly)

    scheduler = SyncScheduler(services).start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
        server.close()
        _drain(services, 10)  # let queued calendar writes finish
    return 0


def cmd_serve(args) -> int:
    services = _services(args)
    return _serve(services, args.host, args.port, args.guest_rate_limit, args.threads, proxy_hops=args.proxy_hops)


def cmd_demo(args) -> int:
    from .demo import FULL_NAME, TIME_ZONE, seed

    services = _services(args, DEMO_DB)
    seeded = seed(services)

    def banner(url: str) -> None:
        print(f"Demo host: {FULL_NAME} <{seeded['user']}>, {TIME_ZONE}; {seeded['events']} calendar events imported.")
        print("Booking pages:")
        for slug, title in seeded["links"]:
            print(f"  {url}/meetings/{slug}    {title}")
        print("Try the API:")
        print(f"  curl '{url}/api/method/meetings_addon.api.booking.get_link?link={seeded['links'][0][0]}'")
        print(f"  curl -H 'Authorization: token {seeded['key']}:{seeded['secret']}' '{url}/api/resource/Meeting%20Link'")
        print("API key of the demo host (new on every run; shown once):")
        print(f"{seeded['key']}:{seeded['secret']}")

    return _serve(services, args.host, args.port, args.guest_rate_limit, args.threads, banner, proxy_hops=args.proxy_hops)


# --- users, calendars, contacts, links -------------------------------------------------------


def cmd_user_add(args) -> int:
    from .auth import create_user, issue_api_key

    zone = args.timezone or "UTC"
    load_zone(zone, "timezone")
    services = _services(args)
    user = create_user(services, args.email, full_name=args.full_name or "", time_zone=zone)
    key, secret = issue_api_key(services, user["name"])
    print(f"Created user {user['name']} ({user['full_name']}, {zone}).")
    print("API key and secret (shown once; send `Authorization: token <key>:<secret>`):")
    print(f"{key}:{secret}")
    return 0


def cmd_user_key(args) -> int:
    from .auth import check_email, issue_api_key

    services = _services(args)
    key, secret = issue_api_key(services, check_email(args.email))
    print(f"New API key for {args.email} (the previous one no longer works; shown once):")
    print(f"{key}:{secret}")
    return 0


def cmd_calendar_import(args) -> int:
    from .auth import check_email
    from .ics import import_ics

    services = _services(args)
    count = import_ics(services, check_email(args.user), args.file)
    print(f"Imported {count} event{'s' if count != 1 else ''} into the Local calendar of {args.user}.")
    return 0


def cmd_contact_timeline(args) -> int:
    from ...booking.timeline import consent_notes, find_contact
    from .auth import check_email

    zone = load_zone(args.timezone or "UTC", "timezone")
    services = _services(args)
    store = services.store
    email = check_email(args.email)
    contact = find_contact(services, email)
    if not contact:
        raise UsageError(f"no contact has the email {email}")
    person = store.get("Contact", contact) or {}
    rows = store.list(
        "Event Participants",
        {"reference_doctype": "Contact", "reference_docname": contact, "parenttype": "Event"},
        fields=("parent",),
    )
    events = [store.get("Event", name) for name in dict.fromkeys(row["parent"] for row in rows)]
    events = sorted((e for e in events if e), key=lambda e: e["starts_on"])
    name = " ".join(filter(None, [person.get("first_name"), person.get("last_name")])) or email
    print(f"{name} <{email}>: {len(events)} meeting{'s' if len(events) != 1 else ''} (times in {zone.key})")
    for event in events:
        bookings = store.list("Booking", {"event": event["name"], "status": ["!=", "Rescheduled"]},
                              fields=("name", "status", "meeting_link"), limit=1)
        status = bookings[0]["status"] if bookings else event.get("status") or ""
        start = event["starts_on"].astimezone(zone)
        end = event["ends_on"].astimezone(zone) if event.get("ends_on") else None
        span = f"{start:%a %Y-%m-%d %H:%M}" + (f"-{end:%H:%M}" if end else "")
        where = f"  [{bookings[0]['meeting_link']}]" if bookings else ""
        print(f"  {span}  {status:<10} {event.get('subject') or ''}{where}")
    for note in consent_notes(services, contact):  # the consent given with each booking
        print(f"  {note.get('subject') or ''}")
    return 0


def cmd_link_list(args) -> int:
    services = _services(args)
    links = services.store.list(
        "Meeting Link", fields=("name", "title", "host", "durations", "published", "timezone"), order_by="name asc"
    )
    if not links:
        print("No meeting links yet.")
        return 0
    base = services.site_url.rstrip("/")
    for link in links:
        state = "published" if link.get("published") else "unpublished"
        print(f"{link['name']:<24} {state:<11} {link.get('durations') or '':<9} {link.get('host') or '':<28} "
              f"{base}/meetings/{link['name']}  {link.get('title') or ''}")
    return 0


def cmd_outbox(args) -> int:
    """The dev outbox (MEETINGS_OUTBOX, default ./outbox): emails sent without SMTP."""
    from .mailer import attachments_of, outbox_dir, outbox_files, read_message, text_body

    folder = outbox_dir()
    files = outbox_files(folder)
    if args.action == "list":
        if not files:
            print(f"No emails in {folder}.")
            return 0
        for number, path in enumerate(files, 1):
            message = read_message(path)
            print(f"{number:>4}  {message['Date']}  {message['To']}  {message['Subject']}")
        return 0
    if not 1 <= args.number <= len(files):
        raise UsageError(f"no email {args.number} in {folder} ({len(files)} there: see `meetings outbox list`)")
    path = files[args.number - 1]
    message = read_message(path)
    for header in ("From", "To", "Date", "Subject"):
        print(f"{header}: {message[header]}")
    print(f"File: {path}")
    print()
    print(text_body(message).rstrip())
    for name, kind, content in attachments_of(message):
        print(f"\nAttachment: {name} ({kind}, {len(content)} bytes)")
    return 0


def cmd_secret_key(args) -> int:
    """A new key for MEETINGS_SECRET_KEY (calendar passwords and tokens are encrypted with it)."""
    from .secrets import ENV, new_key

    print(f"Set {ENV} to this key in the server's environment (not beside the database); keep a copy:",
          file=sys.stderr)
    print(new_key())
    return 0


def cmd_sync(args) -> int:
    """One pass of calendar sync: every connected calendar that is due, in this process;
    push channels opened or renewed where needed (for cron, without `meetings serve`)."""
    from ...sync.channels import ensure_channels
    from ...sync.jobs import sync_all

    services = _services(args)
    for connection, calendar_id, action in ensure_channels(services):
        print(f"{calendar_id}: push channel {action}")
    results = sync_all(services)
    for result in results:
        c = result.counts
        print(f"{result.calendar_id}: {'skipped (another sync runs)' if not result.ran else 'synced'}"
              f" - logged {c.get('logged', 0)}, updated {c.get('updated', 0)}, cancelled {c.get('cancelled', 0)}")
    print(f"{len(results)} calendar(s) synced")
    return 0


def cmd_reminders(args) -> int:
    """Send the reminder emails that are due, once (for cron, without `meetings serve`):
    one job each, run before the command exits (or by `meetings worker` with Redis)."""
    from ...notifications.reminders import queue_due_reminders

    services = _services(args)
    due = queue_due_reminders(services)
    _drain(services, 30)
    print(f"{due} reminder(s) due (each is sent once)")
    return 0


def cmd_worker(args) -> int:
    url = os.environ.get("REDIS_URL") or args.redis_url
    if not url:
        raise UsageError("REDIS_URL is not set: without Redis, jobs run inside `meetings serve`")
    from redis import Redis
    from redis.exceptions import RedisError
    from rq import Queue, Worker

    try:
        connection = Redis.from_url(url)
        connection.ping()
    except (RedisError, ValueError) as error:
        raise UsageError(f"cannot reach Redis at {url}: {error}") from None
    print(f"Worker on {url}, queue 'meetings' (Ctrl+C to stop)", flush=True)
    Worker([Queue("meetings", connection=connection)], connection=connection).work(with_scheduler=True, burst=args.burst)
    return 0


# --- parser -------------------------------------------------------------------------------


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number (0 = no limit)")
    return int(value)


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL (default: MEETINGS_DB_URL, else sqlite:///meetings.sqlite)")

    def server_options(p, port_default: int = 8000):
        p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=_port, default=port_default, help="port (default 8000; 0 picks a free one)")
        p.add_argument("--guest-rate-limit", type=_count, metavar="N", default=None,
                       help="guest requests a minute per client address (0 = none; default MEETINGS_GUEST_RATE_LIMIT or 120)")
        p.add_argument("--proxy-hops", type=_count, metavar="N", default=None,
                       help="trust X-Forwarded-Host/-Proto/-For from N reverse proxies in front "
                            "(default MEETINGS_TRUSTED_PROXIES or 0 = ignore them)")
        p.add_argument("--threads", type=int, default=8, help=argparse.SUPPRESS)

    parser = Parser(prog="meetings", description="Meeting links on your calendars: the standalone host.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    p = commands.add_parser("serve", parents=[common], help="serve the booking pages and the API")
    server_options(p)
    p.set_defaults(func=cmd_serve)

    p = commands.add_parser("demo", parents=[common], help="seed a demo host, calendar and links, then serve")
    server_options(p)
    p.set_defaults(func=cmd_demo)

    users = commands.add_parser("user", help="users and API keys").add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    users.required = True
    p = users.add_parser("add", parents=[common], help="create a user; prints key:secret on the last line")
    p.add_argument("email")
    p.add_argument("--full-name", default="")
    p.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    p.set_defaults(func=cmd_user_add)
    p = users.add_parser("key", parents=[common], help="issue a new API key for a user (the old one stops working)")
    p.add_argument("email")
    p.set_defaults(func=cmd_user_key)

    calendar = commands.add_parser("calendar", help="Local calendars").add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    calendar.required = True
    p = calendar.add_parser("import", parents=[common], help="load an .ics file into a user's Local calendar")
    p.add_argument("user", metavar="user-email")
    p.add_argument("file", metavar="file.ics")
    p.set_defaults(func=cmd_calendar_import)

    contact = commands.add_parser("contact", help="contacts").add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    contact.required = True
    p = contact.add_parser("timeline", parents=[common], help="a contact's meetings")
    p.add_argument("email")
    p.add_argument("--timezone", default="UTC", help="show times in this IANA zone (default UTC)")
    p.set_defaults(func=cmd_contact_timeline)

    link = commands.add_parser("link", help="meeting links").add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    link.required = True
    p = link.add_parser("list", parents=[common], help="list meeting links and their URLs")
    p.set_defaults(func=cmd_link_list)

    outbox = commands.add_parser("outbox", help="emails in the dev outbox (MEETINGS_OUTBOX, default ./outbox)")
    outbox = outbox.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    outbox.required = True
    p = outbox.add_parser("list", help="the emails, oldest first, numbered")
    p.set_defaults(func=cmd_outbox)
    p = outbox.add_parser("show", help="one email: headers, text and attachments")
    p.add_argument("number", type=int, metavar="N")
    p.set_defaults(func=cmd_outbox)

    p = commands.add_parser("secret-key", help="print a new key for MEETINGS_SECRET_KEY (encrypts calendar secrets)")
    p.set_defaults(func=cmd_secret_key)

    p = commands.add_parser("sync", parents=[common], help="sync the connected calendars that are due, once")
    p.set_defaults(func=cmd_sync)

    p = commands.add_parser("reminders", parents=[common], help="send the reminder emails that are due, once")
    p.set_defaults(func=cmd_reminders)

    p = commands.add_parser("worker", parents=[common], help="run jobs from Redis (REDIS_URL), queue 'meetings'")
    p.add_argument("--redis-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--burst", action="store_true", help="run the queued jobs, then exit")
    p.set_defaults(func=cmd_worker)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return args.func(args)
    except UsageError as error:
        print(f"meetings: error: {error}", file=sys.stderr)
        return 2
    except MeetingsError as error:
        print(f"meetings: error: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - one line, never a traceback, unless asked
        if os.environ.get("MEETINGS_DEBUG"):
            raise
        print(f"meetings: unexpected error: {type(error).__name__}: {error} (MEETINGS_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
