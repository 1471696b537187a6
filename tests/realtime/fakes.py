"""Socketless stand-ins for the realtime unit tests: a transport that records, a real app on the embedded store.

``FakeTransport`` implements what ss/realtime/connection.py's ``Transport`` needs and keeps what it
was given; ``connect(app, ...)`` makes a real :class:`~ss.realtime.connection.Connection` over one and
registers it as the WebSocket handler would; ``embedded_app(root)`` is an ``ss.app.App`` on the
embedded store, started and closed around the test.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import orjson

from ss.app import App
from ss.protocol.frames import frame_payload
from ss.realtime.connection import Connection
from ss.rpc.request import RequestInfo
from tests.waiting import eventually


class FakeTransport:
    """Records the frames written to it and how it was closed."""

    name = "fake"

    def __init__(self) -> None:
        self.unread = 0
        self.frames: list[bytes] = []
        self.writes = 0
        self.closed_with: tuple[int, str] | None = None
        self.aborted = False

    def write_frames(self, frames: list[bytes]) -> bool:
        self.writes += 1
        self.frames.extend(frames)
        return True

    def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    def abort(self) -> None:
        self.aborted = True

    def payloads(self) -> list[bytes]:
        return [frame_payload(frame) for frame in self.frames]

    def messages(self) -> list[dict]:
        """Every message written so far, decoded."""
        return [orjson.loads(payload) for payload in self.payloads()]

    def events(self, name: str | None = None) -> list[dict]:
        return [m for m in self.messages() if m.get("type") == "event" and (name is None or m.get("event") == name)]


def request(ip: str = "10.0.0.1") -> RequestInfo:
    return RequestInfo("fake", ip, {}, False)


def connection(app: App, session: Any = None, ip: str = "10.0.0.1", recovering: bool = False,
               register: bool = True) -> Connection:
    """A real Connection over a FakeTransport (``connection.transport``), registered as an opened socket is."""
    session = session if session is not None else app.sessions.new()
    conn = Connection(app, FakeTransport(), session, "tab", request(ip), recovering=recovering)
    if register:
        app.connections.add(conn)
    return conn


async def opened(app: App, session: Any = None, **kwargs: Any) -> Connection:
    """A connection registered and through the ``socket_opened`` hook, as a WebSocket after its handshake."""
    conn = connection(app, session, **kwargs)
    await app.sessions.hooks.socket_opened(conn)
    return conn


async def settle(app: App) -> None:
    """Let queued frames be written (the app's flusher writes them at the end of a loop turn)."""
    await eventually(lambda: not app.flusher._connections, interval=0, what="the flusher to write what was queued")


@contextlib.asynccontextmanager
async def embedded_app(root: Path, overrides: dict | None = None):
    """A started ``ss.app.App`` on the embedded store, for an empty app folder ``root``."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    app = App.load(root, "test", {"redis": {"enabled": False}, **(overrides or {})})
    await app.start()
    try:
        yield app
    finally:
        await app.close()
