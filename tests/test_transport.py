"""A raw WebSocket client sends every kind of bad message; the socket and server stay healthy."""

import asyncio
import gc
import inspect

import orjson
import pytest
import tornado.websocket

from ss.realtime import compat
from ss.testing import CallFailed, running_app
from tests.waiting import eventually

from .raw_socket import client_frame, open_raw_socket, split_server_frames

# Sockets read straight from the kernel, calls started inline: on asyncio's loop and on uvloop.
pytestmark = pytest.mark.both_loops

ACTIONS = """
import asyncio, ss

MARKS = []

class Actions(ss.Actions):
    def square(self, number):
        return number * number

    async def slow(self, seconds):
        await asyncio.sleep(seconds)
        return seconds

    def session_id(self):
        return self.session.id

    def unserialisable(self):
        return {"f": lambda: 1}

    def mark(self, tag):
        MARKS.append(tag)

    def marks(self):
        return MARKS
"""


@pytest.fixture
async def server(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    async with running_app(root, "development", {**store_overrides, "limits": {"max_frame_bytes": 4096,
                                                                                 "max_pending_calls": 5}}) as running:
        yield running


BAD = [
    ("not json", "bad_json"),
    ("[1, 2, 3]", "bad_message"),
    ('{"type": "call", "id": "bad-1"}', "bad_message"),
    ('{"type": "teleport"}', "unknown_type"),
    ('{"type": "call", "id": "bad-2", "method": "app.__class__", "args": []}', "private_action"),
    ('{"type": "call", "id": "bad-3", "method": "app.__init__.__globals__", "args": []}', "private_action"),
    ('{"type": "call", "id": "bad-4", "method": "app.nope", "args": []}', "unknown_action"),
    ('{"type": "call", "id": "bad-5", "method": "app.square", "args": [1, 2]}', "bad_arguments"),
    ('{"type": "call", "id": "bad-6", "method": "app.square", "args": ["x"]}', "action_failed"),
    ('{"type": "call", "id": "bad-7", "method": "app.square", "args": ' + "[" * 40 + "]" * 40 + "}", "bad_message"),
    ('{"type": "call", "id": "bad-8", "method": "app.unserialisable", "args": []}', "action_failed"),
]


async def test_init_message(server):
    async with server.client() as client:
        assert client.init["type"] == "init" and client.init["env"] == "development"
        assert client.init["api"] == {"app": {"square": 1, "slow": 1, "session_id": 1, "unserialisable": 1,
                                              "mark": 1, "marks": 1}}
        assert "heartbeat_interval" in client.init["config"]


async def test_each_bad_message_gets_its_error_and_the_socket_keeps_working(server):
    async with server.client() as client:
        for frame, code in BAD:
            await client.send(frame)
            if '"id"' in frame and code not in ("bad_message",):
                call_id = orjson.loads(frame)["id"]
                reply = await wait_reply(client, call_id)
            else:
                reply = await client.next_message()
            assert reply["type"] == "error" and reply["error"]["code"] == code, (frame, reply)
            assert reply["error"]["message"]
            assert await client.call("app.square", 25) == 625  # still healthy after each one


async def wait_reply(client, call_id):
    future = asyncio.get_running_loop().create_future()
    client._replies[call_id] = future
    return await asyncio.wait_for(future, 5)


async def test_oversize_frame_closes_with_1009_and_others_are_unaffected(server):
    async with server.client() as bystander, server.client() as client:
        await client.send('{"type":"call","id":1,"method":"app.square","args":["' + "x" * 5000 + '"]}')
        code, _ = await asyncio.wait_for(client.closed, 5)
        assert code == 1009
        assert await bystander.call("app.square", 3) == 9
    async with server.client() as again:
        assert await again.call("app.square", 4) == 16


async def test_slow_call_does_not_block_other_calls_or_connections(server):
    async with server.client() as a, server.client() as b:
        slow = asyncio.ensure_future(a.call("app.slow", 1.0))
        started = asyncio.get_running_loop().time()
        assert await a.call("app.square", 2) == 4
        assert await b.call("app.square", 3) == 9
        assert asyncio.get_running_loop().time() - started < 0.5
        assert await slow == 1.0


async def test_too_many_pending_calls_are_refused(server):
    async with server.client() as client:
        calls = [asyncio.ensure_future(client.call("app.slow", 0.3)) for _ in range(8)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        refused = [r for r in results if isinstance(r, CallFailed)]
        assert len(refused) == 3 and all(r.code == "too_many_calls" for r in refused)
        assert await client.call("app.square", 5) == 25


async def test_session_cookie_selects_the_session(server):
    async with server.client() as first:
        session_id = await first.call("app.session_id")
        assert session_id == first.session_id
    async with server.client(cookie=f"ss_session={session_id}") as second:
        assert await second.call("app.session_id") == session_id
    async with server.client(cookie="ss_session=forged-value") as third:
        assert third.session_id != session_id


async def test_cross_site_origin_is_refused_same_origin_accepted(server):
    with pytest.raises(tornado.websocket.WebSocketClosedError) if False else pytest.raises(Exception) as info:
        await server.client(origin="https://evil.example").connect()
    assert "403" in str(info.value)
    async with server.client(origin=server.url) as client:
        assert await client.call("app.square", 6) == 36


async def test_resume_carries_on_an_inline_started_coroutine():
    from ss.realtime.compat import _resume

    async def work():
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        try:
            await asyncio.get_running_loop().run_in_executor(None, lambda: 1 / 0)
        except ZeroDivisionError:
            return "handled inside"

    coro = work()
    first = coro.send(None)                        # started inline, now waiting on the sleep
    assert await asyncio.ensure_future(_resume(coro, first)) == "handled inside"

    async def forever():
        await asyncio.sleep(3600)

    coro = forever()
    task = asyncio.ensure_future(_resume(coro, coro.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_burst_from_one_socket_does_not_starve_another(server):
    # 300 calls in one write from one socket, then one call from another: the server takes turns,
    # so the quiet socket's call runs long before the burst is through (order seen by the server).
    busy_reader, busy = await open_raw_socket(server.port)
    quiet_reader, quiet = await open_raw_socket(server.port)
    await asyncio.sleep(0.05)                                  # both sockets open and initialised

    def call(call_id, tag):
        return client_frame(0x81, orjson.dumps({"type": "call", "id": call_id, "method": "app.mark", "args": [tag]}))

    busy.write(b"".join(call(i, "busy") for i in range(300)))
    quiet.write(call(1, "quiet"))
    replies, buffer = 0, b""
    while replies < 300:
        payloads, buffer = split_server_frames(buffer + await asyncio.wait_for(busy_reader.read(65536), 5))
        replies += sum(orjson.loads(p).get("type") == "reply" for p in payloads)
    order = await (await server.client().connect()).call("app.marks")
    assert len(order) == 301 and order.count("quiet") == 1
    assert order.index("quiet") < 200, order.index("quiet")
    busy.close()
    quiet.close()


async def test_an_idle_socket_keeps_only_what_it_needs(server):
    # What an open socket holds is multiplied by every idle tab: the 101's response headers and
    # cookie, the parsed request cookies and the task set are dropped once they are no longer used.
    async with server.client() as client:
        assert await client.call("app.slow", 0.01) == 0.01     # waits, so it ran in a task
        await asyncio.sleep(0)
        (connection,) = server.app.connections
        socket = connection.transport
        assert connection.tasks is None and not hasattr(connection, "__dict__")     # ss's state is in slots
        assert "_cookies" not in socket.request.__dict__ and "_new_cookie" not in socket.__dict__
        assert not list(socket._headers.get_all())
        assert "connection" not in socket.__dict__                                  # the handler's too
        assert "_left_in_read" not in socket.ws_connection.__dict__              # also the reader's
        assert socket.request.connection is None and socket.request.server_connection is None  # the upgrade's
        assert socket.ui is None and not socket._transforms
        stream = socket.ws_connection.stream                     # write queues that cost nothing while empty
        assert isinstance(stream._write_futures, compat.LazyDeque) and not stream._write_futures
        assert isinstance(stream._write_buffer._buffers, compat.LazyDeque)   # (a socket that never had to queue)
        assert await client.call("app.square", 3) == 9         # and the socket works as before


async def test_connections_per_ip_are_counted_back_down_on_close(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {**store_overrides, "limits": {"max_connections_per_ip": 2}}
    async with running_app(root, "development", overrides) as running:
        for _ in range(4):
            async with running.client(), running.client() as second:
                assert await second.call("app.square", 2) == 4
            await eventually(lambda: not running.app.connections.per_ip, timeout=30, interval=0.01,
                             what=lambda: f"per-address counts back to nothing ({running.app.connections.per_ip})")
            assert running.app.connections.per_ip == {}


async def test_an_idle_socket_holds_no_task_or_suspended_coroutine(server):
    # Between reads an open socket is a pending read with a callback: no task, no chain of
    # suspended coroutines (the upgrade's handler, the frame loop) kept for the socket's life.
    sockets = [await open_raw_socket(server.port)]   # the first also starts what the app shares (the bus)
    await eventually(lambda: len(server.app.connections) == 1, timeout=5, interval=0.01, what="a socket open")
    await asyncio.sleep(0.05)
    before = asyncio.all_tasks()
    sockets += [await open_raw_socket(server.port) for _ in range(3)]
    await eventually(lambda: len(server.app.connections) == 4, timeout=5, interval=0.01, what="four sockets open")
    await asyncio.sleep(0.05)
    assert not asyncio.all_tasks() - before
    handlers = {c.transport for c in server.app.connections}
    suspended = [o for o in gc.get_objects() if inspect.iscoroutine(o) and inspect.getcoroutinestate(o) ==
                 inspect.CORO_SUSPENDED and any(v in handlers for v in (o.cr_frame.f_locals or {}).values())]
    assert not suspended, [c.__qualname__ for c in suspended]
    for index, (reader, writer) in enumerate(sockets):   # each still answers, and closing is noticed
        writer.write(client_frame(0x81, orjson.dumps({"type": "call", "id": 1, "method": "app.square",
                                                      "args": [index]})))
        replies: list = []
        buffer = b""
        while not any(r.get("type") == "reply" for r in replies):
            payloads, buffer = split_server_frames(buffer + await asyncio.wait_for(reader.read(65536), 5))
            replies += [orjson.loads(p) for p in payloads]
        assert [r["result"] for r in replies if r.get("type") == "reply"] == [index * index]
        writer.close()
    await eventually(lambda: not server.app.connections, timeout=5, interval=0.01, what="every socket closed")
