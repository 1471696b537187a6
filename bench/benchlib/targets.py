"""The servers under test: ss (embedded store and Redis) and the three peers.

A target knows how to build its server for a port and which wire protocol the
generator speaks to it. The `column` is where its figures go in the table: the
Redis variants share their plain target's column, in rows marked [redis].
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

from .procs import BENCH, Server, free_port

# ss's own venv (ss, tornado, orjson): the interpreter running the runner,
# which run.sh takes from $PY (the top Makefile's venv).
MAIN_PY = Path(sys.executable)
BENCH_PY = BENCH / ".venv" / "bin" / "python"    # peers only: python-socketio, aiohttp
APP = BENCH / "app"


@dataclass
class Target:
    name: str
    column: str
    proto: str
    redis: bool = False
    scenarios: set = field(default_factory=set)
    #: True: over the target's HTTP transport (ss's fallback, Engine.IO long-polling); rows marked [http]
    http: bool = False

    #: taskset's cores for the server (None: the server core, as every peer)
    cpus: ClassVar[str | None] = None
    #: added to the figure keys of this target's rows ("_2w": --workers 2)
    row_suffix: ClassVar[str] = ""

    def server(self, redis_url: str | None = None, tag: str = "") -> Server:
        port = free_port()
        argv, cwd, env = self.command(port, redis_url)
        if self.cpus:
            return Server(f"{self.name}{tag}", argv, cwd, env, port, cpus=self.cpus)
        return Server(f"{self.name}{tag}", argv, cwd, env, port)

    def command(self, port: int, redis_url: str | None):
        raise NotImplementedError


class SsTarget(Target):
    #: limits.max_write_delay_ms for this target; None keeps the shipped default.
    write_delay_ms: float | None = None
    #: more environment for the bench app (bench/app reads these), per column
    app_env: ClassVar[dict[str, str]] = {}

    def command(self, port, redis_url):
        # Production: no dev logging or live reload on the hot path; what a
        # deployment runs. Redis only through $SS_REDIS_URL.
        env = {"SS_ENV": "production", "PYTHONUNBUFFERED": "1"}
        if self.redis:
            env["SS_REDIS_URL"] = redis_url
        if self.write_delay_ms is not None:
            env["SS_BENCH_WRITE_DELAY_MS"] = str(self.write_delay_ms)  # read by bench/app/config/app.py
        env.update(self.app_env)
        return [str(MAIN_PY), "-m", "ss", "start", "--port", str(port)], APP, env


class SsWorkersTarget(SsTarget):
    """ss with ``--workers 2`` and Redis, the workers allowed on both cores (the generator keeps core 1,
    so it competes with one worker: the figure is what this 2-core machine gets, not 2x one core)."""

    workers = 2
    cpus = "0,1"
    row_suffix = "_2w"

    def command(self, port, redis_url):
        argv, cwd, env = super().command(port, redis_url)
        return argv + ["--workers", str(self.workers)], cwd, env


class SsUnbatchedTarget(SsTarget):
    """ss with write batching off (limits.max_write_delay_ms = 0): every loop tick writes, as the peers do.

    Not a peer: its column shows how much of ss's figure comes from batching writes.
    """

    write_delay_ms = 0


class SsExcludeTarget(SsTarget):
    """ss whose bench broadcasts pass ``exclude=``: shows that an exclusion costs nothing per
    other socket (``SS_BENCH_EXCLUDE=1`` adds this column)."""

    app_env = {"SS_BENCH_APP_EXCLUDE": "1"}  # read by bench/app/app/server/bench.py


class SsUvloopTarget(SsTarget):
    """ss on uvloop (server.event_loop = "uvloop") instead of asyncio's own loop: what the loop
    alone is worth, row by row (``SS_BENCH_UVLOOP=1`` adds this column)."""

    app_env = {"SS_BENCH_EVENT_LOOP": "uvloop"}  # read by bench/app/config/app.py


class SsBaselineTarget(SsTarget):
    """Another checkout of ss (``$SS_BENCH_BASELINE``), run by the same interpreter and app: the
    "before" of a change, measured in the same run as the "after" so the two compare."""

    def command(self, port, redis_url):
        argv, cwd, env = super().command(port, redis_url)
        env["PYTHONPATH"] = BASELINE  # ahead of the installed (editable) ss
        return argv, cwd, env


class TornadoTarget(Target):
    def command(self, port, redis_url):
        return [str(MAIN_PY), str(BENCH / "peers" / "tornado_echo.py"), "--port", str(port)], BENCH, {}


class PySocketIOTarget(Target):
    def command(self, port, redis_url):
        argv = [str(BENCH_PY), str(BENCH / "peers" / "socketio_py.py"), "--port", str(port)]
        if self.redis:
            argv += ["--redis", redis_url]
        return argv, BENCH, {}


class NodeSocketIOTarget(Target):
    def command(self, port, redis_url):
        argv = ["node", str(BENCH / "peers" / "socketio-node" / "server.js"), "--port", str(port)]
        if self.redis:
            argv += ["--redis", redis_url]
        if self.http:
            argv += ["--polling"]  # the peer serves websocket only unless told
        return argv, BENCH, {}


RPC = {"seq", "pipe"}
FANOUT = {"fanout500", "fanout1000"}

TARGETS = [
    SsTarget("ss", "ss", "ss", scenarios=RPC | FANOUT | {"idle", "storm"}),
    SsTarget("ss+redis", "ss", "ss", redis=True, scenarios=FANOUT | {"xuser", "idle"}),
    SsWorkersTarget("ss-2w+redis", "ss", "ss", redis=True, scenarios={"pipe", "fanout500"}),
    SsUnbatchedTarget("ss-unbatched", "ss-unbatched", "ss", scenarios=RPC | FANOUT),
    SsUnbatchedTarget("ss-unbatched+redis", "ss-unbatched", "ss", redis=True, scenarios=FANOUT),
    TornadoTarget("tornado", "tornado", "echo", scenarios=RPC | FANOUT | {"idle", "storm"}),
    PySocketIOTarget("py-socketio", "py-socketio", "sio", scenarios=RPC | FANOUT | {"idle", "storm"}),
    PySocketIOTarget("py-socketio+redis", "py-socketio", "sio", redis=True, scenarios={"xuser"}),
    NodeSocketIOTarget("node-socketio", "node-socketio", "sio", scenarios=RPC | FANOUT | {"idle", "storm"}),
    NodeSocketIOTarget("node-socketio+redis", "node-socketio", "sio", redis=True, scenarios={"xuser"}),
    # [http] rows: ss's HTTP fallback transport beside the peers' long-polling (Engine.IO polling).
    SsTarget("ss-http", "ss", "ss-http", http=True, scenarios=RPC | {"fanout500", "idle"}),
    PySocketIOTarget("py-socketio-poll", "py-socketio", "sio-poll", http=True, scenarios=RPC | {"fanout500", "idle"}),
    NodeSocketIOTarget("node-socketio-poll", "node-socketio", "sio-poll", http=True,
                       scenarios=RPC | {"fanout500", "idle"}),
]

COLUMNS = ["ss", "ss-unbatched", "tornado", "py-socketio", "node-socketio"]

#: ``SS_BENCH_BASELINE=/path/to/an/older/ss/checkout``: adds an ``ss-before`` column (and ratio).
BASELINE = os.environ.get("SS_BENCH_BASELINE")
if BASELINE:
    TARGETS.insert(1, SsBaselineTarget("ss-before", "ss-before", "ss", scenarios=RPC | FANOUT | {"idle", "storm"}))
    TARGETS.insert(2, SsBaselineTarget("ss-before+redis", "ss-before", "ss", redis=True, scenarios=FANOUT | {"xuser"}))
    TARGETS.append(SsBaselineTarget("ss-http-before", "ss-before", "ss-http", http=True, scenarios=RPC | {"fanout500"}))
    COLUMNS.insert(1, "ss-before")
#: ``SS_BENCH_EXCLUDE=1``: adds an ``ss-exclude`` column, fan-out with ``exclude=`` on every broadcast.
if os.environ.get("SS_BENCH_EXCLUDE"):
    TARGETS.insert(1, SsExcludeTarget("ss-exclude", "ss-exclude", "ss", scenarios=FANOUT))
    TARGETS.insert(2, SsExcludeTarget("ss-exclude+redis", "ss-exclude", "ss", redis=True, scenarios=FANOUT))
    COLUMNS.insert(1, "ss-exclude")
#: ``SS_BENCH_UVLOOP=1``: adds an ``ss-uvloop`` column, the same tree on uvloop.
if os.environ.get("SS_BENCH_UVLOOP"):
    TARGETS.insert(1, SsUvloopTarget("ss-uvloop", "ss-uvloop", "ss", scenarios=RPC | FANOUT | {"idle", "storm"}))
    TARGETS.insert(2, SsUvloopTarget("ss-uvloop+redis", "ss-uvloop", "ss", redis=True, scenarios=FANOUT | {"xuser"}))
    TARGETS.append(SsUvloopTarget("ss-http-uvloop", "ss-uvloop", "ss-http", http=True, scenarios=RPC | {"fanout500"}))
    COLUMNS.insert(1, "ss-uvloop")
PEERS = COLUMNS[1:]
