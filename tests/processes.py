"""The processes tests run, the one way the tests run them.

``SSProcess(root, ["start", "--port", "8000"]).start().wait_for(url)`` runs ``python -m ss <args>``
in an app folder (in development unless ``env`` says otherwise) with its output kept in a log file
(``output()``), and ``stop()`` sends it a signal and kills it if it has not exited in time.

``RedisServer(password=None).start()`` runs a ``redis-server`` of the test's own on a spare port
(no persistence) and waits until it answers; ``stop()``, ``kill()`` and ``restart()`` (same port,
empty data). It is also a context manager.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

from tests.waiting import wait_until

UNVERIFIED = ssl._create_unverified_context()  # the tests' servers use self-signed certificates


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class _Child:
    """What every process of the tests shares: is it running, kill it, or end it politely."""

    proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.running:
            self.proc.kill()
            self.proc.wait(5)

    def _terminate(self, timeout: float) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        if self.running:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run `make deps` (tests needing Redis are never skipped)"
    return binary


class SSProcess(_Child):
    """``python -m ss <args>`` in an app folder, its output (stdout and stderr) kept in ``log_path``."""

    stop_timeout = 20.0

    def __init__(self, root: Path, args: list[str], env: dict[str, str] | None = None,
                 log_path: Path | None = None):
        self.root = Path(root)
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.log_path = Path(log_path) if log_path else self.root / f"ss-{os.getpid()}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None
        self.log = None

    def start(self) -> "SSProcess":
        """Launch the process (it is not waited for: see ``wait_for``)."""
        env = {**os.environ, "SS_ENV": "development", **self.extra_env}
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ss", *self.args], cwd=self.root, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def _answers(self, url: str) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"`python -m ss {' '.join(self.args)}` exited with {self.proc.returncode}:\n"
                                 f"{self.output()}")
        try:
            fetch(url, timeout=1)  # any HTTP answer (an app without robots.txt says 404) means it is up
            return True
        except (OSError, http.client.HTTPException):  # refused, reset, TLS not ready, timed out
            return False

    def wait_for(self, url: str, timeout: float = 30) -> "SSProcess":
        """Wait until ``url`` answers over HTTP(S); fail at once if the process exits."""
        wait_until(lambda: self._answers(url), timeout, interval=0.1,
                   what=lambda: f"{url} to answer; the process printed:\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float | None = None) -> int:
        """Send ``sig``, wait up to ``timeout`` for the exit (then kill); the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log is not None:
            self.log.close()
        return self.proc.returncode


class ServerProcess(SSProcess):
    """``python -m ss start`` on a free port (or ``port``), up once it answers HTTP."""

    stop_timeout = 10.0

    def __init__(self, root: Path, env: dict[str, str] | None = None, port: int | None = None):
        self.port = port or free_port()
        super().__init__(root, ["start", "--port", str(self.port)], env,
                         log_path=Path(root) / f"server-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "ServerProcess":
        super().start()
        self.wait_for(self.url + "/robots.txt", timeout)
        return self


class RedisServer(_Child):
    """A ``redis-server`` of the test's own on a spare port (no persistence), optionally with a password."""

    def __init__(self, password: str | None = None, port: int | None = None):
        self.password = password
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        fd, name = tempfile.mkstemp(prefix=f"redis-{self.port}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, **kwargs)

    def answers(self) -> bool:
        try:
            return bool(self.client(socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self, timeout: float = 10) -> "RedisServer":
        args = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode}:\n{self.output()}")
            return self.answers()

        wait_until(up, timeout, what=lambda: f"redis-server on port {self.port} to answer:\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        self._terminate(timeout)

    def restart(self, timeout: float = 10) -> "RedisServer":
        """Stop it and start it again on the same port (with empty data: nothing is persisted)."""
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class RedisProcess(_Child):
    """One redis-server, or a Redis Sentinel (``sentinel=True``), run from a config file in ``folder``
    (replicas and sentinels need theirs: ``extra`` lines are added to it)."""

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
        wait_until(lambda: self.client().ping(), 10, what=f"redis-server on port {self.port} answering",
                   retry_on=(redis.RedisError,))
        return self

    def stop(self) -> None:
        self._terminate(5)
