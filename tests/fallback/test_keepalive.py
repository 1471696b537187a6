"""POSTs of the HTTP transport on one keep-alive connection (ss/realtime/http_keepalive.py).

A browser sends its POSTs one after another on one connection. After the first,
ss reads that connection's POSTs itself; everything else on it still reaches
Tornado with the same checks (host, body size) and the same answers.
"""

import asyncio
import contextlib
import ssl
import types

import orjson
import pytest

from ss.realtime.http_transport import hub_of
from ss.testing import running_app

from .http_client import HttpClient
from .test_http_transport import ACTIONS


@pytest.fixture
async def server(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    overrides = {**store_overrides, "limits": {"max_frame_bytes": 4096, "http_poll_timeout": 2},
                 "http": {"header_timeout": 1.5}}
    async with running_app(root, "development", overrides) as running:
        yield running


class KeepAlive:
    """One keep-alive HTTP/1.1 connection, requests written by hand, one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, port: int, tls: bool = False) -> "KeepAlive":
        context = None
        if tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed in tests
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        return cls(reader, writer, f"127.0.0.1:{port}")

    def write(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    async def response(self) -> tuple[int, dict, bytes]:
        """(status, headers with lower-case names, body) of the next response on the connection."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), 5) if length else b""
        return status, headers, body

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        self.write(method, path, body, headers)
        return await self.response()

    async def closed_by_server(self, within: float) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(1), within) == b""
        except (ConnectionError, asyncio.TimeoutError):
            return False

    def close(self) -> None:
        self.writer.close()


def call(number: int, value: int) -> bytes:
    return orjson.dumps({"type": "call", "id": number, "method": "app.square", "args": [value]})


async def post(connection: KeepAlive, client: HttpClient, body: bytes, secret: str | None = None,
               headers: dict | None = None):
    return await connection.request("POST", f"/_ss/http/send?c={client.cid}&replies=1", body,
                                    {"X-SS-Secret": secret or client.secret, "Content-Type": "text/plain",
                                     **(headers or {})})


def replies_of(body: bytes) -> dict:
    messages = [orjson.loads(line) for line in body.split(b"\n") if line.strip()]
    return {m["id"]: m["result"] for m in messages if m.get("type") == "reply"}


async def replies(connection: KeepAlive, client: HttpClient, number: int, value: int,
                  method: str = "app.square") -> dict:
    """The replies POST answers carry (asking again until call ``number``'s is there): the call
    is sent on ``connection``, so its reply comes in a POST answer rather than to ``client``'s poll."""
    message = orjson.dumps({"type": "call", "id": number, "method": method, "args": [] if value is None else [value]})
    status, headers, body = await post(connection, client, message)
    got = replies_of(body) if status == 200 else {}
    for _ in range(50):
        if number in got:
            return got
        await asyncio.sleep(0.02)
        status, headers, body = await post(connection, client, b"")
        got.update(replies_of(body) if status == 200 else {})
    return got


async def result(server, client: HttpClient, number: int, method: str, value=None):
    """The result of one call sent on a new keep-alive connection."""
    connection = await KeepAlive.open(server.port)
    try:
        return (await replies(connection, client, number, value, method))[number]
    finally:
        connection.close()


@contextlib.asynccontextmanager
async def taken_over(server):
    """A client on ``server`` and a keep-alive connection the server took over (its first POST answered)."""
    client = await HttpClient(server.url).open()
    connection = await KeepAlive.open(server.port)
    try:
        await replies(connection, client, 1, 2)
        yield client, connection
    finally:
        connection.close()
        await client.close()


@contextlib.asynccontextmanager
async def taken_over_with(make_app, store_overrides, **http):
    """The same on a server of its own with these ``http`` settings."""
    overrides = {**store_overrides, "http": http}
    async with running_app(make_app({"app/server/app.py": ACTIONS}), "development", overrides) as server:
        async with taken_over(server) as (client, connection):
            yield server, client, connection


async def test_the_posts_of_one_connection_are_all_answered(server):
    client = await HttpClient(server.url).open()
    connection = await KeepAlive.open(server.port)
    try:
        for number in range(1, 6):
            assert (await replies(connection, client, number, number + 1))[number] == (number + 1) ** 2
        assert len(hub_of(server.app).keepalive) == 1  # read by ss after the first POST
        # the answers carry what Tornado's would: no Server header, nosniff, no caching
        status, headers, body = await post(connection, client, b"")
        assert status in (200, 204) and "server" not in headers
        assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    finally:
        connection.close()
        await client.close()


