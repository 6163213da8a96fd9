"""The provider fixtures of tests/calendars (emulators, test CA, standalone services)."""

from tests.calendars.conftest import ca_bundle, google, kit, microsoft, services, test_ca  # noqa: F401
