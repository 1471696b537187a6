"""/_ss/health and /_ss/ready of a real server: 200/503 as its own Redis goes down and comes back,
and readiness turning 503 before the sockets close during a graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from ss.testing import CallFailed, Client
from tests.conftest import free_port
from tests.processes import RedisProcess
from tests.tools.conftest import fetch

ACTIONS = """
    import ss

    class Actions(ss.Actions):
        async def join(self, name):
            await self.session.channel.subscribe(name)
            return True
"""


def probe(port: int, path: str) -> tuple[int, dict]:
    status, headers, body = fetch(f"http://127.0.0.1:{port}{path}")
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
    return status, json.loads(body)


def scrape(port: int, sample: str) -> float:
    """The value of one sample line of /_ss/metrics (0 when absent)."""
    body = fetch(f"http://127.0.0.1:{port}/_ss/metrics")[2].decode()
    line = next((line for line in body.splitlines() if line.startswith(sample + " ")), None)
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


def poll(port: int, path: str, status: int, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got, body = probe(port, path)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"{path} still answers {got} {body}, not {status}"
        time.sleep(0.1)


def start_server(make_app, ss_process, redis: RedisProcess, config: str = "{}"):
    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": f"config = {config}\n"})
    port = free_port()
    server = ss_process(root, ["start", "--port", str(port)], env={"SS_REDIS_URL": redis.url})
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    return server, port


async def test_ready_follows_the_store_down_and_back_while_health_stays_200(make_app, ss_process, redis_procs):
    store = redis_procs()
    server, port = start_server(make_app, ss_process, store)
    assert probe(port, "/_ss/health") == (200, {"status": "ok", "pid": server.proc.pid})
    status, body = probe(port, "/_ss/ready")
    assert status == 200 and body["ready"] is True and body["connections"] == 0
    client = await Client(f"ws://127.0.0.1:{port}/_ss/socket").connect()
    await client.call("app.join", "room")            # a pub/sub subscription: the bus link is up
    assert probe(port, "/_ss/ready")[1]["connections"] == 1

    store.kill()
    body = await asyncio.to_thread(poll, port, "/_ss/ready", 503)
    assert body["ready"] is False and body["reason"].startswith("store not answering")
    with pytest.raises(CallFailed) as failed:                # a call needing the store says so
        await client.call("app.join", "other")
    assert failed.value.code == "store_unavailable"
    assert scrape(port, 'ss_store_errors_total{kind="connection"}') >= 1
    assert scrape(port, 'ss_calls_total{action="app.join",code="store_unavailable"}') == 1
    assert store.url not in json.dumps(body)          # no store address in a public answer
    assert probe(port, "/_ss/health")[0] == 200       # liveness does not depend on the store

    RedisProcess(store.folder.parent, store.port).start()  # the same port again
    body = await asyncio.to_thread(poll, port, "/_ss/ready", 200, 20)
    assert body["ready"] is True
    assert scrape(port, 'ss_store_reconnects_total{link="pubsub"}') == 1   # the pub/sub link came back
    await client.close()
    assert server.stop() == 0


async def test_ready_turns_503_first_during_a_graceful_shutdown(make_app, ss_process, redis_procs):
    store = redis_procs()
    server, port = start_server(make_app, ss_process, store, "{'limits': {'shutdown_delay': 2}}")
    client = await Client(f"ws://127.0.0.1:{port}/_ss/socket").connect()
    assert probe(port, "/_ss/ready")[0] == 200
    server.proc.send_signal(signal.SIGTERM)
    body = await asyncio.to_thread(poll, port, "/_ss/ready", 503, 5)
    assert body["reason"].startswith("draining")
    assert probe(port, "/_ss/health")[0] == 200       # still serving: only readiness changed
    assert not client.closed.done()                   # ... and the socket is still open
    assert await client.call("app.join", "late") is True
    code, _ = await asyncio.wait_for(client.closed, 10)
    assert code == 1012                               # then closed as in every graceful stop
    assert await asyncio.to_thread(server.proc.wait, 20) == 0
    assert "not ready any more" in server.output()


def test_probes_skip_the_app_middleware(make_app, ss_process, redis_procs):
    store = redis_procs()
    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": "config = {}\n",
                     "config/http.py": """
                         def deny(request, response, next):
                             response.set_status(401)
                             response.finish(b"sign in first")

                         middleware = [deny]
                     """})
    port = free_port()
    server = ss_process(root, ["start", "--port", str(port)], env={"SS_REDIS_URL": store.url})
    server.wait_for(f"http://127.0.0.1:{port}/_ss/health")
    assert fetch(f"http://127.0.0.1:{port}/")[0] == 401
    assert probe(port, "/_ss/health")[0] == 200 and probe(port, "/_ss/ready")[0] == 200
