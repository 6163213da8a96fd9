"""Calendar provider adapters, one interface (ports.CalendarProvider)."""
