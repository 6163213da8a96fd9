"""The standalone server under load: idle memory, and get_slots for a month against ping.

    python benchmarks/server_load.py [--seconds 10] [--clients 20]

Starts `meetings serve` (waitress, the default threads) on a fresh SQLite database seeded
by the demo (a host with a realistic, recurring week of busy events and three links),
with the guest rate limit off, on 127.0.0.1 only. Then:
1. idle resident memory (VmRSS) after start-up and one request;
2. N concurrent clients (threads with keep-alive sessions) calling ping for S seconds;
3. the same clients calling get_slots for the next calendar month (a visitor's month
   view, one request per month shown) for S seconds;
and prints p50/p95/p99 and throughput for each, and the ratio of the p95s.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, params: dict | None, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors = []

    def client() -> None:
        session = requests.Session()
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            response = session.get(url, params=params, timeout=30)
            mine.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors.append(response.status_code)
                break
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{url}: HTTP {errors[0]}")
    return latencies


def summary(name: str, latencies: list[float], seconds: float) -> float:
    ordered = sorted(latencies)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    print(
        f"{name:<28} {len(ordered) / seconds:7.0f} req/s   p50 {p(0.50):6.1f} ms   p95 {p(0.95):6.1f} ms"
        f"   p99 {p(0.99):6.1f} ms   (n={len(ordered)})"
    )
    return p(0.95)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="meetings-load-")
    db = f"sqlite:///{workdir}/load.sqlite"
    port = free_port()
    env = {**os.environ, "MEETINGS_DB_URL": db, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    # Seed with the demo's data, then serve it plainly.
    subprocess.run(
        [sys.executable, "-c", "from meetings_addon.hosts.standalone.services import build_services;"
         "from meetings_addon.hosts.standalone.demo import seed; seed(build_services())"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "meetings_addon.hosts.standalone.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--db", db, "--guest-rate-limit", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{base}/api/method/ping", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        slug = "alex-30"
        today = date.today()
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        params = {"link": slug, "start": first.isoformat(), "end": last.isoformat(), "timezone": "America/New_York"}
        slots = requests.get(f"{base}/api/method/meetings_addon.api.booking.get_slots", params=params).json()
        time.sleep(1)
        print(f"server: waitress on 127.0.0.1, SQLite, demo data; {args.clients} clients x {args.seconds:.0f} s each")
        print(f"idle resident memory: {rss_mb(server.pid):.0f} MB")
        print(f"get_slots {first}..{last}: {len(slots['message']['slots'])} slots")
        ping = summary("ping", load(f"{base}/api/method/ping", None, args.clients, args.seconds), args.seconds)
        month = summary(
            "get_slots (a month)",
            load(f"{base}/api/method/meetings_addon.api.booking.get_slots", params, args.clients, args.seconds),
            args.seconds,
        )
        print(f"p95 ratio get_slots / ping: {month / ping:.2f} (target <= 2)")
        print(f"resident memory after load: {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
