from setuptools import find_packages, setup

# Frappe is not on PyPI: the package installs and its core runs without it.
# Inside a bench, Frappe provides itself; `[standalone]` brings the embedded host.
setup(
    name="meetings_addon",
    version="0.1.0",
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
    ],
    extras_require={
        "standalone": [],
        "test": [
            "pytest>=7",
            "hypothesis>=6.80",
        ],
    },
)
