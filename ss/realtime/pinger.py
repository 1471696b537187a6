"""One timer that pings every open socket and closes those whose pong is late."""

from __future__ import annotations

import asyncio
import logging

from ..protocol.frames import PING_FRAME

__all__ = ["Pinger"]

log = logging.getLogger("ss.socket")

class Pinger:
    """Pings every socket of an app from one timer, and closes those whose pong is late.

    One timer per process instead of a task per socket (what Tornado's own
    websocket_ping_interval costs) keeps an idle socket about 1 KB lighter.
    """

    def __init__(self, app, interval: float, timeout: float):
        self.app = app
        self.interval = interval
        self.timeout = min(timeout, interval) if timeout > 0 else interval
        self._handle: asyncio.TimerHandle | None = None

    def ensure_running(self) -> None:
        if self._handle is None and self.interval > 0:
            self._handle = asyncio.get_running_loop().call_later(self.interval, self._ping_all)

    def _ping_all(self) -> None:
        self._handle = None
        connections = [c for c in self.app.connections if c.transport.name == "websocket"]
        if not connections:
            return  # started again by the next socket that opens
        for connection in connections:
            connection.pong_due = True
            connection.send_frame(PING_FRAME)
        loop = asyncio.get_running_loop()
        loop.call_later(self.timeout, self._check, connections)
        self._handle = loop.call_later(self.interval, self._ping_all)

    @staticmethod
    def _check(connections: list) -> None:
        for connection in connections:
            if connection.pong_due and not connection.closed:
                log.info("closing socket from %s: no answer to the server's ping", connection.request.remote_ip)
                connection.abort()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
