"""`python -m ss start --workers 2` with Redis: many clients over both workers, publish.user across
them, graceful shutdown (running calls answer, then 1012) and a rolling restart losing no acknowledged call."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis
from tornado.websocket import WebSocketClosedError

from ss.testing import CallFailed, Client
from tests.conftest import free_port
from tests.waiting import eventually

ACTIONS = """
    import asyncio
    import os

    import ss

    class Actions(ss.Actions):
        def pid(self):
            return os.getpid()

        async def sign_in(self, user_id):
            await self.session.set_user_id(user_id)
            return os.getpid()

        async def notify(self, user_id, text):
            await ss.publish.user(user_id, "ping", {"text": text, "from": os.getpid()})
            return True

        async def record(self, key, value):
            await ss.R.rpush(key, value)
            return value

        async def slow(self, seconds, started):
            await ss.R.rpush(started, os.getpid())   # the test waits for this, not a fixed time
            await asyncio.sleep(seconds)
            return "done"
"""


@pytest.fixture
def workers_app(make_app, redis_url):
    prefix = f"workers-{uuid.uuid4().hex[:8]}:"
    return make_app({"app/server/app.py": ACTIONS,
                     "config/app.py": f"config = {{'log': {{'level': 2}}, 'redis': {{'key_prefix': {prefix!r}}}}}\n"})


@pytest.fixture
def start_workers(ss_process, redis_url):
    def start(root, count: int = 2):
        port = free_port()
        process = ss_process(root, ["start", "--workers", str(count), "--port", str(port)],
                             env={"SS_REDIS_URL": redis_url})
        process.wait_for(f"http://127.0.0.1:{port}/robots.txt")
        process.socket_url = f"ws://127.0.0.1:{port}/_ss/socket"
        return process

    return start


async def connect_over_both(url: str, per_worker: int = 3, attempts: int = 200) -> dict[int, list[Client]]:
    """Open sockets until each of the two workers holds ``per_worker`` (the kernel picks the worker)."""
    by_pid: dict[int, list[Client]] = {}
    spare: list[Client] = []
    for _ in range(attempts):
        client = await Client(url).connect()
        pid = await client.call("app.pid")
        group = by_pid.setdefault(pid, [])
        (group if len(group) < per_worker else spare).append(client)
        if len(by_pid) == 2 and all(len(g) >= per_worker for g in by_pid.values()):
            break
    for client in spare:
        await client.close()
    assert len(by_pid) == 2 and all(len(g) >= per_worker for g in by_pid.values()), \
        f"connections reached {len(by_pid)} worker(s): {[len(g) for g in by_pid.values()]}"
    return by_pid


async def test_publish_user_reaches_users_on_both_workers(workers_app, start_workers):
    server = start_workers(workers_app)
    assert "starting 2 workers" in server.output()
    by_pid = await connect_over_both(server.socket_url)
    clients = [c for group in by_pid.values() for c in group]
    for index, client in enumerate(clients):
        await client.call("app.sign_in", f"user{index}")
    crossed = 0
    for index, client in enumerate(clients):
        sender = clients[(index + 1) % len(clients)]
        await sender.call("app.notify", f"user{index}", f"hello {index}")
        event = await client.next_event("ping", timeout=5)
        assert event["data"]["text"] == f"hello {index}"
        crossed += event["data"]["from"] != await client.call("app.pid")
    assert crossed >= 2                                   # some went from one worker to the other
    for client in clients:
        await client.close()


async def test_sigterm_lets_running_calls_answer_then_closes_with_1012_and_exits_0(workers_app, start_workers,
                                                                                  redis_url):
    server = start_workers(workers_app)
    by_pid = await connect_over_both(server.socket_url, per_worker=2)
    clients = [c for group in by_pid.values() for c in group]
    started = f"started-{uuid.uuid4().hex}"
    calls = [asyncio.ensure_future(c.call("app.slow", 1.5, started, timeout=60)) for c in clients]
    store = redis.Redis.from_url(redis_url)
    await eventually(lambda: store.llen(started) >= len(clients), timeout=30,   # the calls are running on both workers
                     what=server.output)
    assert set(int(pid) for pid in store.lrange(started, 0, -1)) == set(by_pid)
    store.delete(started)
    server.proc.send_signal(signal.SIGTERM)
    assert await asyncio.gather(*calls) == ["done"] * len(clients)
    for client in clients:
        assert (await asyncio.wait_for(client.closed, 10))[0] == 1012
    assert await asyncio.get_running_loop().run_in_executor(None, server.proc.wait, 20) == 0


async def test_a_rolling_restart_loses_no_acknowledged_call(workers_app, start_workers, redis_url):
    server = start_workers(workers_app)
    key = f"acks-{uuid.uuid4().hex}"
    acknowledged: list[str] = []
    reconnects = {"count": 0, "codes": []}
    stop = asyncio.Event()

    async def caller(name: str) -> None:
        client = await Client(server.socket_url).connect()
        seq = 0
        while not stop.is_set():
            value = f"{name}:{seq}"
            try:
                acknowledged.append(await client.call("app.record", key, value))
                seq += 1
            except (ConnectionError, CallFailed, asyncio.TimeoutError, OSError, WebSocketClosedError):
                # Unacknowledged: reconnect (the listening socket never closes) and send it again.
                if client.closed is not None and client.closed.done():
                    reconnects["codes"].append(client.closed.result()[0])
                await client.close()
                reconnects["count"] += 1
                client = await Client(server.socket_url).connect()
        await client.close()

    names = {f"c{i}" for i in range(6)}
    tasks = [asyncio.ensure_future(caller(name)) for name in sorted(names)]

    async def each_caller_acknowledged(since: int) -> None:
        await eventually(lambda: {value.split(":")[0] for value in acknowledged[since:]} == names, timeout=60,
                         what=server.output)

    await each_caller_acknowledged(0)                     # every caller is calling the old workers
    server.proc.send_signal(signal.SIGHUP)
    await eventually(lambda: "rolling restart done" in server.output(), timeout=60, interval=0.2, what=server.output)
    await each_caller_acknowledged(len(acknowledged))     # calls keep flowing on the new workers
    stop.set()
    await asyncio.gather(*tasks)

    stored = redis.Redis.from_url(redis_url).lrange(key, 0, -1)
    stored_values = {v.decode() for v in stored}
    assert acknowledged and set(acknowledged) <= stored_values
    assert reconnects["count"] >= 1 and set(reconnects["codes"]) <= {1012}
    output = server.output()
    assert output.count("rolling restart of 2 workers") == 1 and "did not start" not in output
    redis.Redis.from_url(redis_url).delete(key)


def test_more_than_one_worker_needs_redis(make_app):
    root = make_app({"app/server/app.py": ACTIONS})
    env = {k: v for k, v in os.environ.items() if k != "SS_REDIS_URL"}
    result = subprocess.run([sys.executable, "-m", "ss", "start", "--workers", "2", "--port", str(free_port())],
                            cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: --workers 2 needs Redis, but the app uses embedded")
    assert "redis.enabled" in result.stderr and "SS_REDIS_URL" in result.stderr


async def test_a_dead_worker_is_replaced_and_a_broken_app_stops_them_all(workers_app, start_workers, redis_url):
    server = start_workers(workers_app)
    started = time.monotonic()
    by_pid = await connect_over_both(server.socket_url, per_worker=1)
    for group in by_pid.values():
        for client in group:
            await client.close()
    await asyncio.sleep(max(0.0, 5.5 - (time.monotonic() - started)))   # past the "died at start" window
    victim = next(iter(by_pid))
    os.kill(victim, signal.SIGKILL)
    await eventually(lambda: f"pid {victim}) died" in server.output(), timeout=30, interval=0.2, what=server.output)
    fresh = await connect_over_both(server.socket_url, per_worker=1)   # two workers again, one of them new
    assert victim not in fresh and len(set(fresh) - set(by_pid)) == 1
    for group in fresh.values():
        for client in group:
            await client.close()
    assert server.proc.poll() is None

    (workers_app / "config" / "db.py").write_text("raise RuntimeError('no database')\n")
    port = free_port()
    env = {**os.environ, "SS_ENV": "development", "SS_REDIS_URL": redis_url}
    result = subprocess.run([sys.executable, "-m", "ss", "start", "--workers", "2", "--port", str(port)],
                            cwd=workers_app, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "RuntimeError: no database" in output and "right after starting: stopping all" in output
