"""Hostile input over a raw WebSocket and HTTP: each case gets its documented answer, the server stays healthy.

The number of cases run is printed (pytest -s) and asserted, so a shrinking suite is noticed.
"""

import asyncio

import orjson
import pytest

from ss.testing import running_app

from ..raw_socket import pipelined_squares, client_frame, open_raw_socket, read_until_closed

# Sockets read straight from the kernel, calls started inline: on asyncio's loop and on uvloop.
pytestmark = pytest.mark.both_loops

ACTIONS = """
import ss

class Actions(ss.Actions):
    def square(self, number):
        return number * number

    def whoami(self):
        return self.session.user_id
"""

DEEP = "[" * 100 + "]" * 100

# (frame, expected error code or "close:<code>")
SOCKET_CASES = [
    ("not json at all", "bad_json"),
    ("{\"type\": \"call\", \"id\": 1, ", "bad_json"),
    (b"\xc3\x28 invalid utf-8", "close:1007"),     # text frame with invalid UTF-8: closed with 1007
    (b"\xc3\x28 binary garbage", "binary:bad_json"),
    ("", "bad_json"),
    ("null", "bad_message"),
    ("42", "bad_message"),
    ("[{\"type\": \"call\"}]", "bad_message"),
    ("{}", "bad_message"),
    ('{"type": null}', "bad_message"),
    ('{"type": "eval", "code": "1+1"}', "unknown_type"),
    ('{"type": "reply", "id": 1, "result": 2}', "unknown_type"),
    ('{"type": "call", "id": {"x": 1}, "method": "app.square"}', "bad_message"),
    ('{"type": "call", "id": "h1", "method": 5}', "bad_message"),
    ('{"type": "call", "id": "h2", "method": ""}', "bad_message"),
    ('{"type": "call", "id": "h3", "method": "app.square", "args": {"0": 5}}', "bad_message"),
    ('{"type": "call", "id": "h4", "method": "app.square", "args": ' + DEEP + "}", "bad_message"),
    ('{"type": "call", "id": "h5", "method": "app.__class__", "args": []}', "private_action"),
    ('{"type": "call", "id": "h6", "method": "app.square.__globals__", "args": []}', "private_action"),
    ('{"type": "call", "id": "h7", "method": "__import__.os", "args": []}', "private_action"),
    ('{"type": "call", "id": "h8", "method": "app._Actions__x", "args": []}', "private_action"),
    ('{"type": "call", "id": "h9", "method": "os.system", "args": ["id"]}', "unknown_action"),
    ('{"type": "call", "id": "h10", "method": "app.square.real", "args": []}', "unknown_action"),
    ('{"type": "call", "id": "h11", "method": "app.square", "args": []}', "bad_arguments"),
    ('{"type": "call", "id": "h12", "method": "app.square", "args": [1, 2, 3]}', "bad_arguments"),
    ('{"type": "call", "id": "h13", "method": "app.square", "args": [{"a": 1}]}', "action_failed"),
    ('{"type": "recover", "streams": "all"}', "bad_message"),
    ('{"type": "call", "id": "h14", "method": "app.square", "args": ["' + "x" * 70000 + '"]}', "close:1009"),
]

HTTP_CASES = [
    ("/../../../etc/passwd", 404), ("/%2e%2e/%2e%2e/etc/passwd", 404), ("/..%2f..%2fetc%2fpasswd", 404),
    ("/%252e%252e/etc/passwd", 404), ("/public/../config/app.py", 404), ("/.git/config", 404),
    ("/_ss/assets/../../config/app.py", 404), ("/_ss/assets/%2e%2e/%2e%2e/config/app.py", 404),
    ("/_ss/assets/..%2f..%2fconfig%2fapp.py", 404), ("/_ss/assets/app/server/app.py", 404),
    ("/api/../config/app.py", 404), ("/api/app/__class__.json", 404), ("/api/app/square.json?%ZZ", 500),
    ("/api/app/square.json?" + "%5B" * 200, 500), ("/api/app/..%2f..%2fsquare.json", 404),
    ("/api/app/square.json?__proto__=1", 500), ("/%00", 404), ("/api/%00.json", 404),
]

# (cookie header, status): a forged or broken session cookie is ignored (a new session), control
# characters in a header are refused by the HTTP parser.
BAD_COOKIES = [("ss_session=", 200), ("ss_session=../../etc", 200), ("ss_session=" + "A" * 4000, 200),
               ("ss_session=\x00\x01", 400), ('ss_session="quoted"', 200), ("ss_session=aaaa; ss_session=bbbb", 200)]

BAD_ORIGINS = ["https://evil.example", "null", "http://127.0.0.1.evil.example", "file://"]


@pytest.fixture
async def server(make_app):
    root = make_app({"app/server/app.py": ACTIONS, "config/app.py": "config = {}\n"})
    async with running_app(root, "production", {"redis": {"enabled": False},
                                                "limits": {"max_frame_bytes": 65536}}) as running:
        yield running


async def healthy(server):
    async with server.client() as client:
        assert await client.call("app.square", 3) == 9
    assert (await server.fetch("/api/app/square.json?4")).body == b"16"


