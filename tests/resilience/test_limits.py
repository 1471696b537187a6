"""Limits: rate limiting, slow consumers, silent sockets, connections per IP, retried calls, CSRF, CSP."""

import asyncio
import base64
import logging
import os
import socket

import pytest

from ss.rpc import limiter
from ss.testing import CallFailed, Client, running_app
from tests.waiting import eventually

ACTIONS = """
import asyncio, ss

RUNS = {}

class Actions(ss.Actions):
    def square(self, number):
        return number * number

    async def count(self, token, seconds):
        await asyncio.sleep(seconds)
        RUNS[token] = RUNS.get(token, 0) + 1
        return RUNS[token]

    def runs(self, token):
        return RUNS.get(token, 0)

    async def flood(self, count, size):
        for i in range(count):
            await ss.publish.broadcast("blob", "x" * size)
        return count

    def login(self, uid):
        self.session.set_user_id(uid)
        return True

    def whoami(self):
        return self.session.user_id
"""


@pytest.fixture
def app_root(make_app):
    return make_app({"app/server/app.py": ACTIONS})


def overrides(**extra):
    base = {"redis": {"enabled": False}}
    for key, value in extra.items():
        base[key] = value
    return base


class LimiterClock:
    """Stands in for the ``time`` module in ss.limiter: its clock moves only when the test moves it,
    so how many calls pass does not depend on how busy the machine is."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_rate_limit_refuses_and_logs_once(app_root, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="ss")
    clock = LimiterClock()
    monkeypatch.setattr(limiter, "time", clock)
    async with running_app(app_root, "test", overrides(limiter={"enabled": True, "websockets": {"rps": 5}})) as app:
        async with app.client() as client:
            results = await asyncio.gather(*(client.call("app.square", i) for i in range(30)),
                                           return_exceptions=True)
            refused = [r for r in results if isinstance(r, CallFailed)]
            answered = [r for r in results if not isinstance(r, Exception)]
            assert refused and all(r.code == "rate_limited" for r in refused)
            assert len(answered) == 5 and len(refused) == 25   # the burst (one second's worth), no more
            with pytest.raises(CallFailed, match="rate_limited"):
                await client.call("app.square", 3)             # no time passed: nothing refilled
            clock.now += 0.5
            assert await client.call("app.square", 3) == 9     # tokens come back with time
    logged = [r for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(logged) == 1


until = eventually  # the shared waiting helper (tests/waiting.py), under the name this module used


def raw_websocket(port: int, rcvbuf: int | None = None) -> socket.socket:
    """A WebSocket opened by hand, so the test decides whether it ever reads or answers pings."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /_ss/socket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101")
    return sock


async def test_slow_consumer_is_cut_off_while_others_keep_up(app_root):
    async with running_app(app_root, "test", overrides(limits={"max_outgoing_bytes": 256 * 1024})) as app:
        lazy = await asyncio.to_thread(raw_websocket, app.port, 4096)  # never reads after the handshake
        async with app.client() as reader, app.client() as publisher:
            await until(lambda: len(app.app.connections) == 3)
            received = 0

            async def read_all():
                nonlocal received
                while received < 300:
                    await reader.next_event("blob", timeout=10)
                    received += 1

            consumer = asyncio.ensure_future(read_all())
            assert await publisher.call("app.flood", 300, 20000) == 300
            await asyncio.wait_for(consumer, 20)
            assert received == 300                      # the reading client got every message
            await until(lambda: len(app.app.connections) == 2)   # the lazy one was disconnected
            assert await publisher.call("app.square", 4) == 16
        lazy.close()


async def test_silent_socket_is_closed_by_server_pings(app_root):
    limits = {"ping_interval": 0.2, "ping_timeout": 0.2}
    async with running_app(app_root, "test", overrides(limits=limits)) as app:
        sock = await asyncio.to_thread(raw_websocket, app.port)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()

        async def closed_by_server() -> bool:
            try:
                return not await asyncio.wait_for(loop.sock_recv(sock, 4096), 0.5)  # read, never pong
            except asyncio.TimeoutError:
                return False

        await eventually(closed_by_server, timeout=30, interval=0, what="the server to close the silent socket")
        assert not app.app.connections
        sock.close()


