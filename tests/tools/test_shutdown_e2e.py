"""Graceful shutdown of a single `python -m ss start`: stop accepting, running calls answer,
sockets close with 1012, exit status 0."""

from __future__ import annotations

import asyncio
import signal

from ss.testing import Client
from tests.conftest import free_port

ACTIONS = """
    import asyncio
    import ss

    class Actions(ss.Actions):
        async def slow(self, seconds):
            await asyncio.sleep(seconds)
            return "done"
"""


async def test_sigterm_finishes_running_calls_then_closes_with_1012(make_app, ss_process):
    root = make_app({"app/server/app.py": ACTIONS})
    port = free_port()
    server = ss_process(root, ["start", "--port", str(port)]).wait_for(f"http://127.0.0.1:{port}/robots.txt")
    url = f"ws://127.0.0.1:{port}/_ss/socket"
    first, second = await Client(url).connect(), await Client(url).connect()
    running = asyncio.ensure_future(first.call("app.slow", 1.0))
    await asyncio.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    try:                                                  # the port is closed to new sockets at once
        await asyncio.wait_for(Client(url).connect(), 2)
        refused = False
    except (ConnectionError, OSError, asyncio.TimeoutError):
        refused = True
    assert refused
    assert await running == "done"                        # the running call still answered
    for client in (first, second):
        assert (await asyncio.wait_for(client.closed, 10))[0] == 1012
    assert await asyncio.get_running_loop().run_in_executor(None, server.proc.wait, 20) == 0
