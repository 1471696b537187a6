"""Fixtures shared by every test: app folders, both stores, a real Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import redis

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
