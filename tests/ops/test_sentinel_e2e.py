"""Redis Sentinel with real processes: one master, one replica, three sentinels on spare ports. The master
is killed under connected clients: ss finds the promoted replica, subscribes its channels again, answers
store_unavailable only during the switch, and no acknowledged call is lost."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import redis

from ss.testing import CallFailed, Client
from tests.conftest import free_port
from tests.tools.conftest import fetch
from tests.waiting import wait_until

NOT_YET = (redis.RedisError,)  # a server or sentinel still starting or switching

MASTER = "ssmaster"

ACTIONS = """
    import ss

    class Actions(ss.Actions):
        async def record(self, key, value):
            await ss.R.rpush(key, value)
            # Replication is asynchronous: a write the master acknowledged but had not yet sent to
            # its replica when it died is lost in any Redis failover. WAIT makes this one safe.
            await ss.R.wait(1, 2000)
            return value

        async def join(self, name):
            await self.session.channel.subscribe(name)
            return True

        async def tell(self, name, text):
            await ss.publish.channel(name, "told", text)
            return True
"""


@pytest.fixture
def sentinel_setup(redis_procs):
    master = redis_procs()
    replica = redis_procs(extra=[f"replicaof 127.0.0.1 {master.port}"])
    wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", 15, what="replica in sync",
               retry_on=NOT_YET)
    sentinels = [redis_procs(sentinel=True, extra=[
        f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 2",
        f"sentinel down-after-milliseconds {MASTER} 1000",
        f"sentinel failover-timeout {MASTER} 6000",
        f"sentinel parallel-syncs {MASTER} 1",
    ]) for _ in range(3)]

    def all_know_each_other() -> bool:
        for sentinel in sentinels:
            state = sentinel.client().execute_command("SENTINEL", "MASTER", MASTER)
            info = dict(zip(state[::2], state[1::2])) if isinstance(state, list) else state
            info = {(k.decode() if isinstance(k, bytes) else k): v for k, v in info.items()}
            if int(info["num-other-sentinels"]) != 2 or int(info["num-slaves"]) != 1:
                return False
        return True

    wait_until(all_know_each_other, 30, what="the three sentinels seeing each other and the replica",
               retry_on=NOT_YET)
    return master, replica, sentinels


def master_port(sentinel) -> int:
    host, port = sentinel.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
    return int(port)


async def test_the_master_dies_under_connected_clients(make_app, ss_process, sentinel_setup):
    master, replica, sentinels = sentinel_setup
    addresses = [f"127.0.0.1:{s.port}" for s in sentinels]
    config = {"redis": {"sentinel": {"master": MASTER, "addresses": addresses}, "key_prefix": "sentinel-test:"},
              "log": {"level": 2}}
    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": f"config = {config!r}\n"})
    port = free_port()
    server = ss_process(root, ["start", "--port", str(port)])
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    assert f"Redis master '{MASTER}' via Sentinel" in server.output()
    url = f"ws://127.0.0.1:{port}/_ss/socket"
    listener, teller = await Client(url).connect(), await Client(url).connect()
    await listener.call("app.join", "room")
    await listener.call("app.tell", "room", "before")           # the channel works before the failover
    assert (await listener.next_event("told", timeout=5))["data"] == "before"

    key = f"acks-{uuid.uuid4().hex}"
    acknowledged: list[str] = []
    refused: list[str] = []
    stop = asyncio.Event()

    async def caller(name: str) -> None:
        client = await Client(url).connect()
        seq = 0
        while not stop.is_set():
            value = f"{name}:{seq}"
            seq += 1
            try:
                acknowledged.append(await client.call("app.record", key, value, timeout=15))
            except CallFailed as exc:
                refused.append(exc.code)
                await asyncio.sleep(0.1)
        await client.close()

    names = {f"c{i}" for i in range(4)}
    tasks = [asyncio.ensure_future(caller(name)) for name in sorted(names)]

    async def each_caller_acknowledged(since: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while {value.split(":")[0] for value in acknowledged[since:]} != names:
            assert time.monotonic() < deadline, f"refused: {refused[-5:]}\n{server.output()}"
            await asyncio.sleep(0.05)

    await each_caller_acknowledged(0, 15)
    master.kill()                                               # the master dies, calls in flight
    killed_at = len(acknowledged)
    await asyncio.to_thread(wait_until, lambda: master_port(sentinels[0]) == replica.port, 30,
                            what="the sentinels promoting the replica", retry_on=NOT_YET)
    await each_caller_acknowledged(len(acknowledged), 30)      # calls flow again, on the new master
    stop.set()
    await asyncio.gather(*tasks)

    assert set(refused) <= {"store_unavailable"}, refused       # during the switch: only store_unavailable
    stored = {v.decode() for v in replica.client().lrange(f"{key}", 0, -1)}
    assert acknowledged and set(acknowledged) <= stored         # no acknowledged call lost
    assert len(acknowledged) > killed_at

    await teller.call("app.tell", "room", "after")              # the channel was subscribed again
    assert (await listener.next_event("told", timeout=10))["data"] == "after"
    status, _, body = fetch(f"http://127.0.0.1:{port}/_ss/ready")
    assert status == 200 and json.loads(body)["ready"] is True
    status, _, body = fetch(f"http://127.0.0.1:{port}/_ss/metrics")
    assert b'ss_store_reconnects_total{link="failover"} 1.0' in body
    output = server.output()
    assert f"moved from 127.0.0.1:{master.port} to 127.0.0.1:{replica.port}" in output
    for client in (listener, teller):
        await client.close()


def test_a_bad_sentinel_setting_stops_the_start(make_app):
    import os
    import subprocess
    import sys

    config = {"redis": {"sentinel": {"master": MASTER, "addresses": ["nowhere:port"]}}}
    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": f"config = {config!r}\n"})
    result = subprocess.run([sys.executable, "-m", "ss", "start", "--port", str(free_port())], cwd=root,
                            env={**os.environ, "SS_ENV": "development"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "redis.sentinel.addresses: 'nowhere:port' is not host:port" in result.stderr

    config = {"redis": {"sentinel": {"master": MASTER, "addresses": [f"127.0.0.1:{free_port()}"]}}}
    (root / "config" / "app.py").write_text(f"config = {config!r}\n")
    result = subprocess.run([sys.executable, "-m", "ss", "start", "--port", str(free_port())], cwd=root,
                            env={**os.environ, "SS_ENV": "development"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Redis Sentinel could not give a master named '{MASTER}'" in result.stderr
