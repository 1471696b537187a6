#!/usr/bin/env python3
"""Where an idle socket's memory and a handshake's CPU go, inside one ss process.

Runs the bench app (``bench/app``, production) in this process and opens N
sockets at it with the load generator's ``idle`` scenario (``loadgen/main.js``,
no cookies: every handshake creates a session, as a first visit does).

    .venv/bin/python bench/sockets_profile.py mem [--clients 5000] [--proto ss|ss-http]
    .venv/bin/python bench/sockets_profile.py cpu [--clients 5000] [--top 25]

``mem``: tracemalloc snapshots before and after the N sockets (after a 50-socket
warm-up), grouped by the line that allocated, and by the object types found
alive per socket (gc); ``cpu``: cProfile over the N handshakes, top functions by
own time and by cumulative time. Both print what they saw; nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import sys
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LOADGEN = BENCH / "loadgen" / "main.js"


async def open_idle(port: int, proto: str, clients: int) -> tuple[asyncio.subprocess.Process, float]:
    """Start the generator's idle scenario; return it (holding its sockets) and the seconds it took."""
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []  # this process runs on core 0
    gen = await asyncio.create_subprocess_exec(
        *pin, "node", str(LOADGEN), "--proto", proto, "--url", f"http://127.0.0.1:{port}", "--scenario", "idle",
        "--clients", str(clients), "--hold", "600", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert gen.stdout is not None
    while True:
        line = await gen.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator ended before its sockets were open (exit {await gen.wait()})")
        msg = json.loads(line)
        if msg.get("phase") == "ready":
            return gen, float(msg["open_seconds"])
        if "error" in msg:
            raise RuntimeError(msg["error"])


async def release(gen: asyncio.subprocess.Process) -> None:
    assert gen.stdin is not None
    gen.stdin.write(b"go\n")
    await gen.stdin.drain()
    await gen.wait()
    await asyncio.sleep(0.5)


def type_counts() -> collections.Counter:
    gc.collect()
    return collections.Counter(type(o).__name__ for o in gc.get_objects())


async def main(o) -> None:
    os.environ.setdefault("SS_ENV", "production")
    from ss.app import App
    from ss.serving import Server

    app = App.load(BENCH / "app", "production")
    server = Server(app, 0, "127.0.0.1")
    await server.start()
    port = server.port
    try:
        gen, _ = await open_idle(port, o.proto, 50)  # warm-up: code paths, caches, first-use allocations
        await release(gen)
        if o.mode == "mem":
            tracemalloc.start(o.frames)
            types0 = type_counts()
            before = tracemalloc.take_snapshot()
            gen, seconds = await open_idle(port, o.proto, o.clients)
            await asyncio.sleep(1.0)
            gc.collect()
            after = tracemalloc.take_snapshot()
            types1 = type_counts()
            await release(gen)
            tracemalloc.stop()
            stats = after.compare_to(before, "traceback" if o.frames > 1 else "lineno")
            total = sum(s.size_diff for s in stats)
            print(f"{o.clients} sockets ({o.proto}) opened in {seconds:.2f} s; Python heap +{total / 1024:.0f} KB = "
                  f"{total / o.clients:.0f} B per socket (tracemalloc: the kernel's and libc's share is not here)")
            for s in stats[:o.top]:
                if s.size_diff <= 0:
                    continue
                frames = s.traceback.format()[-2 * min(o.frames, 3):] if o.frames > 1 else [str(s.traceback[0])]
                where = " <- ".join(f.strip() for f in frames[::-2][:3])
                print(f"  {s.size_diff / o.clients:7.0f} B/socket  {s.count_diff / o.clients:5.2f} blocks  "
                      f"{where[:220]}")
            print("objects alive per socket (gc-tracked types, after - before):")
            for name, n in (types1 - types0).most_common(o.top):
                print(f"  {n / o.clients:6.2f}  {name}")
        else:
            profile = cProfile.Profile()
            profile.enable()
            gen, seconds = await open_idle(port, o.proto, o.clients)
            profile.disable()
            await release(gen)
            print(f"{o.clients} handshakes ({o.proto}) in {seconds:.2f} s under cProfile")
            if os.environ.get("SS_PROFILE_DUMP"):  # for pstats' callers/callees views
                profile.dump_stats(os.environ["SS_PROFILE_DUMP"])
            for key in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats(key).print_stats(o.top)
                text = out.getvalue()
                print(f"--- by {key}")
                print(text[text.find("ncalls"):].rstrip())
    finally:
        await server.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["mem", "cpu"])
    p.add_argument("--clients", type=int, default=5000)
    p.add_argument("--proto", default="ss", choices=["ss", "ss-http"])
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--frames", type=int, default=1, help="tracemalloc frames per allocation (mem)")
    opts = p.parse_args()
    sys.path.insert(0, str(BENCH.parent))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # as bench/run.py pins servers: core 0 here, the generator on core 1
    asyncio.run(main(opts))
