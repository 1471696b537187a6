"""ss's hot path really runs: bulk frame reads, direct socket writes, inline call starts (ss/realtime/compat.py)."""

import asyncio

import pytest

from ss.protocol import frames
from ss.realtime import compat
from ss.testing import running_app

from ..raw_socket import open_raw_socket, pipelined_squares

# Sockets read straight from the kernel, calls started inline: on asyncio's loop and on uvloop.
pytestmark = pytest.mark.both_loops


async def test_a_burst_is_read_in_bulk_written_directly_and_started_inline(make_app, monkeypatch):
    feeds, sends, tasks = [], [], []
    real_feed = frames.FrameReader.feed
    monkeypatch.setattr(frames.FrameReader, "feed", lambda self, data: feeds.append(len(data)) or real_feed(self, data))
    root = make_app({"app/server/app.py": "import ss\nclass Actions(ss.Actions):\n    def square(self, n):\n"
                                          "        return n * n\n"})
    async with running_app(root, "test") as app:
        reader, writer = await open_raw_socket(app.port)
        (connection,) = app.app.connections
        handler = connection.transport
        assert isinstance(handler.ws_connection, compat.BulkReadProtocol)   # frames read by ss, not Tornado
        assert handler._plain_tcp                                            # writes go straight to the socket
        stream = handler.ws_connection.stream
        buffered = []
        real_write, real_write_frames = stream.write, handler.write_frames
        monkeypatch.setattr(stream, "write", lambda data: buffered.append(len(data)) or real_write(data))
        monkeypatch.setattr(handler, "write_frames", lambda f: sends.append(len(f)) or real_write_frames(f))
        loop = asyncio.get_running_loop()
        real_create_task = loop.create_task
        monkeypatch.setattr(loop, "create_task", lambda *a, **k: tasks.append(a) or real_create_task(*a, **k))
        feeds.clear()
        assert await pipelined_squares(reader, writer, 50) == {i: i * i for i in range(50)}
        assert 1 <= len(feeds) < 10            # 50 calls arrived in a few reads, not 150 awaited ones
        assert 1 <= len(sends) < 50 and sum(sends) >= 50   # replies (and the init) went out together...
        assert not buffered                                 # ...straight to the socket, not through IOStream
        assert not [t for t in tasks if "_run" in repr(t[0])]   # every call started inline: none needed a task
        writer.close()


async def test_a_closed_socket_leaves_no_garbage_cycle_behind(make_app):
    # A storm of closing sockets must not hand the collector an exception, traceback and
    # frames per socket: the end of the stream is read as a value, never raised.
    import gc

    root = make_app({"app/server/app.py": "import ss\nclass Actions(ss.Actions):\n    def square(self, n):\n"
                                          "        return n * n\n"})
    async with running_app(root, "test") as app:
        reader, writer = await open_raw_socket(app.port)
        (connection,) = app.app.connections
        assert await pipelined_squares(reader, writer, 3) == {0: 0, 1: 1, 2: 4}
        gc.collect()
        gc.disable()
        flags = gc.get_debug()
        try:
            gc.set_debug(gc.DEBUG_SAVEALL)
            writer.close()
            for _ in range(200):
                if not app.app.connections:
                    break
                await asyncio.sleep(0.01)
            assert not app.app.connections
            await asyncio.sleep(0.05)
            del connection
            gc.collect()
            cycles = [o for o in gc.garbage if isinstance(o, BaseException) or type(o).__name__ == "frame"]
            described = sorted({f"{type(o).__name__}: {getattr(o, 'f_code', o)!r}"[:120] for o in cycles})
            assert not [d for d in described if "StreamClosed" in d or "compat.py" in d], described
        finally:
            gc.set_debug(flags)
            gc.garbage.clear()
            gc.enable()


