"""Which calendars a user has, and how to reach them."""
