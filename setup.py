from setuptools import find_packages, setup

# Frappe is not on PyPI: the package installs and its core runs without it.
# Inside a bench, Frappe provides itself; `[standalone]` brings the embedded host.
setup(
    name="meetings_addon",
    version="0.2.0",
    description="Meeting links, calendar sync and CRM timelines for Frappe CRM, and standalone",
    author="meetings_addon developers",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["meetings_addon", "meetings_addon.*"]),
    include_package_data=True,
    zip_safe=False,
    install_requires=[
        "python-dateutil>=2.8",
        "tzdata",
        "email-validator>=2.0",
        "icalendar>=5.0",
        "recurring-ical-events>=3.0",
        "Babel>=2.12",  # dates in each email reader's language (notifications/)
        "Jinja2>=3.1",  # the email templates (Frappe ships it too)
        # Calendar providers (calendars/google.py, calendars/microsoft.py)
        "google-api-python-client>=2.2",
        "google-auth>=1.29",
        "google-auth-httplib2>=0.2",
        "google-auth-oauthlib>=0.4.4",
        "msal>=1.28",
        "requests>=2.31",
        "idna>=3.4",  # custom domains kept in their xn-- form (domains.py)
        "caldav>=3.0",  # calendars/caldav.py (Nextcloud, Fastmail, iCloud, Radicale ...)
    ],
    extras_require={
        "standalone": [
            "SQLAlchemy>=2.0",
            "PyMySQL>=1.1",
            "psycopg[binary]>=3.1",
            "Werkzeug>=3.0",
            "waitress>=3.0",
            "Jinja2>=3.1",
            "rq>=1.16",
            "redis>=5.0",
            "cryptography>=41",  # secrets at rest (hosts/standalone/secrets.py); Frappe ships its own
        ],
        "test": [
            "pytest>=7",
            "hypothesis>=6.80",
            "requests>=2.31",
            "Radicale>=3.2",  # a real CalDAV server for tests/calendars (started by the fixtures)
            "xandikos>=0.2",  # a second one
            "playwright>=1.45",
        ],
    },
    entry_points={"console_scripts": ["meetings = meetings_addon.hosts.standalone.cli:main"]},
)
