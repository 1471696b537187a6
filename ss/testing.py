"""Test tools for ss apps (and for ss itself): run an app in-process, talk to it like a browser.

In an app's ``tests/``::

    from ss.testing import running_app

    async def test_square():
        async with running_app(".") as app:
            async with app.client() as client:
                assert await client.call("app.square", 25) == 625

``client.next_event(name)`` waits for a pub/sub event; ``call_action`` runs
one action with a fake session and no server at all.

With pytest (and pytest-asyncio), the fixtures below save the boilerplate; an
app's ``tests/conftest.py`` imports them (``ss new`` writes one)::

    from ss.testing import ss_app, ss_client, ss_root, ss_app_factory  # noqa: F401

    async def test_square(ss_client):                 # a client of the app, started for this test
        assert await ss_client.call("app.square", 25) == 625

    async def test_api(ss_app):                       # the RunningApp itself
        assert (await ss_app.fetch("/api/app/square.json?25")).body == b"625"

    async def test_with_redis(ss_app_factory):        # other settings for one test
        async with ss_app_factory(overrides={"redis": {"enabled": True}}) as app:
            ...

``ss_root`` is the app the tests belong to (found upward from the test file);
override it in a conftest to test another folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookies
from pathlib import Path
from typing import Any, AsyncIterator

import orjson
import tornado.httpclient
import tornado.websocket

from .app import App
from .serving import Server

__all__ = ["running_app", "RunningApp", "Client", "CallFailed", "call_action"]


class CallFailed(Exception):
    """The server answered a call with an error; ``code`` is the protocol's error code."""

    def __init__(self, error: dict):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.error = error


