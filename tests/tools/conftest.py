"""Fixtures of the tools tests: server processes started with any arguments, a TLS-tolerant Chromium."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port

UNVERIFIED = ssl._create_unverified_context()  # the tests' servers use self-signed certificates


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET that follows no redirect and accepts any certificate."""
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=UNVERIFIED))
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class Process:
    """``python -m ss <args>`` in an app folder; ``wait_for(url)`` until it answers."""

    def __init__(self, root: Path, args: list[str], env: dict[str, str] | None = None):
        self.root = Path(root)
        self.args = args
        self.log_path = self.root / f"ss-{os.getpid()}-{time.monotonic_ns()}.log"
        full_env = {**os.environ, "SS_ENV": "development", **(env or {})}
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ss", *args], cwd=self.root, env=full_env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_for(self, url: str, timeout: float = 30) -> "Process":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ss exited with {self.proc.returncode}:\n{self.output()}")
            try:
                fetch(url, timeout=1)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError, OSError):
                time.sleep(0.1)
        raise AssertionError(f"{url} did not answer within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


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
