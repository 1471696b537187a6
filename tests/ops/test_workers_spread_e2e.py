"""--workers 2 on Linux: each worker listens with SO_REUSEPORT, so the kernel spreads sockets evenly;
one scrape of /_ss/metrics adds up every worker (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families

from ss.testing import Client
from tests.conftest import free_port
from tests.tools.conftest import fetch

ACTIONS = """
    import os

    import ss

    class Actions(ss.Actions):
        def pid(self):
            return os.getpid()
"""


def scrape(port: int) -> dict:
    status, _, body = fetch(f"http://127.0.0.1:{port}/_ss/metrics")
    assert status == 200, body
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def poll(port: int, check, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = scrape(port)
        except OSError:  # a socket that was queued on the killed worker's listener is reset
            found = {}
        if found and check(found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.2)


async def test_forty_sockets_spread_over_two_workers_and_one_scrape_sees_both(make_app, ss_process, redis_url):
    prefix = f"spread-{uuid.uuid4().hex[:8]}:"
    root = make_app({"app/server/app.py": ACTIONS,
                     "config/app.py": f"config = {{'log': {{'level': 2}}, 'redis': {{'key_prefix': {prefix!r}}}}}\n"})
    port = free_port()
    server = ss_process(root, ["start", "--workers", "2", "--port", str(port)], env={"SS_REDIS_URL": redis_url})
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    started = time.monotonic()
    url = f"ws://127.0.0.1:{port}/_ss/socket"
    # Wait until both workers serve (the second may still be starting when the first answers).
    deadline = time.monotonic() + 30
    while server.output().count("rolling restart") == 0 and time.monotonic() < deadline:
        pids = set()
        for _ in range(12):
            probe = await Client(url).connect()
            pids.add(await probe.call("app.pid"))
            await probe.close()
        if len(pids) == 2:
            break
    clients = [await Client(url).connect() for _ in range(40)]
    pids = [await client.call("app.pid") for client in clients]
    per_worker = {pid: pids.count(pid) for pid in set(pids)}
    assert len(per_worker) == 2 and all(10 <= n <= 30 for n in per_worker.values()), per_worker

    found = await asyncio.to_thread(
        poll, port, lambda f: f.get(("ss_connections_open", (("transport", "websocket"),))) == 40)
    assert found[("ss_calls_total", (("action", "app.pid"), ("code", "ok")))] >= 40
    # A worker that dies leaves the open-connections sum; its counters stay in the totals.
    victim = max(per_worker, key=per_worker.get)
    calls_before = found[("ss_calls_total", (("action", "app.pid"), ("code", "ok")))]
    await asyncio.sleep(max(0.0, 5.5 - (time.monotonic() - started)))  # past the "died at start" window
    os.kill(victim, signal.SIGKILL)
    survivors = 40 - per_worker[victim]
    found = await asyncio.to_thread(
        poll, port, lambda f: f.get(("ss_connections_open", (("transport", "websocket"),))) == survivors, 20)
    assert found[("ss_calls_total", (("action", "app.pid"), ("code", "ok")))] >= calls_before
    for client in clients:
        await client.close()
    assert server.stop() == 0


def test_workers_refuse_a_port_already_in_use_even_by_another_reuseport_server(make_app, redis_url):
    import socket
    import subprocess
    import sys

    root = make_app({"app/server/app.py": ACTIONS})
    for reuse_port in (False, True):
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # another server that would happily share the port
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        try:
            result = subprocess.run([sys.executable, "-m", "ss", "start", "--workers", "2", "--port", str(port)],
                                    cwd=root, env={**os.environ, "SS_ENV": "development", "SS_REDIS_URL": redis_url},
                                    capture_output=True, text=True, timeout=60)
        finally:
            holder.close()
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"server not started: cannot listen on port {port}" in result.stderr
        assert "starting 2 workers" not in result.stdout
