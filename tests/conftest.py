"""Fixtures shared by every test: app folders, both stores, a real Redis, server processes, Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SKELETON = ROOT / "ss" / "skeleton"

# Tests choose their store explicitly; a developer's own setting must not leak in.
os.environ.pop("SS_REDIS_URL", None)
os.environ.pop("SS_ENV", None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url():
    """A Redis that answers: $SS_TEST_REDIS_URL, else 127.0.0.1:6379, else one started here."""
    url = os.environ.get("SS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if _answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run `make deps` (tests needing Redis are never skipped)"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/15"
    deadline = time.monotonic() + 10
    while not _answers(url):
        assert time.monotonic() < deadline, "the redis-server started for the tests did not answer"
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture(params=["embedded", "redis"])
def store_overrides(request):
    """Config overrides selecting each store in turn; Redis keys get a unique prefix per test."""
    if request.param == "embedded":
        return {"redis": {"enabled": False}}
    url = request.getfixturevalue("redis_url")
    return {"redis": {"enabled": True, "url": url, "key_prefix": f"test-{uuid.uuid4().hex[:8]}:"}}


@pytest.fixture
def make_app(tmp_path):
    """make_app({"app/server/app.py": "...source..."}) -> an app folder with just those files."""

    def make(files: dict[str, str], name: str = "app") -> Path:
        root = tmp_path / name
        (root / "app" / "server").mkdir(parents=True, exist_ok=True)
        (root / "config").mkdir(exist_ok=True)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    return make


@pytest.fixture
def skeleton_app(tmp_path) -> Path:
    """A copy of the skeleton (without the client libraries `ss new` downloads)."""
    root = tmp_path / "skel"
    shutil.copytree(SKELETON, root)
    return root


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_modifyitems(items):
    # Everything under tests/e2e/ or in a file named *e2e* drives real processes or Chromium.
    for item in items:
        path = str(item.fspath)
        if "/e2e/" in path or "e2e" in Path(path).name:
            item.add_marker(pytest.mark.e2e)


class ServerProcess:
    """``python -m ss start`` in an app folder, on a free port, with its output kept in a log file."""

    def __init__(self, root: Path, env: dict[str, str] | None = None, port: int | None = None):
        self.root = Path(root)
        self.port = port or free_port()
        self.log_path = self.root / f"server-{self.port}.log"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "ServerProcess":
        env = {**os.environ, "SS_ENV": "development", **self.extra_env}
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ss", "start", "--port", str(self.port)],
                                     cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/robots.txt", timeout=1):
                    return self
            except urllib.error.HTTPError:
                return self  # any HTTP answer (an app without robots.txt says 404) means it is up
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise AssertionError(f"server did not answer within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def ss_server():
    """ss_server(root, env={...}) starts a server process; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(root: Path, env: dict[str, str] | None = None, port: int | None = None) -> ServerProcess:
        server = ServerProcess(root, env, port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    # Module scope: the sync Playwright API keeps an event loop running in this thread
    # while it is open, which would break the asyncio tests of later modules.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_app(tmp_path):
    """new_app(name) -> an app generated by `python -m ss new` (as a user would)."""

    def make(name: str = "myapp") -> Path:
        result = subprocess.run([sys.executable, "-m", "ss", "new", name], cwd=tmp_path,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr + result.stdout
        return tmp_path / name

    return make
