"""Two instances on one Redis, each request of an HTTP connection to the next one (no sticky sessions)."""

import asyncio
import contextlib
import uuid

import orjson
import pytest

from ss.testing import running_app

from .http_client import HttpClient
from .test_http_transport import ACTIONS


@pytest.fixture
async def pair(make_app, redis_url):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {"redis": {"enabled": True, "url": redis_url, "key_prefix": f"test-{uuid.uuid4().hex[:8]}:"},
                 "limits": {"http_poll_timeout": 2, "http_idle_timeout": 3}}
    async with contextlib.AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_app(root, "development", overrides))
        b = await stack.enter_async_context(running_app(root, "development", overrides))
        yield a, b


@pytest.mark.parametrize("stream,replies", [(False, False), (True, False), (False, True), (True, True)])
async def test_any_instance_answers_every_request(pair, stream, replies):
    a, b = pair
    client = await HttpClient(a.url, bases=[a.url, b.url], stream=stream, replies=replies).open()
    other = await HttpClient(b.url).open()
    try:
        owner = a.app if client.cid in a.app.http_transports.local else b.app
        assert len(owner.connections) >= 1
        results = [(await client.call("app.square", n))["result"] for n in range(1, 9)]
        assert results == [n * n for n in range(1, 9)]
        assert sorted((await client.call("app.runs"))["result"]) == list(range(1, 9))   # each ran once
        # events published on either instance reach the connection once each
        await client.call("app.join", "room")
        await other.call("app.join", "room")
        for n in range(4):
            await other.call("app.shout", "room", f"m{n}")
        got = [(await asyncio.wait_for(client.events.get(), 5))["data"] for _ in range(4)]
        assert got == ["m0", "m1", "m2", "m3"]
        await asyncio.sleep(0.3)
        assert client.events.empty()
        # requests really went to both instances
        assert client._turn > 10
        # (with replies: the POSTs that reached the owner carried their replies back, the others answered with
        # what was queued and the replies took the poll; either way, each arrived once and in order)
        assert not client.waiting
    finally:
        await client.close()
        await other.close()


async def test_when_the_owner_dies_the_client_is_told_to_reconnect(pair):
    a, b = pair
    client = await HttpClient(b.url).open()      # owned by b
    assert client.cid in b.app.http_transports.local
    client._poller.cancel()
    client.bases = [a.url]                       # from now on every request reaches a
    assert (await client.poll_once(stream=False)).code == 200
    await b.server.stop()                        # the owner goes away (its connections are drained: 1012)
    response = await client.poll_once()
    body = orjson.loads(response.body)
    assert response.code == 410 and body["error"]["code"] == "connection_gone"
    assert body["close"]["code"] == 1012         # drained: the browser reconnects at once, elsewhere
    # a fresh connection on the surviving instance works
    fresh = await HttpClient(a.url).open()
    try:
        assert (await fresh.call("app.square", 6))["result"] == 36
    finally:
        await fresh.close()


async def test_a_killed_owner_is_noticed_by_the_other_instance(pair):
    a, b = pair
    client = await HttpClient(b.url).open()
    client._poller.cancel()
    client.bases = [a.url]
    # b dies without draining: its subscription to the connection's topic is gone with it
    await b.app.store.bus.close()
    for _ in range(5):  # Redis forgets the dead subscriber a moment later: a poll or two may still end empty
        response = await client.poll_once()
        if response.code != 200:
            break
    body = orjson.loads(response.body)
    assert response.code == 410 and "instance holding this connection is gone" in body["error"]["message"]
    response = await client.send_raw(b'{"type":"heartbeat"}')
    assert response.code == 410
