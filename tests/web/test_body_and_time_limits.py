"""Request bodies over the limit are refused (413) before they are read; slow clients are cut off."""

import asyncio
import time

import orjson
import pytest

from ss.testing import running_app

ACTIONS = """
import ss

class Actions(ss.Actions):
    def echo(self, value):
        return value
"""


@pytest.fixture
async def server(make_app):
    root = make_app({"app/server/app.py": ACTIONS, "public/hello.txt": "hi\n"})
    overrides = {"redis": {"enabled": False}, "http": {"max_body_bytes": 64 * 1024, "header_timeout": 1,
                                                        "body_timeout": 1}}
    async with running_app(root, "production", overrides) as running:
        yield running


async def send_head(port, head: bytes, body: bytes = b""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    await writer.drain()
    return reader, writer


async def read_answer(reader, timeout=3.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
        except (asyncio.TimeoutError, ConnectionError):
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("path", ["/api/app/echo.json", "/hello.txt", "/", "/_ss/session"])
async def test_oversize_body_is_refused_413_without_being_read(server, path):
    # 90 MB announced, 16 KB sent: the answer must come now, not after 90 MB.
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {90 * 1024 * 1024}\r\n\r\n").encode()
    started = time.monotonic()
    reader, writer = await send_head(server.port, head, b"[" * 16384)
    answer = await read_answer(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert time.monotonic() - started < 2.5
    assert b"X-Content-Type-Options: nosniff" in answer
    error = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["code"] == "too_big"
    limit = 256 if path == "/_ss/session" else 64 * 1024
    assert f"over the {limit}-byte limit" in error["message"]
    assert ("http.max_body_bytes" in error["message"]) == (path != "/_ss/session")


async def test_oversize_chunked_body_is_refused_413(server):
    head = (b"POST /api/app/echo.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (32 * 1024, b" " * 32 * 1024)
    reader, writer = await send_head(server.port, head, chunk * 4)
    answer = await read_answer(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


async def test_session_token_route_takes_only_a_small_body(server):
    response = await server.fetch("/_ss/session", method="POST", body="x" * 1000)
    assert response.code == 413


async def test_body_within_the_limit_still_works(server):
    value = "x" * 30000
    response = await server.fetch("/api/app/echo.json", method="POST", body=orjson.dumps([value]),
                                  headers={"Content-Type": "application/json"})
    assert response.code == 200 and orjson.loads(response.body) == value


async def test_unfinished_headers_connection_is_closed_after_header_timeout(server):
    reader, writer = await send_head(server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    started = time.monotonic()
    answer = await read_answer(reader, timeout=5)
    writer.close()
    assert answer == b""
    assert time.monotonic() - started < 3  # header_timeout is 1 s here


async def test_unfinished_body_connection_is_closed_after_body_timeout(server):
    head = b"POST /api/app/echo.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    reader, writer = await send_head(server.port, head, b"[1")
    started = time.monotonic()
    await read_answer(reader, timeout=5)
    writer.close()
    assert time.monotonic() - started < 3  # body_timeout is 1 s here
