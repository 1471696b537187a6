"""The HTTP fallback transport, in process: the same messages as the socket, over open/poll/send."""

import asyncio

import orjson
import pytest

from ss.testing import running_app

from .http_client import HttpClient

ACTIONS = """
import asyncio, ss

RUNS = []

class Actions(ss.Actions):
    def square(self, number):
        RUNS.append(number)
        return number * number

    def runs(self):
        return RUNS

    async def slow(self, seconds):
        await asyncio.sleep(seconds)
        return seconds

    def join(self, name):
        self.session.channel.subscribe(name)
        return True

    async def shout(self, name, text):
        await ss.publish.channel(name, "shout", text)
        return True

    async def shout_many(self, name, count):
        for n in range(count):
            await ss.publish.channel(name, "shout", f"m{n}")
            await asyncio.sleep(0.001)
        return True

    async def login(self, uid):
        await self.session.set_user_id(uid)
        return uid

    def transport(self):
        return self.request.transport
"""


@pytest.fixture
async def server(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {**store_overrides, "limits": {"max_frame_bytes": 4096, "http_poll_timeout": 2,
                                                "http_idle_timeout": 3}}
    async with running_app(root, "development", overrides) as running:
        yield running


@pytest.mark.parametrize("stream", [False, True])
async def test_calls_and_init_over_http(server, stream):
    client = await HttpClient(server.url, stream=stream).open()
    try:
        assert client.init["api"]["app"]["square"] == 1
        assert client.init["config"]["transport"]["fallback"] is True
        assert (await client.call("app.square", 7)) == {"type": "reply", "id": 1, "result": 49}
        assert (await client.call("app.transport"))["result"] == "http"
        # a batch of calls in one POST: every one answered, in order of the ids
        client._next = 10
        futures = {i: asyncio.get_running_loop().create_future() for i in range(11, 15)}
        client.replies.update(futures)
        await client.send(*({"type": "call", "id": i, "method": "app.square", "args": [i]} for i in futures))
        results = [(await asyncio.wait_for(f, 5))["result"] for f in futures.values()]
        assert results == [i * i for i in futures]
    finally:
        await client.close()


async def test_channel_events_reach_http_and_socket_clients(server):
    client = await HttpClient(server.url).open()
    try:
        assert (await client.call("app.join", "room"))["result"] is True
        async with server.client() as ws:
            await ws.call("app.join", "room")
            await ws.call("app.shout", "room", "hello")
            assert (await ws.next_event("shout"))["data"] == "hello"
        event = await asyncio.wait_for(client.events.get(), 5)
        assert event["event"] == "shout" and event["data"] == "hello" and event["channel"] == "room"
    finally:
        await client.close()


async def test_bad_messages_get_error_replies_and_the_connection_keeps_working(server):
    client = await HttpClient(server.url).open()
    try:
        response = await client.send_raw(b"not json\n[1]")
        assert response.code == 204
        first = await asyncio.wait_for(client.messages.get(), 5)
        second = await asyncio.wait_for(client.messages.get(), 5)
        assert (first["error"]["code"], second["error"]["code"]) == ("bad_json", "bad_message")
        assert (await client.call("app.square", 3))["result"] == 9
    finally:
        await client.close()


async def test_wrong_secret_unknown_connection_and_missing_parts_are_refused(server):
    client = await HttpClient(server.url).open()
    try:
        response = await client.send_raw(orjson.dumps({"type": "call", "id": 1, "method": "app.square",
                                                       "args": [5]}), secret="x" * 32)
        assert response.code == 403 and orjson.loads(response.body)["error"]["code"] == "bad_token"
        response = await client.poll_once(secret="y" * 32)
        assert response.code == 403
        response = await client.send_raw(b'{"type":"heartbeat"}', cid="nobody.1")
        body = orjson.loads(response.body)
        assert response.code == 410 and body["error"]["code"] == "connection_gone"
        assert "open a new one" in body["error"]["message"]
        response = await client.fetch("/_ss/http/poll?c=" + client.cid)
        assert response.code == 400 and "X-SS-Secret" in orjson.loads(response.body)["error"]["message"]
        response = await client.fetch("/_ss/http/open", "POST", b"")
        assert response.code == 400 and "X-SS-Transport" in orjson.loads(response.body)["error"]["message"]
        assert "Set-Cookie" not in response.headers
        response = await client.send_raw(b"x" * (4096 * 8 + 1))
        assert response.code == 413 and orjson.loads(response.body)["error"]["code"] == "too_big"
        # nothing of that ran, and the connection still works
        assert (await client.call("app.runs"))["result"] == []
    finally:
        await client.close()


async def test_foreign_origin_is_refused_without_a_cookie(server):
    response = await HttpClient(server.url, origin="https://evil.example").fetch(
        "/_ss/http/open?tab=t", "POST", b"", {"X-SS-Transport": "http"})
    assert response.code == 403 and orjson.loads(response.body)["error"]["code"] == "origin_refused"
    assert "Set-Cookie" not in response.headers


async def test_an_idle_connection_is_closed_and_cleaned_up(server):
    client = await HttpClient(server.url).open()
    await client.call("app.join", "room")
    client._poller.cancel()  # the tab went away without a word
    assert len(server.app.connections) == 1
    for _ in range(200):  # idle after poll timeout + 5 s, noticed within a third of that
        await asyncio.sleep(0.1)
        if len(server.app.connections) == 0:
            break
    assert len(server.app.connections) == 0
    response = await client.poll_once()
    assert response.code == 410
    assert orjson.loads(response.body)["close"]["code"] == 1006


async def test_server_close_code_reaches_the_next_poll(server):
    client = await HttpClient(server.url).open()
    connection = next(iter(server.app.connections))
    connection.close(4001, "session changed")
    code, body = await asyncio.wait_for(client.gone, 5)
    assert code == 410 and body["close"] == {"code": 4001, "reason": "session changed"}
    await asyncio.sleep(0.05)
    assert len(server.app.connections) == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_a_newer_poll_takes_over_and_messages_are_not_split(server, stream):
    client = await HttpClient(server.url).open()
    try:
        client._poller.cancel()
        await asyncio.sleep(0.1)
        older = asyncio.ensure_future(client.poll_once(stream=stream))
        await asyncio.sleep(0.2)
        newer = asyncio.ensure_future(client.poll_once(stream=stream))
        old_response = await asyncio.wait_for(older, 5)
        assert old_response.code == 200 and old_response.body == (b"\n" if stream else b"")  # a stream's first line
        await client.send({"type": "call", "id": "a", "method": "app.square", "args": [4]})
        response = await asyncio.wait_for(newer, 5)
        number, reply = response.body.strip().split(b"\n")[:2]
        assert number == b"#1"                                          # the init was 0
        assert orjson.loads(reply)["result"] == 16
    finally:
        await client.close()


async def test_live_reload_messages_reach_http_connections(server):
    client = await HttpClient(server.url).open()
    try:
        server.app.send_to_all({"type": "css", "href": "/_ss/assets/app.css?2"})
        message = await asyncio.wait_for(client.messages.get(), 5)
        assert message == {"type": "css", "href": "/_ss/assets/app.css?2"}
    finally:
        await client.close()


async def test_rate_limit_applies_over_http(make_app):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {"redis": {"enabled": False}, "limiter": {"enabled": True, "websockets": {"rps": 2}}}
    async with running_app(root, "development", overrides) as server:
        client = await HttpClient(server.url).open()
        try:
            futures = {i: asyncio.get_running_loop().create_future() for i in range(1, 9)}
            client.replies.update(futures)
            await client.send(*({"type": "call", "id": i, "method": "app.square", "args": [i]} for i in futures))
            answers = [await asyncio.wait_for(f, 5) for f in futures.values()]
            codes = [a["error"]["code"] for a in answers if a["type"] == "error"]
            assert codes and set(codes) == {"rate_limited"}
            assert answers[0]["result"] == 1
        finally:
            await client.close()


async def test_the_transport_works_through_the_apps_middleware(make_app):
    root = make_app({"app/server/app.py": ACTIONS, "config/http.py": """
        SEEN = []

        def count(request, response, next):
            SEEN.append(request.path)
            next()

        middleware = [count]
        """})
    async with running_app(root, "development", {"redis": {"enabled": False}}) as server:
        client = await HttpClient(server.url).open()
        try:
            assert (await client.call("app.square", 11))["result"] == 121
            response = await client.send_raw(b"x" * (1 << 24))
            assert response.code == 413
        finally:
            await client.close()


async def test_a_call_retried_on_a_new_http_connection_runs_once(server):
    first = await HttpClient(server.url).open("tab=tabA")
    reply = await first.call("app.square", 5)
    await first.close()
    again = await HttpClient(server.url, cookie=first.cookie).open("tab=tabA")   # the page reconnected
    try:
        future = asyncio.get_running_loop().create_future()
        again.replies[1] = future
        await again.send({"type": "call", "id": 1, "method": "app.square", "args": [5]})   # the same call
        assert await asyncio.wait_for(future, 5) == reply
        again._next = 1  # ids are unique for the page load
        assert (await again.call("app.runs"))["result"] == [5]
    finally:
        await again.close()


async def test_a_dropped_poll_ends_at_once_and_is_no_sign_of_life(make_app):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {"redis": {"enabled": False}, "limits": {"http_poll_timeout": 20}}
    async with running_app(root, "development", overrides) as server:
        client = await HttpClient(server.url).open()
        client._poller.cancel()
        entry = server.app.http_transports.queues._entries[client.cid]
        await asyncio.sleep(0.1)
        seen_before = entry.seen
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET /_ss/http/poll?c={client.cid}&stream=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"X-SS-Secret: {client.secret}\r\n\r\n".encode())
        await writer.drain()
        for _ in range(50):
            await asyncio.sleep(0.02)
            if len(entry.listeners) == 1 and entry.seen > seen_before:
                break
        writer.close()                     # the tab closed: its poll's TCP connection is gone
        seen_at_start = entry.seen
        for _ in range(50):
            await asyncio.sleep(0.02)
            if not entry.listeners:
                break
        assert not entry.listeners         # the poll ended now, not 20 s later
        assert entry.seen == seen_at_start  # and did not keep the connection alive


