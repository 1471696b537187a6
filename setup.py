"""Packaging for ss. Exact pins for a reproducible install live in requirements.txt."""
from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path(__file__).with_name("ss").joinpath("version.py").read_text(), version)

setup(
    name="ss",
    version=version["__version__"],
    description="Real-time single-page web apps in Python: one WebSocket, server actions, pub/sub, assets.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["ss", "ss.*"]),
    include_package_data=True,
    package_data={"ss": ["client_js/*.js", "client_js/modules/*.js", "assets/node/*.json", "assets/node/*.js", "skeleton/**/*", "skeleton/**/.*"]},
    install_requires=[
        "tornado>=6.6,<6.7",  # tested with 6.6; ss/realtime/compat.py checks the internals it uses
        "redis>=5,<9",
        "hiredis>=3",
        "fakeredis>=2.30,<3",
        "orjson>=3.9",
        "pypugjs>=6,<8",
        "libsass>=0.23",
        "rcssmin>=1.1",
        "watchdog>=4",
        "cryptography>=42",
        "mini-racer>=0.12",
        "prometheus_client>=0.20,<1",  # ss/metrics.py: /_ss/metrics, multiprocess mode under --workers
        "uvloop>=0.19; sys_platform != 'win32'",  # server.event_loop = "uvloop" (ss/event_loop.py)
    ],
    extras_require={"test": ["pytest", "pytest-asyncio", "pytest-timeout", "hypothesis", "playwright", "websocket-client"]},
    entry_points={"console_scripts": ["ss=ss.cli:main"]},
)