async def test_hostile_input(server):
    cases = 0
    client = await server.client().connect()
    try:
        for frame, expected in SOCKET_CASES:
            binary = expected.startswith("binary:")
            expected = expected.removeprefix("binary:")
            await client.send(frame, binary=binary)
            if expected.startswith("close:"):
                code, _ = await asyncio.wait_for(client.closed, 5)
                assert expected == "close:any" or code == int(expected[6:]), (frame[:60], code)
                client = await server.client().connect()
            else:
                try:
                    reply = await next_error(client)
                except asyncio.TimeoutError:
                    raise AssertionError(f"no answer to {frame[:80]!r}") from None
                assert reply["error"]["code"] == expected, (frame[:60], reply)
                assert "Traceback" not in orjson.dumps(reply).decode()
                assert await client.call("app.square", 2) == 4
            cases += 1
    finally:
        await client.close()
    await healthy(server)

    for path, status in HTTP_CASES:
        response = await server.fetch(path)
        assert response.code == status, (path, response.code, response.body[:200])
        assert b"Traceback" not in response.body and b"config = {}" not in response.body
        cases += 1
    await healthy(server)

    for cookie, status in BAD_COOKIES:
        page = await server.fetch("/api/app/whoami.json", headers={"Cookie": cookie})
        assert page.code == status, (cookie, page.code)
        if status == 200:
            assert page.body == b"null"
            async with server.client(cookie=cookie) as client:
                assert len(client.session_id) == 32 and client.session_id not in cookie
        cases += 1

    for origin in BAD_ORIGINS:
        with pytest.raises(Exception, match="403"):
            await server.client(origin=origin).connect()
        cases += 1

    cases += await raw_tcp_garbage(server)
    await healthy(server)
    total = len(SOCKET_CASES) + len(HTTP_CASES) + len(BAD_COOKIES) + len(BAD_ORIGINS) + 3
    print(f"\nhostile input: {cases} cases answered as documented; server healthy after each group")
    assert cases == total


async def next_error(client):
    # Replies to ids the client did not register itself arrive as plain messages.
    return await client.next_message(timeout=5)


async def raw_tcp_garbage(server):
    """Three malformed handshakes straight over TCP: each is refused, nothing crashes."""
    requests = [
        b"GET /_ss/socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50,
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for raw in requests:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(raw)
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(200), 5)
        except (ConnectionError, asyncio.TimeoutError):
            answer = b""
        assert not answer.startswith(b"HTTP/1.1 101")
        writer.close()
    return len(requests)


BAD_FRAMES = [
    ("unmasked frame", client_frame(0x81, b"{}", masked=False)),
    ("reserved bit without an extension", client_frame(0xC1, b"{}")),
    ("continuation with nothing to continue", client_frame(0x80, b"{}")),
    ("ping longer than 125 bytes", client_frame(0x89, b"p" * 200)),
    ("fragmented ping", client_frame(0x09, b"p")),
    ("unknown opcode", client_frame(0x83, b"{}")),
    ("new message inside a fragmented one", client_frame(0x01, b"{") + client_frame(0x81, b"{}")),
]


@pytest.mark.parametrize("name,bad", BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
async def test_a_bad_frame_ends_only_its_own_connection(server, name, bad):
    call = orjson.dumps({"type": "call", "id": 1, "method": "app.square", "args": [7]})
    reader, writer = await open_raw_socket(server.port)
    writer.write(client_frame(0x81, call) + bad + client_frame(0x81, call.replace(b"7", b"8")))
    received = await read_until_closed(reader)          # the server ends the connection
    assert b'"result":49' in received                     # what came before the bad frame was answered
    assert b'"result":64' not in received                 # nothing after it was run
    writer.close()
    await healthy(server)


async def test_pipelined_calls_in_one_write_are_all_answered(server):
    reader, writer = await open_raw_socket(server.port)
    assert await pipelined_squares(reader, writer, 50) == {i: i * i for i in range(50)}
    writer.close()


async def test_a_message_over_the_limit_is_refused_from_its_header(server):
    reader, writer = await open_raw_socket(server.port)
    writer.write(bytes([0x81, 0x80 | 127]) + (10 << 20).to_bytes(8, "big") + b"\x00\x00\x00\x00")  # 10 MiB announced
    received = await read_until_closed(reader)            # closed without waiting for the payload
    assert b"\x88" in received and (1009).to_bytes(2, "big") in received
    writer.close()
    await healthy(server)


async def test_a_text_frame_with_invalid_utf8_closes_with_1007_after_earlier_replies(server):
    # It used to drop the TCP connection without a close frame; docs/protocol.md promises 1007.
    call = orjson.dumps({"type": "call", "id": 1, "method": "app.square", "args": [7]})
    reader, writer = await open_raw_socket(server.port)
    writer.write(client_frame(0x81, call) + client_frame(0x81, b"\xc3\x28 not utf-8"))
    received = await read_until_closed(reader)
    assert b'"result":49' in received
    close = received[received.index(b"\x88"):]
    assert close[2:4] == (1007).to_bytes(2, "big")
    writer.close()
    await healthy(server)