@pytest.mark.parametrize("stream", [False, True])
async def test_a_post_asking_for_replies_carries_those_ready_by_its_answer(server, stream):
    client = await HttpClient(server.url, stream=stream, replies=True).open()
    try:
        assert (await client.call("app.square", 7))["result"] == 49
        assert (await client.call("app.slow", 0.001))["result"] == 0.001   # async, within the short wait
        assert client.answered_by_post == 2
        response = await client.send_raw(orjson.dumps({"type": "call", "id": 99, "method": "app.square",
                                                       "args": [3]}))
        assert response.code == 200 and response.headers["Content-Type"].startswith("application/x-ndjson")
        assert int(response.headers["X-SS-Seq"]) == 3                   # init, two replies, then this one
        assert orjson.loads(response.body) == {"type": "reply", "id": 99, "result": 9}
        client.delivered += 1
        # a call slower than the wait: the POST answers with nothing, the reply comes by the poll
        response = await client.send_raw(orjson.dumps({"type": "call", "id": 100, "method": "app.slow",
                                                       "args": [0.3]}))
        assert response.code == 204
        future = client.replies[100] = asyncio.get_running_loop().create_future()
        assert (await asyncio.wait_for(future, 5))["result"] == 0.3
        assert client.answered_by_post == 2
    finally:
        await client.close()