class Client:
    """A Python client speaking ss's protocol over a real WebSocket (docs/protocol.md).

    It keeps its session cookie as a browser would: from the 101 response, and
    after a sign-in rotates the session, from ``POST /_ss/session``.
    """

    cookie_name = "ss_session"

    def __init__(self, url: str, cookie: str | None = None, origin: str | None = None, follow_session: bool = True):
        self.url = url
        self.cookie = cookie
        self.follow_session = follow_session  # False: leave the session message's token to the test
        self.origin = origin
        self.ws: tornado.websocket.WebSocketClientConnection | None = None
        self.init: dict = {}
        self._next_id = 0
        self._replies: dict[Any, asyncio.Future] = {}
        self._events: asyncio.Queue = asyncio.Queue()
        self._other: asyncio.Queue = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self.closed: asyncio.Future | None = None

    async def connect(self, timeout: float = 10) -> "Client":
        """Open the socket and wait (at most ``timeout`` s) for the server's init message."""
        headers = {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.origin:
            headers["Origin"] = self.origin
        # Test servers over TLS use self-signed certificates: a test client trusts any.
        request = tornado.httpclient.HTTPRequest(self.url, headers=headers,
                                                 validate_cert=not self.url.startswith("wss:"))
        self.ws = await tornado.websocket.websocket_connect(request)
        try:
            first = await asyncio.wait_for(self.ws.read_message(), timeout)
        except asyncio.TimeoutError:
            self.ws.close()
            raise ConnectionError(f"{self.url}: no init message from the server within {timeout:g} s") from None
        if first is None:
            code, reason = self.ws.close_code, self.ws.close_reason
            raise ConnectionError(f"{self.url}: the server closed the socket before its init message "
                                  f"(code {code}, {reason or 'no reason given'})")
        self.init = orjson.loads(first)
        assert self.ws.headers is not None  # the handshake response's, set once connected
        self._take_cookie(self.ws.headers.get_list("Set-Cookie"))
        self.closed = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        return self

    @property
    def session_id(self) -> str | None:
        """The session id this client's cookie carries (a test client may know it; page scripts never do)."""
        if not self.cookie:
            return None
        morsel = http.cookies.SimpleCookie(self.cookie).get(self.cookie_name)
        return morsel.value if morsel is not None else None

    @property
    def connection_id(self) -> str:
        return self.init["connection_id"]

    def _take_cookie(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            morsel = http.cookies.SimpleCookie(header).get(self.cookie_name)
            if morsel is not None:
                self.cookie = f"{self.cookie_name}={morsel.value}"

    async def _follow_session(self, token: str) -> None:
        """Do what the browser does after a sign-in rotated the session: fetch the new cookie."""
        url = self.url.replace("ws", "http", 1).split("/_ss/socket")[0] + "/_ss/session"
        response = await tornado.httpclient.AsyncHTTPClient().fetch(
            url, method="POST", body=token, headers={"Cookie": self.cookie or "", "Content-Type": "text/plain"},
            raise_error=False, validate_cert=not url.startswith("https:"))
        if response.code == 204:
            self._take_cookie(response.headers.get_list("Set-Cookie"))

    async def _read(self) -> None:
        assert self.ws is not None
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                break
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind in ("reply", "error") and message.get("id") in self._replies:
                future = self._replies.pop(message["id"])
                if not future.done():
                    future.set_result(message)
            elif kind == "event":
                self._events.put_nowait(message)
            else:
                if kind == "session" and self.follow_session and isinstance(message.get("token"), str):
                    await self._follow_session(message["token"])  # before anyone sees the message
                self._other.put_nowait(message)
        for future in self._replies.values():
            if not future.done():
                future.set_exception(ConnectionError("socket closed before the reply"))
        if self.closed is not None and not self.closed.done():
            self.closed.set_result((self.ws.close_code, self.ws.close_reason))

    async def call(self, method: str, *args: Any, timeout: float = 10) -> Any:
        """Call ``method`` ("app.square") and return its result; raises CallFailed on an error reply."""
        self._next_id += 1
        call_id = self._next_id
        future = asyncio.get_running_loop().create_future()
        self._replies[call_id] = future
        await self.send({"type": "call", "id": call_id, "method": method, "args": list(args)})
        message = await asyncio.wait_for(future, timeout)
        if message["type"] == "error":
            raise CallFailed(message["error"])
        return message["result"]

    async def send(self, message: dict | str | bytes, binary: bool = False) -> None:
        """Send a message as is (a dict is JSON-encoded): for tests of hostile input."""
        assert self.ws is not None
        if isinstance(message, dict):
            message = orjson.dumps(message).decode()
        await self.ws.write_message(message, binary=binary)

    async def next_event(self, name: str | None = None, timeout: float = 5) -> dict:
        """The next event message (``{"event", "data", ...}``), optionally skipping others than ``name``."""
        while True:
            message = await asyncio.wait_for(self._events.get(), timeout)
            if name is None or message["event"] == name:
                return message

    async def next_message(self, timeout: float = 5) -> dict:
        """The next message that is neither a reply to a call of ours nor an event."""
        return await asyncio.wait_for(self._other.get(), timeout)

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._reader, 2)

    async def __aenter__(self) -> "Client":
        return await self.connect() if self.ws is None else self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class RunningApp:
    """An app served in this process on a free port."""

    def __init__(self, app: App, server: Server):
        self.app = app
        self.server = server

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls(self) -> bool:
        """True when the app is served over HTTPS (``https.enabled``)."""
        return bool(self.app.config.https.enabled)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/_ss/socket"

    def client(self, cookie: str | None = None, origin: str | None = None, follow_session: bool = True) -> Client:
        return Client(self.socket_url, cookie, origin, follow_session)

    async def fetch(self, path: str, **kwargs: Any) -> tornado.httpclient.HTTPResponse:
        """GET (or ``method=...``) a path on the app; never raises for HTTP error statuses."""
        client = tornado.httpclient.AsyncHTTPClient()
        if self.tls:
            kwargs.setdefault("validate_cert", False)  # self-signed in tests
        return await client.fetch(self.url + path, raise_error=False, follow_redirects=False, **kwargs)


@contextlib.asynccontextmanager
async def running_app(root: str | Path, env: str = "test", overrides: dict | None = None,
                      assets: bool = False) -> AsyncIterator[RunningApp]:
    """Start the app at ``root`` on a free port of 127.0.0.1 for the duration of the block."""
    app = App.load(Path(root).resolve(), env, overrides)
    server = Server(app, port=0, host="127.0.0.1")
    await server.start(with_assets=assets)
    try:
        yield RunningApp(app, server)
    finally:
        await server.stop()


async def call_action(root: str | Path, method: str, *args: Any, session_attributes: dict | None = None,
                      user_id: Any = None, env: str = "test") -> Any:
    """Run one action of the app at ``root`` with a fresh in-memory session; no server, no socket."""
    app = App.load(Path(root).resolve(), env, {"redis": {"enabled": False}})
    try:
        await app.start()
        session = app.sessions.new()
        session.attributes.update(session_attributes or {})
        session.user_id = user_id
        return await app.dispatcher.call(method, list(args), session)
    finally:
        await app.close()


# ---- pytest fixtures for app authors (only when pytest and pytest-asyncio are installed) ----

try:
    import pytest
    import pytest_asyncio
except ImportError:  # ss.testing stays usable without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def ss_root(request: Any) -> Path:
        """The root of the app whose tests/ holds the running test (app/server and config/ upward)."""
        from .project import find_project

        return find_project(Path(str(request.path)).parent).root

    @pytest.fixture
    def ss_app_factory(ss_root: Path) -> Any:
        """``async with ss_app_factory(env="test", overrides=None, assets=False) as app``: the app, served."""

        def factory(env: str = "test", overrides: dict | None = None, assets: bool = False):
            return running_app(ss_root, env, overrides, assets)

        return factory

    @pytest_asyncio.fixture
    async def ss_app(ss_app_factory: Any) -> AsyncIterator[RunningApp]:
        """The app served on a free port for one test (env "test", its own config otherwise)."""
        async with ss_app_factory() as running:
            yield running

    @pytest_asyncio.fixture
    async def ss_client(ss_app: RunningApp) -> AsyncIterator[Client]:
        """A connected client of ``ss_app`` (a fresh session); ``ss_app.client()`` makes more."""
        async with ss_app.client() as client:
            yield client

