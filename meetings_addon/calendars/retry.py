"""Retrying a provider call that was throttled (429, 403 rateLimitExceeded) or met a
server error (5xx): exponential backoff with full jitter, at least the provider's
Retry-After, a bounded number of attempts inside a bounded time.

Reads in a page view get a short budget (a visitor is waiting); writes in a job get a
short one too, then raise ProviderBusy, whose `retry_after` the host's job runner
honours before it runs the job again (hosts/*/jobs.py read `error.retry_after`).
"""

from __future__ import annotations

import email.utils
import random
import time
from datetime import datetime, timezone
from typing import Callable, Optional, TypeVar

from ..errors import MeetingsError

T = TypeVar("T")

# (attempts, seconds of waiting allowed in all)
READ = (3, 3.0)  # a booking page view
WRITE = (3, 8.0)  # a calendar write in a job; the job runner retries after that

BASE_DELAY = 0.5
MAX_DELAY = 8.0

sleep = time.sleep  # tests may replace it


class ProviderBusy(MeetingsError):
    """The provider asked us to come back later (429, rate limit, 5xx)."""

    http_status = 503

    def __init__(self, message: str, *, retry_after: Optional[float] = None, status: Optional[int] = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a Retry-After header: delta-seconds (possibly fractional) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def delay(attempt: int, retry_after: Optional[float] = None) -> float:
    """Seconds before retry `attempt` (1-based): full jitter over an exponential schedule,
    never less than Retry-After."""
    backoff = random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1)))
    return max(backoff, retry_after or 0.0)


def with_retries(call: Callable[[], T], policy: tuple[int, float] = READ) -> T:
    """call(), again after ProviderBusy while attempts and the time budget last; the last
    ProviderBusy is raised when they run out (or when Retry-After exceeds the budget)."""
    attempts, budget = policy
    waited = 0.0
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ProviderBusy as error:
            if attempt == attempts:
                raise
            wait = delay(attempt, error.retry_after)
            if waited + wait > budget:
                raise
            sleep(wait)
            waited += wait
    raise AssertionError("unreachable")
