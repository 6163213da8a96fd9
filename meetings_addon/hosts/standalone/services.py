"""The standalone host's Services: the SQL store, jobs, clock, mail and secrets."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from typing import Optional

from ...ports import Services
from .cache import MemoryCache
from .jobs import InProcessJobs, RQJobs
from .mailer import build_mailer
from .secrets import FernetSecrets
from .store import SQLStore, default_url


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


_cache: dict[str, Services] = {}
_cache_lock = threading.Lock()


def build_services(
    db_url: Optional[str] = None,
    *,
    redis_url: Optional[str] = None,
    site_url: Optional[str] = None,
    clock=None,
    create: bool = True,
) -> Services:
    """Services for one database; REDIS_URL (or redis_url) switches jobs to RQ."""
    db_url = db_url or os.environ.get("MEETINGS_DB_URL") or default_url()
    redis_url = redis_url if redis_url is not None else os.environ.get("REDIS_URL")
    store = SQLStore(db_url)
    if create:
        store.create_all()
        add_missing_columns(store)
    services = Services(
        store=store,
        jobs=None,  # set below: the in-process runner needs the services it serves
        clock=clock or SystemClock(),
        cache=MemoryCache(),
        mailer=build_mailer(),  # MEETINGS_SMTP_URL, else the outbox folder (MEETINGS_OUTBOX)
        secrets=FernetSecrets(store),  # encrypted with MEETINGS_SECRET_KEY (hosts/standalone/secrets.py)
        site_url=site_url or os.environ.get("MEETINGS_SITE_URL", "http://127.0.0.1:8000"),
    )
    jobs = RQJobs(redis_url, db_url) if redis_url else InProcessJobs(lambda: services)
    jobs.store = store
    services.jobs = jobs
    return services


def add_missing_columns(store: SQLStore) -> list[str]:
    """Columns the doctype JSON gained since the database was made (create_all only adds
    tables), added as Frappe's migrate adds them: nullable, no data touched. Returns
    "table.column" for each one added."""
    from sqlalchemy import inspect, text

    inspector = inspect(store.engine)
    existing_tables = set(inspector.get_table_names())
    added = []
    with store.engine.begin() as connection:
        for table in store.metadata.sorted_tables:
            if table.name not in existing_tables:
                continue
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=store.engine.dialect)
                quote = store.engine.dialect.identifier_preparer.quote
                connection.execute(text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"))
                added.append(f"{table.name}.{column.name}")
    return added


def services_for(db_url: str) -> Services:
    """One Services per database in this process (RQ workers run many jobs)."""
    with _cache_lock:
        if db_url not in _cache:
            _cache[db_url] = build_services(db_url, redis_url="", create=False)
        return _cache[db_url]
