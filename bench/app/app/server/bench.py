"""Control actions the load generator uses to drive pub/sub benchmarks.

Every peer in bench/peers/ implements the same three, so the scenarios are
identical: broadcast(count, rate, tag), login(uid), send_user(uid, data).
"""

import asyncio
import inspect
import os
import time

import ss

# Publishing runs in background tasks; keep references so they are not
# garbage-collected mid-run (asyncio holds tasks only weakly).
_running: set = set()


async def _maybe_await(value):
    # ss.publish.* and session.set_user_id may be sync or async; accept both.
    if inspect.isawaitable(value):
        return await value
    return value


# bench/run.py's "ss-exclude" column: every broadcast skips the connection that started it.
EXCLUDE = bool(os.environ.get("SS_BENCH_EXCLUDE"))


async def _publish_ticks(count: int, rate: float, tag, exclude=None) -> None:
    start = time.monotonic()
    for i in range(count):
        if rate > 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
        else:
            # Unpaced: still give the loop a turn per message so sockets flush
            # and other work runs, as a real app publishing in a loop would.
            await asyncio.sleep(0)
        # t is the wall clock in ms: the generator subtracts it from its own
        # wall clock on receipt (same machine, same clock).
        data = {"seq": i, "t": time.time() * 1000, "tag": tag}
        if exclude is None:
            await _maybe_await(ss.publish.broadcast("tick", data))
        else:
            await _maybe_await(ss.publish.broadcast("tick", data, exclude=exclude))


class Actions(ss.Actions):
    def broadcast(self, count, rate, tag=0):
        """Publish `count` tick events to everyone at `rate` per second (0: as fast as possible)."""
        exclude = self.connection if EXCLUDE else None
        task = asyncio.get_running_loop().create_task(_publish_ticks(int(count), float(rate), tag, exclude))
        _running.add(task)
        task.add_done_callback(_running.discard)
        return True

    async def login(self, uid):
        """Make this session user `uid`, for publish.user across instances."""
        await _maybe_await(self.session.set_user_id(uid))
        return True

    async def send_user(self, uid, data):
        """Publish `data` as event bench.ping to user `uid`, wherever they are connected."""
        await _maybe_await(ss.publish.user(uid, "bench.ping", data))
        return True