async def test_bad_input_on_a_taken_over_connection_gets_the_same_clear_answers(server):
    client = await HttpClient(server.url).open()
    other = await HttpClient(server.url).open()
    connection = await KeepAlive.open(server.port)
    try:
        await replies(connection, client, 1, 2)
        status, _, body = await post(connection, client, b"", secret=other.secret)
        assert status == 403 and orjson.loads(body)["error"]["code"] == "bad_token"
        status, _, body = await connection.request("POST", "/_ss/http/send?c=nope&replies=1", b"x",
                                                   {"X-SS-Secret": "s" * 20})
        assert status == 410 and orjson.loads(body)["error"]["code"] == "connection_gone"
        status, _, body = await connection.request("POST", f"/_ss/http/send?c={client.cid}", b"x")
        assert status == 400 and orjson.loads(body)["error"]["code"] == "bad_message"
        # bad JSON is an error message to the connection, as on a socket; the POST itself is taken
        status, _, body = await post(connection, client, b"{nope")
        assert status in (200, 204)
        assert (await replies(connection, client, 2, 3))[2] == 9  # the connection still works
    finally:
        connection.close()
        await asyncio.gather(client.close(), other.close())


async def test_other_requests_on_the_connection_go_to_tornado_and_it_stays_usable(server):
    async with taken_over(server) as (client, connection):
        status, _, body = await connection.request("GET", "/api/app/square.json?5")
        assert (status, body) == (200, b"25")
        # ...and the connection's next POSTs are read by ss again
        assert (await replies(connection, client, 2, 4))[2] == 16
        assert len(hub_of(server.app).keepalive) == 1


async def test_another_host_on_a_taken_over_connection_is_checked_by_the_guard(server):
    async with taken_over(server) as (client, connection):
        connection.host = "evil.example"
        status, _, body = await post(connection, client, call(2, 7))
        assert status == 400 and orjson.loads(body)["error"]["code"] == "bad_host"
        assert await result(server, client, 3, "app.runs") == [2]  # call 2 (square of 7) did not run


async def test_an_oversize_post_gets_413_too_big(server):
    async with taken_over(server) as (client, connection):
        limit = hub_of(server.app).max_request
        head = (f"POST /_ss/http/send?c={client.cid} HTTP/1.1\r\nHost: {connection.host}\r\n"
                f"X-SS-Secret: {client.secret}\r\nContent-Length: {limit + 1}\r\n\r\n")
        connection.writer.write(head.encode())
        status, _, body = await connection.response()
        assert status == 413 and orjson.loads(body)["error"]["code"] == "too_big"
        assert await connection.closed_by_server(3)
        assert await result(server, client, 2, "app.square", 6) == 36  # the HTTP connection itself is fine


async def test_an_idle_taken_over_connection_is_closed_after_the_header_timeout(server):
    async with taken_over(server) as (client, connection):
        assert len(hub_of(server.app).keepalive) == 1
        assert await connection.closed_by_server(4)  # http.header_timeout is 1.5 s here
        await asyncio.sleep(0.05)
        assert not hub_of(server.app).keepalive


async def test_a_body_that_stops_arriving_closes_the_connection(make_app, store_overrides):
    async with taken_over_with(make_app, store_overrides, body_timeout=1) as (server, client, connection):
        head = (f"POST /_ss/http/send?c={client.cid}&replies=1 HTTP/1.1\r\nHost: {connection.host}\r\n"
                f"X-SS-Secret: {client.secret}\r\nContent-Length: 100\r\n\r\n")
        connection.writer.write(head.encode() + b"{")
        assert await connection.closed_by_server(4)
        assert await result(server, client, 2, "app.square", 6) == 36


async def test_headers_over_the_limit_close_the_connection(make_app, store_overrides):
    async with taken_over_with(make_app, store_overrides, max_header_bytes=2048) as (_, client, connection):
        connection.write("POST", f"/_ss/http/send?c={client.cid}", b"", {"X-Padding": "p" * 4096})
        assert await connection.closed_by_server(4)


async def test_malformed_requests_are_handed_to_tornado(server):
    async with taken_over(server) as (client, connection):
        connection.writer.write(f"POST /_ss/http/send?c={client.cid} HTTP/1.1\r\nHost: {connection.host}\r\n"
                                f"X-SS-Secret: {client.secret}\r\nContent-Length: x\r\n\r\n".encode())
        status, _, _ = await connection.response()
        assert status == 400


async def test_stopping_the_server_closes_taken_over_connections(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    async with running_app(root, "development", store_overrides) as server:
        client = await HttpClient(server.url).open()
        connection = await KeepAlive.open(server.port)
        await replies(connection, client, 1, 2)
        assert len(hub_of(server.app).keepalive) == 1
        await client.close()
    try:
        assert await connection.closed_by_server(3)
    finally:
        connection.close()


async def test_posts_over_tls_on_one_connection(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    async with running_app(root, "development", {**store_overrides, "https": {"enabled": True, "port": 0}}) as server:
        connection = await KeepAlive.open(server.port, tls=True)
        try:
            status, _, body = await connection.request("POST", "/_ss/http/open?tab=t1", b"", {"X-SS-Transport": "http"})
            assert status == 200
            opened = orjson.loads(body)
            client = types.SimpleNamespace(cid=opened["connection"], secret=opened["secret"])
            for number in range(1, 4):
                assert (await replies(connection, client, number, number))[number] == number * number
            assert len(hub_of(server.app).keepalive) == 1
            status, _, body = await connection.request("GET", "/api/app/square.json?5")
            assert (status, body) == (200, b"25")
            assert (await replies(connection, client, 4, 4))[4] == 16
        finally:
            connection.close()
