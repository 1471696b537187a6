"""redis-server processes of the ops tests' own, on spare ports: stopped, killed and restarted at will."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.conftest import free_port


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run `make deps` (tests needing Redis are never skipped)"
    return binary


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.05)


class RedisProcess:
    """One redis-server (or sentinel with ``sentinel=True``) with its config file in ``folder``."""

    def __init__(self, folder: Path, port: int | None = None, extra: list[str] | None = None,
                 sentinel: bool = False):
        self.port = port or free_port()
        self.folder = Path(folder) / f"redis-{self.port}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.extra = extra or []
        self.sentinel = sentinel
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=2)

    def start(self) -> "RedisProcess":
        conf = self.folder / ("sentinel.conf" if self.sentinel else "redis.conf")
        lines = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.folder}", 'save ""', "appendonly no",
                 "protected-mode no", *self.extra]
        if not conf.exists() or not self.sentinel:  # a sentinel rewrites its file: keep what it learned
            conf.write_text("\n".join(lines) + "\n")
        args = [redis_binary(), str(conf)] + (["--sentinel"] if self.sentinel else [])
        self.log = open(self.folder / "log.txt", "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.client().ping(), 10, f"redis-server on port {self.port} answering")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
