"""Fixtures: a fresh database per test module on each backend, and services over it.

`db_url` is parametrized over sqlite (a temp file), mariadb and postgresql; each module gets
its own CREATE DATABASE meetings_test_<random>, dropped when the module is done. A server
that cannot be reached makes its tests ERROR (so CI goes red); a developer without one
opts out with MEETINGS_SKIP_DBS=mariadb,postgresql.
"""

from __future__ import annotations

import pytest

from meetings_addon.hosts.standalone.services import build_services

from .support import BACKENDS, FixedClock, Unreachable, fresh_database, skipped_backends, wipe


def _database(request, tmp_path_factory, backend: str):
    if backend in skipped_backends():
        pytest.skip(f"{backend} opted out by MEETINGS_SKIP_DBS")
    unreachable = None
    try:
        with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
            yield url
    except Unreachable as error:
        unreachable = str(error)
    if unreachable:  # an error, not a skip: CI must not pass without every database
        pytest.fail(unreachable, pytrace=False)


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(request, tmp_path_factory):
    """A fresh database for this module, once per backend."""
    yield from _database(request, tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def sqlite_url(request, tmp_path_factory):
    """A fresh SQLite database for this module (tests that need no server)."""
    yield from _database(request, tmp_path_factory, "sqlite")


def _services(url: str, clock: FixedClock):
    services = build_services(url, redis_url="", clock=clock, site_url="https://meet.example.com")
    wipe(services.store)
    try:
        yield services
    finally:
        services.jobs.drain(timeout=10)
        services.store.engine.dispose()


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def services(db_url, clock):
    """Standalone services on this module's database, emptied, with a stopped clock."""
    yield from _services(db_url, clock)


@pytest.fixture
def sqlite_services(sqlite_url, clock):
    yield from _services(sqlite_url, clock)


@pytest.fixture
def store(services):
    return services.store


@pytest.fixture
def backend(db_url):
    return db_url.split(":", 1)[0].split("+", 1)[0].replace("mysql", "mariadb")
