"""Graceful shutdown of a single `python -m ss start`: stop accepting, running calls answer,
sockets close with 1012, exit status 0."""

from __future__ import annotations

import asyncio
import signal

from ss.testing import Client
from tests.conftest import free_port
from tests.waiting import eventually

ACTIONS = """
    import asyncio
    import os
    import ss

    class Actions(ss.Actions):
        async def slow(self, gate):
            await ss.publish.broadcast("running", gate)     # the test waits for this, not a fixed time
            while not os.path.exists(gate):                 # runs until the test opens the gate
                await asyncio.sleep(0.02)
            return "done"
"""


async def test_sigterm_finishes_running_calls_then_closes_with_1012(make_app, ss_process, tmp_path):
    # shutdown_timeout well above what a busy machine needs to get through the steps below
    root = make_app({"app/server/app.py": ACTIONS,
                     "config/app.py": "config = {'limits': {'shutdown_timeout': 60}}\n"})
    gate = tmp_path / "gate"
    port = free_port()
    server = ss_process(root, ["start", "--port", str(port)]).wait_for(f"http://127.0.0.1:{port}/robots.txt")
    url = f"ws://127.0.0.1:{port}/_ss/socket"
    first, second = await Client(url).connect(), await Client(url).connect()
    running = asyncio.ensure_future(first.call("app.slow", str(gate), timeout=90))
    await first.next_event("running", timeout=30)          # the call is running on the server
    server.proc.send_signal(signal.SIGTERM)
    # The port closes to new sockets at once: while the call is still running. (Until the server
    # has handled the signal a socket may still open, or be closed right away: try again.)
    async def refused() -> bool:
        try:
            late = await asyncio.wait_for(Client(url).connect(), 5)
        except ConnectionRefusedError:
            return True
        except Exception:
            return False
        await late.close()
        return False

    await eventually(refused, timeout=30, what="the port to refuse new sockets after SIGTERM")
    assert not running.done()
    gate.touch()
    assert await running == "done"                        # the running call still answered
    for client in (first, second):
        assert (await asyncio.wait_for(client.closed, 10))[0] == 1012
    assert await asyncio.get_running_loop().run_in_executor(None, server.proc.wait, 20) == 0
