"""Helpers for the pub/sub tests (imported by test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import time


async def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Await ``check()`` until it returns something truthy; return it (or fail with the last value)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")


async def no_event(client, timeout: float = 0.3) -> None:
    """Assert that nothing arrives on ``client`` within ``timeout``."""
    try:
        message = await client.next_event(timeout=timeout)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected event {message!r}")


class ServerProcess:
    """``python -m ss start`` in an app folder on a free port; output kept in a log file for failures."""

    def __init__(self, root, env: dict | None = None):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.root = root
        self.env = env or {}
        self.log_path = root / f"server-{self.port}.log"
        self.proc = None

    def start(self, timeout: float = 30) -> "ServerProcess":
        import os
        import subprocess
        import sys
        import urllib.error
        import urllib.request

        env = {**os.environ, "SS_ENV": "test", **self.env}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "ss", "start", "--port", str(self.port)],
                                         cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api.json", timeout=1).close()
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise AssertionError(f"server did not answer within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the instance vanishes without closing anything (a crash, a lost host)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
