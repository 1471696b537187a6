"""Keep-alive connections that carry the HTTP transport's POSTs: answered without Tornado's HTTP/1 loop.

A browser on the HTTP fallback sends each turn's calls as ``POST /_ss/http/send``,
one after another on one keep-alive connection. Through Tornado's HTTP/1 server
each costs a request loop iteration (two timed reads, a second parse of the
start line for routing, a request object, the guard, a coroutine per request)
that takes about three times what the call itself costs.

So the first such POST on a connection (it came through Tornado and the guard:
host check, body limit) *takes the connection over*, as a WebSocket upgrade
does (``HTTP1Connection.detach``), and :class:`SendConnection` reads its
requests from then on:

* a ``POST /_ss/http/send`` over HTTP/1.1 with a ``Content-Length`` within the
  body limit, the same ``Host`` as the first, and nothing unusual (no
  ``Transfer-Encoding``, ``Expect``, ``Connection: close``, folded header lines)
  is answered here: the same answer as through Tornado
  (:func:`ss.realtime.http_handlers.send_outcome`);
* anything else (another URL: a browser sends any request of the page on any
  of its connections) goes back to Tornado's HTTP server with the bytes read so
  far put back, and is served as any request is, guard included;
* the same limits hold: ``http.max_header_bytes`` for the request line and
  headers (over it, the connection is closed), ``http.header_timeout`` for the
  headers to arrive and for an idle connection, ``http.body_timeout`` for the
  body.

Connections taken over are closed when the app closes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import tornado.iostream

from . import compat
from .http_transport import SEND_PATH

__all__ = ["SendConnection", "takes_over"]

log = logging.getLogger("ss.socket")

_END_OF_HEADERS = b"\r?\n\r?\n"
_REASONS = {200: b"OK", 204: b"No Content", 400: b"Bad Request", 403: b"Forbidden", 405: b"Method Not Allowed",
            410: b"Gone", 413: b"Payload Too Large", 503: b"Service Unavailable"}


def takes_over(version: str, headers: Any, server: Any) -> bool:
    """Whether the first POST of a connection may take it over (else Tornado answers it, as before)."""
    if server is None or version != "HTTP/1.1":
        return False
    if "Transfer-Encoding" in headers or "Expect" in headers or not headers.get("Content-Length", "").isdigit():
        return False
    return headers.get("Connection", "").strip().lower() != "close"


class SendConnection:
    """One keep-alive connection taken over by the HTTP transport's POSTs (see the module's doc)."""

    __slots__ = ("hub", "stream", "address", "host", "server", "header_timeout", "body_timeout", "max_header",
                 "answer", "_task")

    def __init__(self, hub: Any, stream: tornado.iostream.IOStream, address: Any, host: str, server: Any,
                 answer: Callable[[str, str, bytes], Awaitable[bytes]]) -> None:
        self.hub = hub  # the app's HttpTransports: it closes the connections taken over when the app closes
        self.stream = stream
        self.address = address
        self.host = host
        self.server = server  # Tornado's HTTPServer: requests that are not ours go back to it
        params = server.conn_params  # the limits Tornado applies to every request (ss/web/guard.py sets them)
        self.header_timeout = float(params.header_timeout or 3600)
        self.body_timeout = float(params.body_timeout or 3600)
        self.max_header = int(params.max_header_size or 65536)
        self.answer = answer  # (query, secret, body) -> the whole response
        self._task: asyncio.Task | None = None

    def start(self, query: str, secret: str, length: int) -> None:
        """Serve the first request (its headers read by Tornado), then the connection's next ones."""
        stream = self.stream
        stream.set_nodelay(True)
        stream.set_close_callback(None)
        self._task = asyncio.ensure_future(self._serve(query, secret, length))
        self._task.add_done_callback(_task_failed)

    def close(self) -> None:
        self.stream.close()

    async def _serve(self, query: str, secret: str, length: int) -> None:
        open_connections = self.hub.keepalive
        open_connections.add(self)
        handed_back = False
        try:
            while True:
                body = await self._read(self.stream.read_bytes(length) if length else None, self.body_timeout)
                if body is None:
                    return
                self.stream.write(await self.answer(query, secret, body))
                head = await self._read(self.stream.read_until_regex(_END_OF_HEADERS, max_bytes=self.max_header),
                                        self.header_timeout)
                if head is None:
                    return
                request = self._ours(head)
                if request is None:
                    self._hand_back(head)
                    handed_back = True
                    return
                query, secret, length = request
        except (tornado.iostream.StreamClosedError, tornado.iostream.UnsatisfiableReadError):
            pass
        finally:
            open_connections.discard(self)
            if not handed_back:
                self.stream.close()

    async def _read(self, future: Any, timeout: float) -> bytes | None:
        """A read's bytes, or None when it did not complete within ``timeout`` (the connection is closed)."""
        if future is None:
            return b""
        if future.done():
            return future.result()
        timer = asyncio.get_running_loop().call_later(timeout, self.stream.close)
        try:
            return await future
        except tornado.iostream.StreamClosedError:
            if self.stream.closed() and self.stream.error is None:
                return None  # closed by the timer, or by the client between requests
            raise
        finally:
            timer.cancel()

    def _ours(self, head: bytes) -> tuple[str, str, int] | None:
        """``(query, secret, body length)`` of a request answered here, or None for Tornado to answer."""
        if b"\r\n\r\n" not in head[-4:]:
            return None  # bare newlines: let Tornado's parser decide
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[0] != "POST" or parts[2] != "HTTP/1.1":
            return None
        path, _, query = parts[1].partition("?")
        if path != SEND_PATH:
            return None
        length = secret = host = None
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or name != name.strip() or not name:
                return None  # folded or malformed lines: Tornado answers those
            key = name.lower()
            value = value.strip()
            if key == "content-length":
                if length is not None or not value.isdigit():
                    return None
                length = int(value)
            elif key == "x-ss-secret":
                secret = value
            elif key == "host":
                host = value
            elif key in ("transfer-encoding", "expect") or (key == "connection" and value.lower() == "close"):
                return None
        if length is None or length > self.hub.max_request or host != self.host:
            return None  # too big (Tornado's guard answers 413), or another host (the guard checks it)
        return query, secret or "", length

    def _hand_back(self, head: bytes) -> None:
        """Give the connection back to Tornado's HTTP server, the request's headers put back unread."""
        compat.put_back(self.stream, head)
        self.server.handle_stream(self.stream, self.address)


def response(status: int, headers: dict[str, str], body: bytes | None) -> bytes:
    """A whole HTTP/1.1 response of the HTTP transport's POST (keep-alive)."""
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Error"))]
    lines.extend(f"{name}: {value}".encode("latin-1") for name, value in headers.items())
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def _task_failed(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("HTTP transport connection failed", exc_info=task.exception())
