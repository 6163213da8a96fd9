"""Local emulators of Google (OAuth + Calendar v3) and Microsoft (identity platform + Graph) for the tests."""