async def test_a_plain_socket_is_read_straight_from_the_kernel_not_through_iostream(make_app, monkeypatch):
    # After the upgrade, a plain TCP socket's frames are read by ss from the socket when the loop
    # says it is readable: no IOStream read (its future, buffer copies, extra loop turn) per message.
    root = make_app({"app/server/app.py": "import ss\nclass Actions(ss.Actions):\n    def square(self, n):\n"
                                          "        return n * n\n"})
    async with running_app(root, "test") as app:
        reader, writer = await open_raw_socket(app.port)
        (connection,) = app.app.connections
        stream = connection.transport.ws_connection.stream
        reads = []
        real_read_bytes = stream.read_bytes
        monkeypatch.setattr(stream, "read_bytes", lambda *a, **k: reads.append(a) or real_read_bytes(*a, **k))
        for _ in range(20):  # one call at a time, as a tab waiting for each reply does
            assert await pipelined_squares(reader, writer, 1) == {0: 0}
        assert await pipelined_squares(reader, writer, 50) == {i: i * i for i in range(50)}
        assert reads == []
        writer.close()
        for _ in range(200):
            if not app.app.connections:
                break
            await asyncio.sleep(0.01)
        assert not app.app.connections          # the end of the stream is still seen
        assert stream.closed()


async def test_frames_sent_with_the_upgrade_request_are_not_lost(make_app):
    # A client may write its first frames right behind the upgrade request, in the same packet:
    # Tornado has them buffered when ss takes over reading, and they must be answered first.
    import orjson

    from ..raw_socket import client_frame, split_server_frames

    root = make_app({"app/server/app.py": "import ss\nclass Actions(ss.Actions):\n    def square(self, n):\n"
                                          "        return n * n\n"})
    async with running_app(root, "test") as app:
        reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
        calls = b"".join(client_frame(0x81, orjson.dumps({"type": "call", "id": i, "method": "app.square",
                                                             "args": [i]})) for i in range(5))
        writer.write(b"GET /_ss/socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" + calls)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head[:100]
        replies, buffer = {}, b""
        while len(replies) < 5:
            payloads, buffer = split_server_frames(buffer + await asyncio.wait_for(reader.read(65536), 5))
            for message in map(orjson.loads, payloads):
                if message.get("type") == "reply":
                    replies[message["id"]] = message["result"]
        assert replies == {i: i * i for i in range(5)}
        assert await pipelined_squares(reader, writer, 3) == {0: 0, 1: 1, 2: 4}   # and reading goes on after them
        writer.close()


async def test_a_plain_action_is_answered_without_a_coroutine(make_app, monkeypatch):
    # A plain `def` action finishes as it is called: its call needs no coroutine, no context switch
    # into one and no StopIteration to read its result (most calls). `async def` actions still
    # start at once, in a coroutine that carries on in a task when they wait.
    import types

    root = make_app({"app/server/app.py": "import asyncio, ss\nclass Actions(ss.Actions):\n"
                                          "    def square(self, n):\n        return n * n\n"
                                          "    async def slow_square(self, n):\n"
                                          "        await asyncio.sleep(0.01)\n        return n * n\n"})
    async with running_app(root, "test") as app:
        reader, writer = await open_raw_socket(app.port)
        started = []
        real_run_inline = compat.run_inline

        def run_inline(coro, *args):
            assert isinstance(coro, types.CoroutineType)
            started.append(coro.cr_code.co_qualname)
            return real_run_inline(coro, *args)

        monkeypatch.setattr(compat, "run_inline", run_inline)
        for _ in range(5):
            assert await pipelined_squares(reader, writer, 1) == {0: 0}
        assert started == []
        other_reader, other_writer = await open_raw_socket(app.port)   # a new session: call id 0 is not a retry
        assert await pipelined_squares(other_reader, other_writer, 2, method="app.slow_square") == {0: 0, 1: 1}
        assert started == ["Connection._finish"]   # started inline (the second, behind it, starts in a task)
        writer.close()
        other_writer.close()
