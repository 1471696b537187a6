"""CPU per call of ss's own code, from a call's text to its reply's frame: no sockets, no loop turns.

    .venv/bin/python bench/call_path.py [--profile]
    PYTHONPATH=/path/to/older/checkout .venv/bin/python bench/call_path.py

A started app (embedded store, production settings, the bench app's actions)
gets ``{"type":"call",...,"method":"app.square"}`` messages on one
:class:`~ss.realtime.connection.Connection` over a transport that keeps
nothing, one at a time as the sequential RPC row sends them. What it times
is everything ss does per call besides the system calls: parse, the replay
table, dispatch, the action, the reply's encoding and frame, the write to
the transport. Process CPU time, median of rounds. ``--profile`` prints the
top entries of a cProfile of the same loop (bench/README.md keeps them).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import time
from pathlib import Path

BENCH_APP = Path(__file__).resolve().parent / "app"
CALLS = 20000


class NullTransport:
    name = "websocket"
    unread = 0

    def __init__(self) -> None:
        self.written = 0

    def write_frames(self, frames):
        self.written += len(frames)
        return True

    def close(self, code, reason):
        pass

    def abort(self):
        pass


async def run(rounds: int, profile: bool) -> tuple[float, str]:
    from ss.app import App
    from ss.realtime.connection import Connection
    from ss.rpc.request import RequestInfo

    app = App.load(BENCH_APP, "production", {"redis": {"enabled": False}})
    await app.start()
    try:
        transport = NullTransport()
        session = app.sessions.new()
        await session.save()
        connection = Connection(app, transport, session, "tab", RequestInfo("websocket", "10.0.0.1", {}, False))
        app.connections.add(connection)
        frames = [('{"type":"call","id":%d,"method":"app.square","args":[%d]}' % (i, i % 100)).encode()
                  for i in range(1, CALLS * (rounds + 1) + 1)]
        receive = connection.receive
        per_call: list[float] = []
        for r in range(rounds):
            batch = frames[r * CALLS:(r + 1) * CALLS]
            started = time.process_time()
            for frame in batch:
                receive(frame)
            per_call.append((time.process_time() - started) / CALLS * 1e6)
        assert transport.written >= CALLS * rounds, "every call was answered inline"
        report = ""
        if profile:
            profiler = cProfile.Profile()
            batch = frames[rounds * CALLS:]
            profiler.enable()
            for frame in batch:
                receive(frame)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            report = out.getvalue()
        return statistics.median(per_call), report
    finally:
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    micros, report = asyncio.run(run(args.rounds, args.profile))
    import ss

    print(f"ss from {Path(ss.__file__).parent.parent}: {micros:.2f} us CPU per call (median of {args.rounds} x {CALLS})")
    if report:
        print(report)


if __name__ == "__main__":
    main()
