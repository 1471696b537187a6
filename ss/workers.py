"""``python -m ss start --workers N``: N server processes sharing one port, coordinated through Redis.

On Linux each worker binds the port itself with SO_REUSEPORT, so the kernel
spreads new connections evenly over the workers' own sockets (with one shared
socket, whichever worker woke first took a whole burst: 9 of 10 browsers on
one worker). The parent holds the port bound but not listening, so "port in
use" shows before any fork and the port is never free during a rolling
restart. Elsewhere the parent binds once and the workers share its socket. Sessions, pub/sub and users online already live in
Redis, which is why more than one worker needs it: with the embedded store each
process would have its own sessions and a message published in one would never
reach sockets of another.

The parent only supervises:

- SIGTERM / SIGINT: every worker shuts down gracefully (running calls finish,
  sockets close with 1012 so browsers reconnect), then the parent exits 0.
- SIGHUP: rolling restart. For each worker, a new one is started and, once it
  serves, the old one is stopped gracefully. The listening socket never closes,
  so no connection is refused during the restart.
- A worker that dies is replaced; one that dies right after starting (a broken
  app) stops everything with exit status 1.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
import typing
from typing import Callable
from .errors import StartupError

from . import metrics

__all__ = ["WorkersError", "run_workers"]

if typing.TYPE_CHECKING:  # for annotations only
    from .app import App

log = logging.getLogger("ss")

#: a worker exiting sooner than this after its start counts as "cannot start": no endless respawning
MIN_UPTIME = 5.0
#: seconds a new worker gets to start serving during a rolling restart
READY_TIMEOUT = 60.0


class WorkersError(StartupError):
    """More than one worker cannot run as configured; the message says what to change."""


def check_workers(count: int, store_shared: bool, store_description: str) -> None:
    """Raise WorkersError unless ``count`` workers can share the app's store."""
    if count < 1:
        raise WorkersError(f"--workers must be 1 or more, not {count}")
    if count > 1 and not store_shared:
        raise WorkersError(
            f"--workers {count} needs Redis, but the app uses {store_description}: every worker would "
            "have its own sessions and pub/sub, so a message published in one would never reach browsers "
            "connected to another. Set redis.enabled in config/app.py (or SS_REDIS_URL=redis://host:port/db), "
            "or run one worker.")


class _Worker:
    def __init__(self, pid: int, ready_fd: int, index: int):
        self.pid = pid
        self.ready_fd = ready_fd
        self.index = index
        self.started = time.monotonic()
        self.ready = False
        self.stopping = False


class Supervisor:
    """Forks and watches the workers; ``child_main(index, ready)`` runs in each (and never returns)."""

    def __init__(self, count: int, child_main: Callable[[int, Callable[[], None]], int]):
        self.count = count
        self.child_main = child_main
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self.restart_requested = False
        self.failed = False

    def spawn(self, index: int) -> _Worker:
        """Fork worker number ``index``; in the child, run ``child_main`` and exit with its status."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)  # the worker's own loop installs its handlers

            def ready() -> None:
                os.write(write_fd, b"1")
                os.close(write_fd)

            code = 1
            try:
                code = self.child_main(index, ready)
            except BaseException:  # whatever happens, never fall back into the parent's code
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write_fd)
        worker = _Worker(pid, read_fd, index)
        self.workers[pid] = worker
        return worker

    def _signal(self, signum: int, frame) -> None:
        if signum == signal.SIGHUP:
            self.restart_requested = True
            return
        self.stopping = True
        for worker in list(self.workers.values()):
            self._kill(worker, signal.SIGTERM)

    @staticmethod
    def _kill(worker: _Worker, signum: int) -> None:
        try:
            os.kill(worker.pid, signum)
        except ProcessLookupError:
            pass

    def _reap(self) -> None:
        """Collect exited workers; replace those that died unasked."""
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            os.close(worker.ready_fd)
            metrics.worker_exited(pid)  # its live gauges (connections open) leave the sums
            code = os.waitstatus_to_exitcode(status)
            if self.stopping or worker.stopping:
                # -SIGTERM: a worker still starting (no handler of its own yet) ends at once; not a failure.
                if code not in (0, -signal.SIGTERM):
                    self.failed = True
                    log.error("worker %d (pid %d) exited with status %d while stopping", worker.index, pid, code)
            elif time.monotonic() - worker.started < MIN_UPTIME:
                log.error("worker %d (pid %d) exited with status %d right after starting: stopping all "
                          "(see its error above)", worker.index, pid, code)
                self.failed = True
                self._signal(signal.SIGTERM, None)
            else:
                log.error("worker %d (pid %d) died (status %d): starting a new one", worker.index, pid, code)
                self.spawn(worker.index)

    def _wait_ready(self, worker: _Worker, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            readable, _, _ = select.select([worker.ready_fd], [], [], 0.2)
            if readable:
                worker.ready = os.read(worker.ready_fd, 1) == b"1"
                return worker.ready
            self._reap()
            if worker.pid not in self.workers:
                return False
        return False

    def rolling_restart(self) -> None:
        """Replace every worker, one at a time, each only once its successor serves."""
        log.info("rolling restart of %d workers", len(self.workers))
        for old in list(self.workers.values()):
            if self.stopping:
                return
            new = self.spawn(old.index)
            if not self._wait_ready(new, READY_TIMEOUT):
                log.error("the new worker %d did not start: keeping the old one", old.index)
                new.stopping = True
                self._kill(new, signal.SIGTERM)
                continue
            old.stopping = True
            self._kill(old, signal.SIGTERM)
        log.info("rolling restart done")

    def run(self) -> int:
        """Start the workers and supervise them until they have all stopped; the exit status."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._signal)
        for index in range(self.count):
            self.spawn(index)
        while self.workers:
            if self.restart_requested and not self.stopping:
                self.restart_requested = False
                self.rolling_restart()
                continue
            self._reap()
            # Polling rather than a blocking waitpid: Python resumes an interrupted waitpid
            # after a signal handler runs, so a SIGHUP would wait for the next worker exit.
            time.sleep(0.1)
        return 1 if self.failed else 0


def run_workers(count: int, child_main: Callable[[int, Callable[[], None]], int]) -> int:
    """Fork ``count`` workers running ``child_main(index, ready)`` and supervise them; the exit status.

    ``ready()`` must be called by the worker once it serves (rolling restarts wait for it).
    Bind the listening sockets before calling this, so every worker inherits them.
    """
    return Supervisor(count, child_main).run()


def worker_main(load_app: Callable[[], App], listeners, log_level: int,
                log_format: str = "text", reserved: list | None = None) -> Callable[[int, Callable[[], None]], int]:
    """The ``child_main`` of ``python -m ss start``: a fresh App per worker.

    ``listeners``: the shared sockets bound before forking, or a function binding this
    worker's own (SO_REUSEPORT); ``reserved``: the parent's non-listening port holders,
    closed in the worker.
    """

    def main(index: int, ready: Callable[[], None]) -> int:
        from . import event_loop, logs
        from .serving import serve

        logs.configure(log_level, fmt=log_format)
        for sock in reserved or ():
            sock.close()
        app = load_app()  # after the fork: no store connection or event loop is shared with the parent
        own = listeners() if callable(listeners) else listeners
        event_loop.run(serve(app, listeners=own, quiet=index > 0, ready=lambda server: ready()),
                       app.config.server.event_loop)
        return 0

    return main
