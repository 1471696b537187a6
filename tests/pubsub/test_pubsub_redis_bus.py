"""The Redis pub/sub bus on its own: confirmed subscriptions, password login, reconnect after a kill."""

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from ss.store import redis_bus
from ss.store.redis_bus import RedisBus
from pubsub_helpers import eventually
from tests.processes import RedisServer


def collector():
    got: asyncio.Queue = asyncio.Queue()
    return got, lambda topic, payload: got.put_nowait((topic, payload))


def own(name: str) -> str:
    """A channel name no other test session on the shared Redis uses (channels are server-wide)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_subscribe_is_confirmed_so_the_next_publish_arrives(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    bus = RedisBus(client)
    got, handler = collector()
    topics = [own(f"t-confirm-{i}") for i in range(20)]
    try:
        for i, topic in enumerate(topics):  # publish right after each subscribe: never lost
            await bus.subscribe(topic, handler)
            await client.publish(topic, b"x%d" % i)
            assert await asyncio.wait_for(got.get(), 10) == (topic, b"x%d" % i)
        await bus.unsubscribe(topics[0], handler)
        await client.publish(topics[0], b"late")
        await client.publish(topics[1], b"still")
        assert await asyncio.wait_for(got.get(), 10) == (topics[1], b"still")
    finally:
        await bus.close()
        await client.aclose()


async def test_reconnects_and_resubscribes_after_the_connection_is_killed(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    bus = RedisBus(client, max_backoff=0.2)
    got, handler = collector()
    topic = own("t-kill")
    try:
        await bus.subscribe(topic, handler)
        host, port = bus._writer.get_extra_info("sockname")[:2]  # only ours: Redis may be shared
        assert await client.client_kill_filter(addr=f"{host}:{port}") == 1

        async def came_back() -> bool:  # publishes are lost while the bus is away; it must come back by itself
            await client.publish(topic, b"back?")
            try:
                assert await asyncio.wait_for(got.get(), 0.3) == (topic, b"back?")
                return True
            except asyncio.TimeoutError:
                return False

        await eventually(came_back, timeout=30, interval=0, what="the bus to reconnect")
    finally:
        await bus.close()
        await client.aclose()


@pytest.fixture
def password_redis():
    with RedisServer(password="s3cret") as server:
        yield server.port


async def test_password_login(password_redis):
    client = aioredis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{password_redis}/0")
    bus = RedisBus(client)
    got, handler = collector()
    try:
        await bus.subscribe("t-auth", handler)
        await client.publish("t-auth", b"ok")
        assert await asyncio.wait_for(got.get(), 2) == ("t-auth", b"ok")
    finally:
        await bus.close()
        await client.aclose()


async def test_wrong_password_does_not_hang_and_is_logged(password_redis, caplog, monkeypatch):
    monkeypatch.setattr(redis_bus, "CONFIRM_TIMEOUT", 0.5)
    client = aioredis.Redis.from_url(f"redis://:wrong@127.0.0.1:{password_redis}/0")
    bus = RedisBus(client)
    try:
        # subscribe() gives up waiting after CONFIRM_TIMEOUT (the topic stays wanted) instead of hanging
        await asyncio.wait_for(bus.subscribe("t-auth", lambda topic, payload: None), 30)
        await eventually(lambda: any("refused the pub/sub login" in r.getMessage() for r in caplog.records),
                         timeout=30)
    finally:
        await bus.close()
        await client.aclose()


async def test_close_stops_a_reader_that_swallowed_the_cancel(redis_url, monkeypatch):
    # The reader waits with asyncio.wait_for, which on Python 3.11 returns the data instead of raising
    # when the cancel comes in the turn the read completes: close() must still stop it.
    monkeypatch.setattr(redis_bus, "CONFIRM_TIMEOUT", 0.1)
    client = aioredis.Redis.from_url(redis_url)
    bus = RedisBus(client)
    reading = asyncio.Event()

    async def read_swallowing_one_cancel(reader, writer):
        swallowed = False
        while True:
            try:
                reading.set()
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed = True

    bus._read = read_swallowing_one_cancel
    try:
        await bus.subscribe(own("t-close"), lambda topic, payload: None)
        await asyncio.wait_for(reading.wait(), 30)
        await asyncio.wait_for(bus.close(), 10)
        assert bus._task is None
    finally:
        await client.aclose()


class _ControlledReader:
    """A stream whose reads end when the test says (what the bus reader waits on)."""

    def __init__(self):
        self.pending: asyncio.Future | None = None

    async def read(self, size):
        self.pending = asyncio.get_running_loop().create_future()
        return await self.pending


class _NoWriter:
    def write(self, data):
        pass


async def test_one_cancel_stops_the_reader_even_when_a_read_ends_in_that_turn():
    # On Python 3.11 asyncio.wait_for returned the read's data instead of the cancellation when
    # both came in one loop turn, so the reader read on and a single cancel (an event loop
    # shutting down) never stopped it. Every offset of the cancel against the read is tried.
    bus = RedisBus(aioredis.Redis())
    for delay in range(4):
        reader = _ControlledReader()
        task = asyncio.ensure_future(bus._read(reader, _NoWriter()))
        while reader.pending is None:
            await asyncio.sleep(0)
        reader.pending.set_result(b"+PONG\r\n")
        for _ in range(delay):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.5)
        assert done, f"a cancel {delay} turns after the read ended did not stop the reader"
