"""Processes the runner starts: servers (pinned to core 0), the load generator
(pinned to core 1), a private Redis; and what it reads from /proc about them.

Only processes started here are ever signalled, by their own process group.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
LOADGEN = BENCH / "loadgen" / "main.js"
LOGS = BENCH / "results" / "logs"

SERVER_CPU = "0"
CLIENT_CPU = "1"
CLIENT_BOUND = 0.85  # generator CPU (fraction of its core) above which a figure is marked


class ServerFailed(RuntimeError):
    """A server did not come up; the message ends with the tail of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    """Resident set size of one process, from /proc/<pid>/status VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (utime, stime in /proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def http_status(port: int, path: str = "/", timeout: float = 1.0) -> int | None:
    """The status of GET path, or None when nothing answers yet."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except (OSError, http.client.HTTPException):
        return None


class Server:
    """One server process, pinned to the server core, logging to results/logs/."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict | None = None, port: int | None = None,
                 cpus: str = SERVER_CPU):
        self.name = name
        self.argv = argv
        self.cpus = cpus  # taskset's list: the server core, or "0,1" for --workers 2
        self.cwd = cwd
        self.env = dict(os.environ, **(env or {}))
        self.port = port
        self.proc: subprocess.Popen | None = None
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{name}.log"

    def spawn(self) -> float:
        """Start the process; returns the monotonic time just before it was started."""
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n".encode())
        self._log.flush()
        t0 = time.monotonic()
        # taskset execs the command, so proc.pid is the server itself (for /proc reads).
        self.proc = subprocess.Popen(
            ["taskset", "-c", self.cpus, *self.argv], cwd=self.cwd, env=self.env,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        return t0

    def wait_http(self, path: str = "/", want: Callable[[int], bool] = lambda s: True,
                  timeout: float = 30.0, interval: float = 0.005) -> float:
        """Poll until GET path answers with a status `want` accepts; returns the monotonic time it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"{self.name} exited with {self.proc.returncode}\n{self.log_tail()}")
            status = http_status(self.port, path)
            if status is not None and want(status):
                return time.monotonic()
            time.sleep(interval)
        raise ServerFailed(f"{self.name} not ready on :{self.port}{path} after {timeout:.0f}s\n{self.log_tail()}")

    def start(self, path: str = "/", timeout: float = 30.0) -> "Server":
        self.spawn()
        self.wait_http(path, timeout=timeout, interval=0.05)
        return self

    def pids(self) -> list[int]:
        """The server and its children (the workers of --workers N), for CPU accounting."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [self.pid, *(int(p) for p in f.read().split())]
        except FileNotFoundError:
            return [self.pid]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in text[-lines:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # The server was started in its own session: its group is ours to end
            # (this also reaches helpers it spawned, e.g. a Node asset worker).
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self._log.close()
        self.proc = None

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Redis(Server):
    """A private redis-server on a spare port, so bench traffic (pub/sub channels
    are global to a Redis server) never mixes with anyone else's tests."""

    def __init__(self):
        port = free_port()
        super().__init__("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no"], BENCH, port=port)
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self, path: str = "/", timeout: float = 10.0) -> "Redis":
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"redis-server exited\n{self.log_tail()}")
            if self.command("PING") == "+PONG":
                return self
            time.sleep(0.05)
        raise ServerFailed(f"redis-server not answering\n{self.log_tail()}")

    def command(self, *words: str) -> str | None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(("*%d\r\n" % len(words) + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)).encode())
                return s.recv(256).decode().strip()
        except OSError:
            return None


class LoadgenResult(dict):
    """The generator's result, plus server_cpu measured over its window."""


class LoadgenError(RuntimeError):
    def __init__(self, message: str, not_implemented: bool = False):
        super().__init__(message)
        self.not_implemented = not_implemented


def run_loadgen(args: list[str], server_pids: list[int], on_ready: Callable[[dict], dict] | None = None,
                timeout: float = 300.0) -> LoadgenResult:
    """Run the generator pinned to the client core and follow its phase markers.

    Between "measure_start" and "measure_end" the servers' CPU is sampled
    (fraction of one core); on "ready" `on_ready` runs (e.g. reads RSS) and
    its dict is merged into the result, then the generator is told to finish.
    Raises LoadgenError (with .not_implemented) when the target lacks a feature.
    """
    proc = subprocess.Popen(["taskset", "-c", CLIENT_CPU, "node", str(LOADGEN), *args],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=BENCH)
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    extra: dict = {}
    final: dict | None = None
    cpu0 = t0 = None
    try:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            phase = msg.get("phase")
            if phase == "measure_start":
                cpu0, t0 = cpu_seconds(server_pids), time.monotonic()
            elif phase == "measure_end" and t0 is not None:
                used = cpu_seconds(server_pids) - cpu0
                extra["server_cpu"] = round(used / (time.monotonic() - t0), 3)
                extra["server_cpu_s"] = round(used, 3)
            elif phase == "ready":
                if on_ready:
                    extra.update(on_ready(msg))
                proc.stdin.write("close\n")
                proc.stdin.flush()
            elif "result" in msg or "error" in msg:
                final = msg
        proc.wait(timeout=30)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if final is None:
        err = proc.stderr.read()[-2000:]
        raise LoadgenError(f"loadgen gave no result (exit {proc.returncode}): {err.strip()}")
    if "error" in final:
        raise LoadgenError(final["error"], bool(final.get("not_implemented")))
    result = LoadgenResult(final["result"])
    result.update(extra)
    return result
