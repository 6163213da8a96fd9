"""The `meetings` command line: users and keys, .ics import blocking the right slots,
contact timelines, link lists, one-line errors, and `serve` as a real process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from meetings_addon.booking import service
from meetings_addon.hosts.standalone.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_user_add_prints_the_key_last_and_it_works(capsys, db_url, services, server):
    code, out, err = run(capsys, "user", "add", "Nina@Team.example", "--full-name", "Nina North", "--timezone", "Europe/Berlin", "--db", db_url)
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    key, _, secret = last.partition(":")
    assert len(key) == 15 and len(secret) >= 32
    user = services.store.get("User", "nina@team.example")
    assert (user["full_name"], user["time_zone"], user["enabled"]) == ("Nina North", "Europe/Berlin", 1)
    assert secret not in str(services.store.get_password("User", "nina@team.example", "api_secret"))
    assert server.resource("GET", "Meeting Link", last).status_code == 200

    code, out, err = run(capsys, "user", "key", "nina@team.example", "--db", db_url)
    assert code == 0
    assert server.resource("GET", "Meeting Link", last).status_code == 401  # the old key is gone
    assert server.resource("GET", "Meeting Link", out.strip().splitlines()[-1]).status_code == 200


@pytest.mark.parametrize(
    "argv, words",
    [
        (["user", "add", "not-an-email"], "not a valid email"),
        (["user", "add", "a@b.example", "--timezone", "Mars/Base"], "Mars/Base"),
        (["calendar", "import", "nobody@team.example", "/nonexistent.ics"], "does not exist"),
        (["contact", "timeline", "stranger@client.example"], "no contact"),
        (["serve", "--port", "99999"], "port"),
        (["frobnicate"], "invalid choice"),
        (["worker"], "REDIS_URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, db_url, monkeypatch, argv, words):
    monkeypatch.delenv("REDIS_URL", raising=False)
    code, out, err = run(capsys, *argv, *(["--db", db_url] if argv[0] not in ("frobnicate",) else []))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert words in err


def test_bad_db_url_and_duplicate_user(capsys, db_url):
    code, _, err = run(capsys, "link", "list", "--db", "nonsense://")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert run(capsys, "user", "add", "dup@team.example", "--db", db_url)[0] == 0
    code, _, err = run(capsys, "user", "add", "dup@team.example", "--db", db_url)
    assert code == 2 and "already exists" in err


def test_calendar_import_blocks_exactly_the_right_slots(capsys, db_url, services, h, tmp_path):
    h.add_host("ny@team.example", tz="America/New_York", name="Nate York")
    h.add_link("nate-60", host="ny@team.example", durations="60",
               availability=[{"weekday": d, "start_time": "09:00", "end_time": "17:00"} for d in h.WEEKDAYS])
    monday = h.next_monday()
    stamp = lambda day, hhmm="": day.strftime("%Y%m%d") + (f"T{hhmm}00" if hhmm else "")  # noqa: E731
    tuesday, wednesday, thursday, friday = (monday + timedelta(days=n) for n in range(1, 5))
    calendar = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",
        # Every Tuesday 10:00-11:00 New York, from the week before.
        "BEGIN:VEVENT", "UID:weekly@test", "SUMMARY:Weekly sync",
        f"DTSTART;TZID=America/New_York:{stamp(tuesday - timedelta(days=7), '1000')}",
        f"DTEND;TZID=America/New_York:{stamp(tuesday - timedelta(days=7), '1100')}",
        "RRULE:FREQ=WEEKLY", "END:VEVENT",
        # Free time on Wednesday: does not block.
        "BEGIN:VEVENT", "UID:free@test", "SUMMARY:Reading", "TRANSP:TRANSPARENT",
        f"DTSTART;TZID=America/New_York:{stamp(wednesday, '1000')}",
        f"DTEND;TZID=America/New_York:{stamp(wednesday, '1100')}", "END:VEVENT",
        # Thursday all day.
        "BEGIN:VEVENT", "UID:allday@test", "SUMMARY:Conference",
        f"DTSTART;VALUE=DATE:{stamp(thursday)}", f"DTEND;VALUE=DATE:{stamp(thursday + timedelta(days=1))}", "END:VEVENT",
        # Cancelled on Friday: does not block.
        "BEGIN:VEVENT", "UID:cancelled@test", "SUMMARY:Called off", "STATUS:CANCELLED",
        f"DTSTART;TZID=America/New_York:{stamp(friday, '1000')}",
        f"DTEND;TZID=America/New_York:{stamp(friday, '1100')}", "END:VEVENT",
        # Floating on Monday: read in the user's zone (New York).
        "BEGIN:VEVENT", "UID:floating@test", "SUMMARY:Dentist",
        f"DTSTART:{stamp(monday, '1500')}", f"DTEND:{stamp(monday, '1600')}", "END:VEVENT",
        "END:VCALENDAR", "",
    ])
    path = tmp_path / "work.ics"
    path.write_text(calendar)

    code, out, err = run(capsys, "calendar", "import", "ny@team.example", str(path), "--db", db_url)
    assert code == 0, err
    assert "Imported" in out
    assert run(capsys, "calendar", "import", "ny@team.example", str(path), "--db", db_url)[0] == 0  # again: no duplicates
    assert len(services.store.list("Local Calendar Event", {"user": "ny@team.example", "uid": "allday@test"})) == 1

    answer = service.get_slots(services, {"link": "nate-60", "start": str(monday), "end": str(friday + timedelta(days=7)),
                                          "timezone": "America/New_York"})
    by_day: dict[str, list[str]] = {}
    for slot in answer["slots"]:
        by_day.setdefault(slot["start"][:10], []).append(slot["start"][11:16])
    all_hours = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    without = lambda *hours: [x for x in all_hours if x not in hours]  # noqa: E731
    assert by_day[str(monday)] == without("15:00")
    assert by_day[str(tuesday)] == without("10:00")
    assert by_day[str(wednesday)] == all_hours
    assert str(thursday) not in by_day
    assert by_day[str(friday)] == all_hours
    assert by_day[str(tuesday + timedelta(days=7))] == without("10:00")  # the series goes on
    assert by_day[str(thursday + timedelta(days=7))] == all_hours


def test_contact_timeline_shows_an_api_booking(capsys, db_url, services, h, server):
    h.add_host()
    h.add_link()
    monday = h.next_monday()
    slots = server.method("get_slots", get={"link": "hana-30", "start": str(monday), "end": str(monday), "timezone": "UTC"})
    start = slots.json()["message"]["slots"][2]["start"]
    made = server.method("book", post={"link": "hana-30", "start": start, **h.visitor(email="Vera@Client.example")})
    assert made.status_code == 200, made.text
    services.jobs.drain(10)

    code, out, err = run(capsys, "contact", "timeline", "vera@client.example", "--timezone", "UTC", "--db", db_url)
    assert code == 0, err
    assert "Vera Visitor <vera@client.example>: 1 meeting" in out
    line = out.strip().splitlines()[-1]
    assert f"{start[:10]} {start[11:16]}" in line and "Confirmed" in line and "Intro call with Vera Visitor" in line

    code, out, _ = run(capsys, "link", "list", "--db", db_url)
    assert code == 0 and "hana-30" in out and "published" in out and "/meetings/hana-30" in out


def test_serve_runs_waitress_and_stops_on_sigterm(tmp_path):
    db = f"sqlite:///{tmp_path / 'served.sqlite'}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "MEETINGS_GUEST_RATE_LIMIT": "5"}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "meetings_addon.hosts.standalone.cli", "serve", "--port", "0", "--db", db],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )
    try:
        url, lines = None, []
        for _ in range(50):
            lines.append(process.stdout.readline())
            if lines[-1].startswith("Serving on "):
                url = lines[-1].split()[2]
                break
        assert url, f"no 'Serving on' line in {lines}"
        assert any("rate limit 5 a minute" in line for line in lines)
        assert requests.get(url + "/api/method/ping", timeout=5).json() == {"message": "pong"}
        missing = requests.get(url + "/api/method/meetings_addon.api.booking.get_link?link=nothing", timeout=5)
        assert missing.status_code == 404 and missing.json()["exc_type"] == "DoesNotExistError"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        process.stdout.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server on PATH")
def test_worker_runs_the_jobs_of_a_booking_from_redis(capsys, db_url, h, tmp_path, monkeypatch):
    """With REDIS_URL a booking's calendar write waits in Redis until `meetings worker` runs it."""
    from meetings_addon.hosts.standalone.services import build_services

    port = _free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        from redis import Redis

        for _ in range(100):
            try:
                Redis.from_url(url).ping()
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        monkeypatch.setenv("REDIS_URL", url)
        services = build_services(db_url)
        h.services = services
        h.add_host()
        h.add_link()
        monday = h.next_monday()
        start = f"{monday}T14:00:00+00:00"
        assert service.book(services, {"link": "hana-30", "start": start, **h.visitor()})["status"] == "Confirmed"
        assert services.store.list("Local Calendar Event") == []  # queued, not run

        code, out, err = run(capsys, "worker", "--burst", "--db", db_url)
        assert code == 0, err
        events = services.store.list("Local Calendar Event", fields=("summary", "source"))
        assert events == [{"summary": "Intro call with Vera Visitor", "source": "Booking"}]
    finally:
        redis.terminate()
        redis.wait(10)
