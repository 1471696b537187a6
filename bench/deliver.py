"""CPU per message of one instance's fan-out to 500 sockets: the router's delivery, nothing else.

    .venv/bin/python bench/deliver.py                       # this checkout
    PYTHONPATH=/path/to/older/checkout .venv/bin/python bench/deliver.py --plain-only

It builds a started app on the embedded store with 500 connections over
transports that drop what they are given, subscribes them to one topic, and
times ``LocalRouter._deliver`` (frame once, queue for each member) followed
by the flusher's writes, per message, for: a plain message; one carrying an
``exclude=`` header naming an id nobody here has (the header is parsed and
looked up, every socket still gets it); and one excluding one member. The
figures are process CPU time, so a busy machine slows them less than wall
clock figures (the end-to-end fan-out rows in bench/README.md are the
measure that counts; this one isolates the path an ``exclude=`` touches).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

MEMBERS = 500
MESSAGES = 2000


class NullTransport:
    name = "bench"
    unread = 0

    def write_frames(self, frames):
        return True

    def close(self, code, reason):
        pass

    def abort(self):
        pass


async def measure(plain_only: bool, rounds: int) -> dict[str, float]:
    from ss.app import App
    from ss.realtime.connection import Connection
    from ss.rpc.request import RequestInfo

    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "config").mkdir()
        app = App.load(Path(root), "production", {"redis": {"enabled": False}})
        await app.start()
        try:
            topic = app.store.key("channel", "room")
            members = []
            for _ in range(MEMBERS):
                connection = Connection(app, NullTransport(), app.sessions.new(), "tab",
                                        RequestInfo("bench", "10.0.0.1", {}, False))
                app.connections.add(connection)
                await app.router.join(topic, connection)
                members.append(connection)
            payload = orjson.dumps({"type": "event", "event": "tick", "data": {"seq": 1, "t": 0.0}, "channel": "room"})
            kinds = {"plain": payload}
            if not plain_only:
                nobody = app.connections.instance + ".0"
                kinds["exclude (an id nobody has)"] = b"!" + nobody.encode() + b"\n" + payload
                kinds["exclude (one member)"] = b"!" + members[0].id.encode() + b"\n" + payload
            deliver, flusher = app.router._deliver, app.flusher
            results: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(rounds):
                for kind, message in kinds.items():
                    started = time.process_time()
                    for _ in range(MESSAGES):
                        deliver(topic, message)
                        flusher._flush()  # the writes the loop would run at the end of the turn
                    results[kind].append((time.process_time() - started) / MESSAGES * 1e6)
            return {kind: statistics.median(values) for kind, values in results.items()}
        finally:
            await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plain-only", action="store_true", help="only the plain message (older checkouts)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.plain_only, args.rounds))
    import ss

    print(f"ss from {Path(ss.__file__).parent.parent}: CPU per message to {MEMBERS} sockets "
          f"(median of {args.rounds} x {MESSAGES})", file=sys.stderr)
    for kind, micros in figures.items():
        print(f"  {kind:<28} {micros:8.1f} us   ({micros * 1000 / MEMBERS:.0f} ns per socket)")


if __name__ == "__main__":
    main()
