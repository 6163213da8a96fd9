"""Half-open integer intervals [start, end): merge and subtract, in O(n log n) / O(n)."""

from __future__ import annotations

from typing import Iterable

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-adjacent cover of `intervals` (empty ones dropped)."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def union(starts: list[float], ends: list[float]) -> list[tuple[float, float]]:
    """Cover of the intervals (starts[i], ends[i]), all non-empty, as `merge` returns it.

    Sorts the two bound lists apart instead of sorting tuples: flat numbers sort several
    times faster at 100,000 intervals, which keeps growth at n log n. The lists are
    sorted in place.
    """
    starts.sort()
    ends.sort()
    merged: list[tuple[float, float]] = []
    count = len(starts)
    depth = 0
    opened = 0.0
    j = 0
    for i in range(count):
        start = starts[i]
        while ends[j] < start:  # a start at an end continues the span: touching merges
            depth -= 1
            if depth == 0:
                merged.append((opened, ends[j]))
            j += 1
        if depth == 0:
            opened = start
        depth += 1
    if count:
        merged.append((opened, ends[-1]))
    return merged


def subtract(base: list[Interval], cut: list[Interval]) -> list[Interval]:
    """`base` minus `cut`; both sorted and disjoint (as `merge` returns them)."""
    result: list[Interval] = []
    j = 0
    n = len(cut)
    for start, end in base:
        while j < n and cut[j][1] <= start:
            j += 1
        k = j
        while k < n and cut[k][0] < end:
            cut_start, cut_end = cut[k]
            if cut_start > start:
                result.append((start, cut_start))
            if cut_end >= end:
                start = end
                break
            start = cut_end
            k += 1
        if start < end:
            result.append((start, end))
    return result