async def test_connections_per_ip(app_root):
    async with running_app(app_root, "test", overrides(limits={"max_connections_per_ip": 2})) as app:
        async with app.client(), app.client():
            with pytest.raises(Exception, match="429"):
                await app.client().connect()
        async with app.client() as again:
            assert await again.call("app.square", 2) == 4


async def test_a_retried_call_runs_once(app_root):
    async with running_app(app_root, "test", overrides()) as app:
        url = app.socket_url + "?tab=tab1"
        first = await Client(url).connect()
        await first.send({"type": "call", "id": 1, "method": "app.count", "args": ["t", 0.3]})
        await first.close()                              # the reply is lost with the connection
        again = await Client(url, cookie=first.cookie).connect()
        await again.send({"type": "call", "id": 1, "method": "app.count", "args": ["t", 0.3]})
        reply = await again.next_message()
        assert reply == {"type": "reply", "id": 1, "result": 1}
        await again.send({"type": "call", "id": 1, "method": "app.count", "args": ["t", 0.3]})
        assert (await again.next_message())["result"] == 1
        assert await again.call("app.runs", "t") == 1    # ran once for three sends
        other_tab = await Client(app.socket_url + "?tab=tab2", cookie=first.cookie).connect()
        await other_tab.send({"type": "call", "id": 1, "method": "app.count", "args": ["t", 0]})
        assert (await other_tab.next_message())["result"] == 2   # another tab's id 1 is another call
        await again.close()
        await other_tab.close()


async def test_cross_site_api_requests_do_not_use_the_session(app_root):
    async with running_app(app_root, "test", overrides()) as app:
        async with app.client() as client:
            await client.call("app.login", "u1")
            rotated = await client.next_message()            # signing in gives the session a new id
            assert rotated["type"] == "session"
            cookie = client.cookie
        same = await app.fetch("/api/app/whoami.json", headers={"Cookie": cookie, "Sec-Fetch-Site": "same-origin"})
        assert same.body == b'"u1"'
        forged = await app.fetch("/api/app/whoami.json", headers={"Cookie": cookie, "Sec-Fetch-Site": "cross-site"})
        assert forged.body == b"null"
        old_browser = await app.fetch("/api/app/whoami.json", method="POST", body=b"[]",
                                      headers={"Cookie": cookie, "Origin": "https://evil.example",
                                               "Content-Type": "application/json"})
        assert old_browser.body == b"null"
        tool = await app.fetch("/api/app/whoami.json", headers={"Cookie": cookie})
        assert tool.body == b'"u1"'


async def test_html_security_headers(app_root):
    (app_root / "public").mkdir(exist_ok=True)
    (app_root / "public" / "index.html").write_text("<!DOCTYPE html><title>x</title>")
    async with running_app(app_root, "production", overrides()) as app:
        for path in ("/", "/api/app/square?3"):
            response = await app.fetch(path)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "same-origin"
            assert "object-src 'none'" in response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in response.headers["Content-Security-Policy-Report-Only"]
    async with running_app(app_root, "production", overrides(security={"content_security_policy": ""})) as app:
        assert "Content-Security-Policy" not in (await app.fetch("/")).headers


def test_escape_matches_the_browser_helper():
    import ss

    assert ss.escape("<script>alert('x') & \"y\"</script>") == \
        "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
    assert ss.escape(None) == "" and ss.escape(5) == "5"


async def test_allowed_origins_from_config(app_root):
    config = overrides(security={"allowed_origins": ["https://app.example.com"]})
    async with running_app(app_root, "test", config) as app:
        async with app.client(origin="https://app.example.com") as client:
            assert await client.call("app.square", 7) == 49
        with pytest.raises(Exception, match="403"):
            await app.client(origin="https://app.example.com.evil.example").connect()
