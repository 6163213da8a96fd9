"""The standalone host's scheduler: a daemon thread `meetings serve` starts.

Every Meetings Settings.sync_interval minutes it queues the due calendar syncs
(sync.jobs.poll, the fallback to push); every minute it sends the reminder emails that
are due (notifications.reminders.queue_due_reminders: one job each); every hour it opens or renews the push channels
(sync.channels.ensure_channels). Without `meetings serve` (or with RQ workers elsewhere),
run `meetings sync` and `meetings reminders` from cron instead. `stop()` ends it (serve does on exit).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Optional

log = logging.getLogger(__name__)

CHANNELS_EVERY = 3600.0  # seconds
TICK = 30.0  # how often the thread wakes to see what is due
REMINDERS_EVERY = 60.0  # seconds


class SyncScheduler:
    def __init__(self, services, *, tick: float = TICK, channels_every: float = CHANNELS_EVERY):
        self.services = services
        self.tick = tick
        self.channels_every = channels_every
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.last_poll = 0.0
        self.last_channels = 0.0
        self.last_reminders = 0.0

    def start(self) -> "SyncScheduler":
        self._thread = threading.Thread(target=self._run, name="meetings-sync-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _interval(self) -> float:
        from ...sync.jobs import interval

        return interval(self.services).total_seconds()

    def run_once(self, now: Optional[float] = None) -> None:
        from ...sync.channels import ensure_channels
        from ...sync.jobs import poll

        now = time.monotonic() if now is None else now
        every = self._interval()
        if every > 0 and (not self.last_poll or now - self.last_poll >= every):
            self.last_poll = now
            poll(self.services)
        if not self.last_reminders or now - self.last_reminders >= REMINDERS_EVERY:
            self.last_reminders = now
            try:
                from ...notifications.reminders import queue_due_reminders

                queue_due_reminders(self.services)
            except Exception:  # noqa: BLE001 - the sync below still runs; the next tick retries
                log.warning("reminder emails failed", exc_info=True)
        if not self.last_channels or now - self.last_channels >= self.channels_every:
            self.last_channels = now
            ensure_channels(self.services)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.warning("calendar sync scheduler tick failed", exc_info=True)
            self._stop.wait(self.tick)
