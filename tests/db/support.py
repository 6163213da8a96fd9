"""Databases for the tests and benchmarks: a fresh one per use, on SQLite, MariaDB or PostgreSQL.

Server addresses come from the environment (defaults: the CI machine's local servers):
    MEETINGS_TEST_MARIADB_URL   mysql+pymysql://root@127.0.0.1:3306
    MEETINGS_TEST_POSTGRES_URL  postgresql+psycopg://postgres@127.0.0.1:5432
MEETINGS_SKIP_DBS=mariadb,postgresql opts out of servers a developer does not run; without
it an unreachable server is an error, never a silent skip.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

UTC = timezone.utc
BACKENDS = ("sqlite", "mariadb", "postgresql")
SERVERS = {
    "mariadb": os.environ.get("MEETINGS_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306"),
    "postgresql": os.environ.get("MEETINGS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"),
}


class Unreachable(Exception):
    """The database server of a backend cannot be reached."""


def skipped_backends() -> set[str]:
    names = os.environ.get("MEETINGS_SKIP_DBS", "")
    return {name.strip().lower() for name in names.split(",") if name.strip()}


@contextmanager
def fresh_database(backend: str, directory: Optional[Path] = None) -> Iterator[str]:
    """CREATE DATABASE meetings_test_<random>, yield its URL, DROP it afterwards."""
    name = f"meetings_test_{secrets.token_hex(4)}"
    if backend == "sqlite":
        folder = Path(directory or tempfile.mkdtemp(prefix="meetings-db-"))
        path = folder / f"{name}.sqlite"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            if directory is None:
                folder.rmdir()
        return
    server = make_url(SERVERS[backend])
    if backend == "mariadb":
        admin_url = server.set(database=None, query={"charset": "utf8mb4"})
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        drop = f"DROP DATABASE IF EXISTS `{name}`"
        connect_args = {"connect_timeout": 5}
        url = server.set(database=name, query={"charset": "utf8mb4"})
    elif backend == "postgresql":
        admin_url = server.set(database="postgres")
        create = f'CREATE DATABASE "{name}"'
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        connect_args = {"connect_timeout": 5}
        url = server.set(database=name)
    else:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args=connect_args)
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(create))
        except Exception as error:  # noqa: BLE001 - any driver error means "cannot reach it"
            raise Unreachable(
                f"{backend} server at {admin_url.render_as_string(hide_password=True)} is unreachable "
                f"({type(error).__name__}: {str(error).splitlines()[0]}). Start it, point "
                f"MEETINGS_TEST_{'MARIADB' if backend == 'mariadb' else 'POSTGRES'}_URL at one, or opt out "
                f"locally with MEETINGS_SKIP_DBS={backend}."
            ) from error
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(drop))
    finally:
        admin.dispose()


def wipe(store) -> None:
    """Delete every row of every table (a clean slate between tests of one module)."""
    with store.engine.begin() as connection:
        for table in reversed(store.metadata.sorted_tables):
            connection.execute(table.delete())


# --- Scenario data ---------------------------------------------------------------------

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Paris
ZONE = "Europe/Paris"
WORKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


class FixedClock:
    """The services' clock, stopped: slots are the same on every run."""

    def __init__(self, now: datetime = NOW):
        self._now = now

    def now(self) -> datetime:
        return self._now


def local(day: date, hour: int, minute: int = 0, zone: str = ZONE) -> datetime:
    """An aware instant: that wall-clock time in the link's zone."""
    return datetime.combine(day, time(hour, minute), ZoneInfo(zone))


TUESDAY = date(2030, 1, 8)
WEDNESDAY = date(2030, 1, 9)


def add_user(store, email: str, full_name: Optional[str] = None) -> str:
    store.insert("User", {"email": email, "full_name": full_name or email.split("@")[0].title(), "enabled": 1})
    return email


def add_link(
    store,
    slug: str,
    host: str,
    *,
    meeting_type: str = "One-on-one",
    hosts: tuple[str, ...] = (),
    durations: str = "30",
    start_increment: int = 0,
    questions: tuple[dict, ...] = (),
    hours: tuple[str, str] = ("09:00", "17:00"),
    **extra: Any,
) -> dict:
    link = {
        "slug": slug,
        "title": f"Talk to {host}",
        "host": host,
        "published": 1,
        "meeting_type": meeting_type,
        "hosts": [{"user": user} for user in hosts],
        "durations": durations,
        "start_increment": start_increment,
        "timezone": ZONE,
        "availability": [{"weekday": day, "start_time": hours[0], "end_time": hours[1]} for day in WORKDAYS],
        "window_type": "Rolling",
        "rolling_weeks": 4,
        "questions": list(questions),
        **extra,
    }
    store.insert("Meeting Link", link)
    return store.get("Meeting Link", slug)


def booking_payload(link: str, start: datetime | str, email: str, **changes: Any) -> dict:
    payload = {
        "link": link,
        "start": start.isoformat() if isinstance(start, datetime) else start,
        "timezone": ZONE,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "answers": {},
        "consent": False,
    }
    payload.update(changes)
    return payload


def count(store, doctype: str, filters: Optional[dict] = None) -> int:
    return len(store.list(doctype, filters or {}))


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


def assert_no_overlap(rows: list[dict]) -> None:
    """Confirmed bookings of one host, any order: no two share an instant."""
    ordered = sorted(rows, key=lambda row: row["start"])
    for before, after in zip(ordered, ordered[1:]):
        assert after["start"] >= before["end"], f"double booking: {before} overlaps {after}"


MINUTE = timedelta(minutes=1)
