"""Round robin's choice among free hosts (booking/assignment.py), without a database."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from meetings_addon.booking.assignment import Tally, TeamMember, order, team


def run(weights: list[int], meetings: int, priorities: list[int] | None = None, free=None):
    """Give `meetings` meetings one by one to the first host order() returns; `free(step)`
    says who is free at that step (everyone by default). Returns the counts and the worst
    distance to the exact share seen along the way (everyone free)."""
    users = [f"h{i}" for i in range(len(weights))]
    members = {u: TeamMember(u, w, (priorities or [0] * len(users))[i], i) for i, (u, w) in enumerate(zip(users, weights))}
    tallies = {u: Tally() for u in users}
    total = sum(weights)
    worst = Fraction(0)
    for step in range(1, meetings + 1):
        candidates = free(step) if free else users
        chosen = order(candidates, members, tallies)[0]
        tallies[chosen].count += 1
        tallies[chosen].last = f"{step:08d}"
        if not free and total:
            worst = max(worst, max(abs(tallies[u].count - Fraction(step * members[u].weight, total)) for u in users))
    return [tallies[u].count for u in users], worst


def test_weights_1_2_3_split_1000_meetings_exactly():
    counts, worst = run([1, 2, 3], 1000)
    assert counts == [167, 333, 500]
    assert worst < 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=6).filter(any),
       st.integers(min_value=1, max_value=300))
def test_every_host_stays_within_one_meeting_of_its_weight_share(weights, meetings):
    counts, worst = run(weights, meetings)
    assert sum(counts) == meetings
    # Tijdeman's bound: within 1 - 1/(2k-2) of the exact share, k hosts of positive weight
    # (a plain "largest deficit" rule drifts to 1.08 with weights 1,1,1,1,10,10).
    k = sum(1 for w in weights if w)
    assert worst <= (1 - Fraction(1, 2 * k - 2) if k > 1 else 0), (weights, counts)
    assert all(c == 0 for c, w in zip(counts, weights) if w == 0)  # someone of positive weight was always free


def test_a_host_who_was_busy_is_caught_up_first():
    # h0 busy for the first 30 meetings: h1 and h2 share them; then h0 takes the next ones.
    counts, _ = run([1, 1, 1], 30, free=lambda step: ["h1", "h2"])
    assert counts == [0, 15, 15]
    users = ["h0", "h1", "h2"]
    members = {u: TeamMember(u, 1, 0, i) for i, u in enumerate(users)}
    tallies = {"h0": Tally(0), "h1": Tally(15, "2"), "h2": Tally(15, "1")}
    assert order(users, members, tallies)[0] == "h0"


def test_priority_comes_before_fairness_and_weight_0_only_when_alone():
    members = {"a": TeamMember("a", 1, 2, 0), "b": TeamMember("b", 5, 0, 1), "z": TeamMember("z", 0, 9, 2)}
    tallies = {"a": Tally(500), "b": Tally(0), "z": Tally(0)}
    assert order(["a", "b", "z"], members, tallies) == ["a", "b", "z"]
    assert order(["b", "z"], members, tallies) == ["b", "z"]
    assert order(["z"], members, tallies) == ["z"]


def test_the_owner_goes_first_when_free():
    members = {"a": TeamMember("a", 1, 2, 0), "b": TeamMember("b", 1, 0, 1)}
    assert order(["a", "b"], members, {}, owner="b") == ["b", "a"]
    assert order(["a"], members, {}, owner="b") == ["a"]


def test_ties_go_to_the_least_recently_assigned_then_the_table_order():
    members = {u: TeamMember(u, 1, 0, i) for i, u in enumerate("abc")}
    assert order(list("cba"), members, {}) == ["a", "b", "c"]
    tallies = {"a": Tally(1, "2030-01-02"), "b": Tally(1, "2030-01-01"), "c": Tally(1, "2030-01-03")}
    assert order(list("abc"), members, tallies) == ["b", "a", "c"]


def test_team_reads_blank_weight_as_1_and_blank_priority_as_0():
    link = {"hosts": [{"user": "a"}, {"user": "b", "weight": 0, "priority": 3}, {"user": "a", "weight": 7}]}
    assert team(link) == {"a": TeamMember("a", 1, 0, 0), "b": TeamMember("b", 0, 3, 1)}


def test_two_heavy_hosts_among_light_ones_stay_within_tijdemans_bound():
    """A plain "largest deficit" rule gave weights 1,1,1,1,10,10 a gap of 1.08 at the 17th."""
    counts, worst = run([1, 1, 1, 1, 10, 10], 240)
    assert counts == [10, 10, 10, 10, 100, 100]
    assert worst <= 1 - Fraction(1, 10)
