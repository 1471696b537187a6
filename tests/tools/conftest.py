"""Fixtures of the tools tests: server processes started with any arguments, a TLS-tolerant Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port
from tests.processes import UNVERIFIED, NoRedirect, SSProcess, fetch  # noqa: F401  (imported from here by tests)


class Process(SSProcess):
    """``python -m ss <args>`` in an app folder, started at once; ``wait_for(url)`` until it answers."""

    def __init__(self, root: Path, args: list[str], env: dict[str, str] | None = None):
        super().__init__(root, args, env)
        self.start()


@pytest.fixture
def ss_process():
    """ss_process(root, ["start", ...], env) -> a running Process; all are stopped after the test."""
    started: list[Process] = []

    def start(root: Path, args: list[str], env: dict[str, str] | None = None) -> Process:
        process = Process(root, args, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def tls_browser():
    """Chromium that accepts the self-signed certificates of the tests' servers."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=CHROMIUM_ARGS + ["--ignore-certificate-errors"])
        yield chromium
        chromium.close()


@pytest.fixture
def ports():
    """Two free ports: (http, https)."""
    return free_port(), free_port()
