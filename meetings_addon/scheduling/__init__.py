"""Pure scheduling: availability rules and busy times in, bookable slots out.

No database, clock or network here: callers pass `now` and the busy times.
"""

from .rules import (
    CUSTOM_RANGE,
    ROLLING,
    WEEKDAYS,
    CompiledRules,
    DateOverride,
    Rules,
    WeeklyWindow,
    compile_rules,
    load_zone,
    validate_rules,
)
from .slots import (
    GROUP,
    MEETING_TYPES,
    ONE_ON_ONE,
    ROUND_ROBIN,
    ExistingBooking,
    HostSchedule,
    Slot,
    booking_window,
    compute_slots,
)
from .visitor import group_by_day, in_zone, visitor_range
from .wallclock import all_day

__all__ = [
    "CUSTOM_RANGE", "ROLLING", "WEEKDAYS", "CompiledRules", "DateOverride", "Rules", "WeeklyWindow",
    "compile_rules", "load_zone", "validate_rules", "GROUP", "MEETING_TYPES", "ONE_ON_ONE",
    "ROUND_ROBIN", "ExistingBooking", "HostSchedule", "Slot", "booking_window", "compute_slots",
    "group_by_day", "in_zone", "visitor_range", "all_day",
]
