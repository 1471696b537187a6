"""The WebSocket transport: accepts a browser's socket and moves frames between Tornado and a Connection.

Everything about message content lives in ``ss.protocol`` (parsing) and
``ss.realtime.connection`` (calls, replies, outbox); this handler only checks
the upgrade, picks the session, and pumps bytes both ways. Its hot-path
tricks (bulk reads, direct writes) go through ``ss.realtime.compat``.

A refused upgrade (not a WebSocket request, a foreign origin, too many
sockets from one address) is answered before any session is looked up or
created, and never sets a cookie.
"""

from __future__ import annotations

import logging
from typing import Any

import tornado.iostream
import tornado.web
import tornado.websocket

from .. import metrics
from ..rpc.request import RequestInfo
from . import compat
from .accept import accept_client, start_connection
from .connection import Connection
from .origin import origin_allowed
from .pinger import Pinger

__all__ = ["SocketHandler", "SOCKET_PATH"]

log = logging.getLogger("ss.socket")

SOCKET_PATH = "/_ss/socket"


class SocketHandler(tornado.websocket.WebSocketHandler):
    """One browser tab's socket. ``initialize(app)`` is passed the running :class:`ss.app.App`.

    ss's own per-socket state lives in slots (and in the :class:`Connection`), not
    in the handler's ``__dict__``, which Tornado's attributes already fill.
    """

    __slots__ = ("app", "connection", "_plain_tcp")

    name = "websocket"
    ws_connection: compat.BulkReadProtocol | None  # get_websocket_protocol makes one

    def initialize(self, app: Any) -> None:
        self.app = app
        self.connection: Connection | None = None
        self._plain_tcp = False

    def get_compression_options(self) -> None:
        return None  # frames are pre-built once per broadcast; compression would need one per socket

    def get_websocket_protocol(self) -> Any:
        params = super().get_websocket_protocol()
        if not isinstance(params, tornado.websocket.WebSocketProtocol13):  # None: not a version Tornado speaks
            return None
        return compat.BulkReadProtocol(self, False, params.params)

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.request, self.app.config)

    async def prepare(self) -> None:
        # Runs before the upgrade. Everything that can refuse the socket is checked first, so a
        # refused request costs no session; a cookie set here rides on the 101 response.
        request = self.request
        if request.method != "GET" or request.headers.get("Upgrade", "").lower() != "websocket" \
                or "upgrade" not in request.headers.get("Connection", "").lower():
            raise tornado.web.HTTPError(400, "not a WebSocket upgrade: open it with new WebSocket(...)")
        accepted = await accept_client(self, self.app, log, "WebSocket")
        info = RequestInfo("websocket", request.remote_ip, request.headers, request.protocol == "https")
        self.connection = Connection(self.app, self, accepted.session, accepted.tab, info,
                                     recovering=accepted.recovering)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        compat.discard_new_cookies(self)  # a refused socket never sets the session cookie
        super().send_error(status_code, **kwargs)

    async def open(self) -> None:
        connection = self.connection
        assert connection is not None
        self.set_nodelay(True)
        compat.drop_upgrade_state(self)
        assert self.ws_connection is not None and self.ws_connection.stream is not None  # accepted before open()
        stream = self.ws_connection.stream
        stream.max_write_buffer_size = self.app.config.limits.max_outgoing_bytes  # see write_frames
        compat.lighten_stream(stream)
        self._plain_tcp = type(stream) is tornado.iostream.IOStream  # TLS streams always go through IOStream
        app = self.app
        if app.pinger is None:
            limits = app.config.limits
            app.pinger = Pinger(app, limits.ping_interval, limits.ping_timeout)
        app.pinger.ensure_running()
        await start_connection(app, connection)
        log.debug("socket open: %r", connection)

    def on_message(self, message: str | bytes) -> None:
        self.connection.receive(message)  # type: ignore[union-attr]

    def on_pong(self, data: bytes) -> None:
        if self.connection is not None:
            self.connection.pong_due = False

    def on_close(self) -> None:
        if self.connection is not None:
            self.connection.transport_closed()

    # ---- the Transport interface of ss.realtime.connection ----

    @property
    def unread(self) -> int:
        connection = self.ws_connection
        return connection.unread if connection is not None else 0

    def write_queued(self) -> None:
        """What BulkReadProtocol calls before a close frame: the replies queued so far go first."""
        if self.connection is not None:
            self.connection.write_queued()

    def write_frames(self, frames: list[bytes]) -> bool:
        connection = self.ws_connection
        if connection is None:
            return False
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        stream = connection.stream
        assert stream is not None  # set when the connection was accepted
        if self._plain_tcp and not stream.writing() and stream.socket is not None:
            # Nothing is buffered, so order is safe: hand the bytes to the kernel directly,
            # without IOStream's per-write Future and buffer bookkeeping (the fan-out hot path).
            try:
                sent = stream.socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                stream.close()
                return False
            if sent == len(data):
                return True
            data = data[sent:]
        try:
            stream.write(data)
        except tornado.iostream.StreamBufferFullError:
            # More than limits.max_outgoing_bytes queued: this reader is not keeping up.
            log.warning("closing socket from %s: it is not reading its messages (over %d bytes queued)",
                        self.request.remote_ip, stream.max_write_buffer_size)
            metrics.slow_reader()
            if self.connection is not None:
                self.connection.close_reason = "slow_reader"
            stream.close()
            return False
        except tornado.iostream.StreamClosedError:
            return False
        return True

    @property
    def queued_bytes(self) -> int:
        """Bytes written but not yet taken by the kernel (the ss_outgoing_queued_bytes gauge)."""
        connection = self.ws_connection
        return compat.queued_bytes(connection.stream) if connection is not None else 0

    def abort(self) -> None:
        if self.ws_connection is not None and self.ws_connection.stream is not None:
            self.ws_connection.stream.close()
