"""Round robin: which free host takes a meeting (docs/ARCHITECTURE.md, "Booking: how a
slot is reserved").

Among the hosts free at the slot, in this order:
1. the visitor's owner in the CRM (booking/crm_owner.py), when the link prefers it and
   they are free;
2. the hosts of the highest priority present (blank = 0; a higher number comes first);
3. among those, weighted fairness by Tijdeman's rule (see `order`): `count` is the
   host's Confirmed meetings of the link that start from LOOKBACK ago onwards, `n` the sum
   of those hosts' counts, so this meeting is the (n + 1)-th they share. While everyone
   is free each of k hosts stays within 1 - 1/(2k-2) meetings of its exact share at
   every step (tests/unit/test_assignment.py); a host who was busy is caught up first
   once free again. Ties go to the host assigned least recently, then to the order of
   the hosts table;
4. hosts of weight 0 only when no host of positive weight is free.

`order()` is pure: the counts come in (`read_counts()` reads them through the Store
port), so the rule is tested without a database. The caller tries the hosts in the order
returned (the first one still free after the lock wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..ports import Services

BOOKING = "Booking"
# Fairness is measured over meetings that start from LOOKBACK ago onwards (the future
# included): long enough that a split holds over months, short enough that a host's
# share from a year ago does not decide who is booked today.
LOOKBACK = timedelta(days=90)


@dataclass(frozen=True)
class TeamMember:
    user: str
    weight: int = 1
    priority: int = 0
    position: int = 0


@dataclass
class Tally:
    """A host's share so far: Confirmed meetings of the link, and when the last was made."""

    count: int = 0
    last: str = ""  # the latest `creation` of those meetings, as text (empty: never)


def _int(value: Any, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def team(link: Mapping[str, Any]) -> dict[str, TeamMember]:
    """The link's hosts table as {user: TeamMember}; a blank weight is 1, a blank priority 0."""
    members: dict[str, TeamMember] = {}
    for position, row in enumerate(link.get("hosts") or []):
        user = row.get("user")
        if user and user not in members:
            members[user] = TeamMember(user, max(0, _int(row.get("weight"), 1)), _int(row.get("priority"), 0), position)
    return members


def order(
    candidates: Sequence[str],
    members: Mapping[str, TeamMember],
    tallies: Mapping[str, Tally],
    owner: Optional[str] = None,
) -> list[str]:
    """The free hosts `candidates` in the order they should be offered the meeting."""
    free = list(dict.fromkeys(candidates))
    member = {user: members.get(user) or TeamMember(user, 1, 0, len(members)) for user in free}
    tally = {user: tallies.get(user) or Tally() for user in free}
    # Each priority's hosts of positive weight share its meetings: n meetings so far
    # between them, W their total weight, k of them.
    shared: dict[int, list[int]] = {}
    for user in free:
        if member[user].weight > 0:
            group = shared.setdefault(member[user].priority, [0, 0, 0])
            group[0] += tally[user].count
            group[1] += member[user].weight
            group[2] += 1

    def urgency(user: str) -> tuple[bool, Fraction]:
        """Tijdeman's rule for the chairman assignment problem: with this meeting the
        t-th, a host is eligible when owed at least c = 1/(2k-2) of a meeting
        (t * w/W - count >= c), and the eligible host with the earliest deadline
        ((count + 1 - c) * W/w, the step by which they must have their next meeting) goes
        first. Everyone then stays within 1 - c of their exact share at every step (a
        plain "largest deficit" can drift past one meeting)."""
        m = member[user]
        n, total, k = shared[m.priority]
        c = Fraction(1, 2 * k - 2) if k > 1 else Fraction(1)
        count = tally[user].count
        eligible = Fraction((n + 1) * m.weight, total) - count >= c
        return not eligible, (count + 1 - c) * Fraction(total, m.weight)

    def key(user: str):
        m = member[user]
        # weight 0 last; then priority (higher first); then eligible before not, the
        # earliest deadline first; then the least recently assigned; then the table's order.
        rank = urgency(user) if m.weight > 0 else (True, Fraction(0))
        return (m.weight == 0, -m.priority, *rank, tally[user].last, m.position)

    ranked = sorted(free, key=key)
    if owner and owner in ranked:
        ranked.remove(owner)
        ranked.insert(0, owner)
    return ranked


def read_counts(services: Services, link: Mapping[str, Any], users: Iterable[str], now: datetime) -> dict[str, Tally]:
    """Each user's Confirmed meetings of the link starting at or after now - LOOKBACK.

    Cancelled, rescheduled-away and requested meetings do not count: a cancellation gives
    the host's share back."""
    users = list(dict.fromkeys(users))
    tallies = {user: Tally() for user in users}
    if not users:
        return tallies
    # One grouped query: the cost stays flat however many meetings the link holds.
    counted = services.store.count_by(
        BOOKING,
        {"meeting_link": link["name"], "status": "Confirmed", "host": ["in", users], "start": [">=", now - LOOKBACK]},
        "host",
        for_update=True,  # read under the hosts' lock: every commit so far counts
    )
    for user, (count, last) in counted.items():
        if user in tallies:
            tallies[user] = Tally(count, _stamp(last))
    return tallies


def _stamp(moment: Any) -> str:
    """A `creation` as sortable text, the same shape from every store."""
    if isinstance(moment, datetime):
        return moment.astimezone(timezone.utc).isoformat() if moment.tzinfo else moment.isoformat()
    return str(moment or "")