@pytest.mark.parametrize("stream", [False, True])
async def test_every_poll_batch_says_the_number_of_its_first_message(server, stream):
    """Poll messages are numbered like POST answers (a line #N before each batch), so a client merges both."""
    client = await HttpClient(server.url, replies=True).open()          # the init came by a poll: number 0
    client._poller.cancel()
    try:
        assert (await client.call("app.square", 7))["result"] == 49     # number 1, in the POST's answer
        response = await client.send_raw(orjson.dumps({"type": "call", "id": 50, "method": "app.slow",
                                                       "args": [0.2]}))
        assert response.code == 204                                      # slower than the POST waits
        response = await client.poll_once(stream=stream)
        assert response.code == 200
        lines = response.body.split(b"\n")
        if stream:
            assert lines[0] == b""                                       # the stream's first (empty) line
            lines = lines[1:]
        assert lines[0] == b"#2"
        assert orjson.loads(lines[1]) == {"type": "reply", "id": 50, "result": 0.2}
    finally:
        await client.close()


@pytest.mark.parametrize("stream", [False, True])
async def test_messages_split_between_polls_and_post_answers_arrive_once_each_in_order(server, stream):
    client = await HttpClient(server.url, stream=stream, replies=True).open()
    other = await HttpClient(server.url).open("tab=t2")
    try:
        await client.call("app.join", "room")
        shouting = asyncio.ensure_future(other.call("app.shout_many", "room", 30))
        results = [(await client.call("app.square", n))["result"] for n in range(30)]
        await shouting
        assert results == [n * n for n in range(30)]
        got = [(await asyncio.wait_for(client.events.get(), 5))["data"] for _ in range(30)]
        assert got == [f"m{n}" for n in range(30)]
        await asyncio.sleep(0.3)
        assert client.events.empty() and not client.waiting and not client.gone.done()
        assert 0 < client.answered_by_post < client.delivered - 1   # both carried some (the init took a poll)
    finally:
        await client.close()
        await other.close()


async def test_a_streamed_poll_starts_with_an_empty_line_at_once(server):
    """So that a browser behind a proxy that holds responses back notices (and long-polls)."""
    client = await HttpClient(server.url).open()
    client._poller.cancel()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET /_ss/http/poll?c={client.cid}&stream=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"X-SS-Secret: {client.secret}\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1)   # the poll lasts 2 s: this is at once
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\n\r\n"), 1) == b"1\r\n\n\r\n"
        writer.close()
    finally:
        await client.close()
