"""Redis goes away while clients are connected: the server stays up, errors are clear, pub/sub comes back."""

import asyncio
import logging
import time

import orjson
import pytest

from ss.testing import CallFailed, running_app
from tests.processes import RedisServer
from tests.waiting import eventually

ACTIONS = """
import ss

class Actions(ss.Actions):
    def square(self, number):
        return number * number

    async def bump(self):
        return await ss.R.incr("outage-test")

    def join(self, name):
        self.session.channel.subscribe(name)
        return True

    async def announce(self, name, text):
        await ss.publish.channel(name, "news", text)
        await ss.publish.broadcast("all", text)
        return True
"""


@pytest.fixture
def redis_server():
    with RedisServer() as server:   # a redis-server of the test's own on a spare port, to kill and restart
        yield server


async def test_redis_outage_and_return(make_app, redis_server, caplog):
    caplog.set_level(logging.ERROR, logger="ss")
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {"redis": {"enabled": True, "url": f"redis://127.0.0.1:{redis_server.port}/0"}}
    async with running_app(root, "test", overrides) as app:
        async with app.client() as listener, app.client() as caller:
            await listener.call("app.join", "room")
            assert await caller.call("app.bump") == 1

            redis_server.kill()
            assert await caller.call("app.square", 5) == 25          # needs no Redis: still works
            started = time.monotonic()
            for _ in range(5):
                with pytest.raises(CallFailed) as failed:
                    await caller.call("app.bump")
                assert failed.value.code == "store_unavailable"
                assert f"127.0.0.1:{redis_server.port}" in failed.value.error["message"]
            assert time.monotonic() - started < 10                     # fails fast, not after long retries
            with pytest.raises(CallFailed) as failed:
                await caller.call("app.announce", "room", "lost")
            assert failed.value.code == "store_unavailable"
            assert await listener.call("app.square", 6) == 36          # every socket is still up
            outage_logs = [r for r in caplog.records if "not answering" in r.getMessage()]
            assert 1 <= len(outage_logs) <= 2                          # said once, not once per call

            redis_server.start()                                       # same port, empty data

            async def news_arrives():                                  # pub/sub reconnects with backoff
                try:
                    await caller.call("app.announce", "room", "back")
                    return await listener.next_event("news", timeout=1)
                except (CallFailed, asyncio.TimeoutError):
                    return None

            news = await eventually(news_arrives, timeout=20, interval=0,
                                    what="pub/sub to come back after Redis restarted")
            assert news["data"] == "back" and news["channel"] == "room"
            assert (await listener.next_event("all", timeout=5))["data"] == "back"
            assert await caller.call("app.bump") == 1                  # the new Redis started empty


async def test_http_transport_answers_503_while_redis_is_down(make_app, redis_server):
    from tests.fallback.http_client import HttpClient

    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {"redis": {"enabled": True, "url": f"redis://127.0.0.1:{redis_server.port}/0"}}
    async with running_app(root, "test", overrides) as app:
        client = await HttpClient(app.url).open()
        try:
            assert (await client.call("app.square", 3))["result"] == 9
            redis_server.kill()
            answer = await client.send_raw(b'{"type":"call","id":9,"method":"app.square","args":[4]}', replies=True)
            assert answer.code == 503
            assert orjson.loads(answer.body)["error"]["code"] == "store_unavailable"
            assert (await app.fetch("/api/app/square.json?5")).body == b"25"  # the server is still up
        finally:
            if client._poller is not None:
                client._poller.cancel()
