"""Booking use-cases: get_link, get_slots, book, cancel, reschedule (see service.py)."""
