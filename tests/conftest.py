import atexit
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings

# CI runs the same examples every time (a red run can be replayed); developers get new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Emails sent by the standalone host during tests go to a throwaway outbox: never to an
# SMTP server configured on the machine, nor to ./outbox.
os.environ.pop("MEETINGS_SMTP_URL", None)
if "MEETINGS_OUTBOX" not in os.environ:
    os.environ["MEETINGS_OUTBOX"] = tempfile.mkdtemp(prefix="meetings-test-outbox-")
    atexit.register(shutil.rmtree, os.environ["MEETINGS_OUTBOX"], True)
