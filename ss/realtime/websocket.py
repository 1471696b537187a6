"""The WebSocket transport: moves frames between Tornado and a connection's calls, events and outbox.

Everything about message content lives in ``ss.protocol`` (parsing) and
``ss.rpc`` (running actions); this module owns per-connection state: the
session, the calls in flight and the outgoing buffer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
import time
from typing import Any

import tornado.iostream
import tornado.web
import tornado.websocket

from .. import protocol
from ..logs import CALLS
from ..protocol.frames import text_frame
from ..rpc import CallError
from ..rpc.limiter import TokenBucket
from ..rpc.request import RequestInfo
from ..store.base import STORE_ERRORS
from . import compat
from ..sessions.cookie import set_session_cookie
from .origin import origin_allowed
from .outbox import send_frame_to_many
from .pinger import Pinger

log = logging.getLogger("ss.socket")
call_log = logging.getLogger("ss.calls")

SOCKET_PATH = "/_ss/socket"
MAX_REPLAY_FRAME = 64 * 1024   # bigger replies are not kept for retried calls; a retry runs again
_TAB_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class SocketHandler(tornado.websocket.WebSocketHandler):
    """One browser tab's socket. ``initialize(app)`` is passed the running :class:`ss.app.App`.

    ss's own per-socket state lives in slots, not in the handler's ``__dict__``
    (which Tornado's attributes already fill): thousands of idle sockets each
    keep a smaller dict.
    """

    __slots__ = ("app", "session", "pending", "tasks", "closed", "draining", "outbox", "_plain_tcp",
                 "pong_due", "limits", "max_pending", "max_outgoing", "bucket", "tab",
                 "request_info")

    def initialize(self, app) -> None:
        self.app = app
        self.session = None
        self.pending = 0
        self.tasks: set[asyncio.Task] | None = None  # made when a call has to wait, dropped when idle
        self.closed = False
        self.draining = False
        self.outbox: list[bytes] | None = None
        self._plain_tcp = False
        self.pong_due = False
        limits = app.config.limits
        self.limits = app.protocol_limits
        self.max_pending = int(limits.max_pending_calls)
        self.max_outgoing = int(limits.max_outgoing_bytes)
        limiter = app.config.limiter
        self.bucket = TokenBucket(float(limiter.websockets.rps)) if limiter.enabled else None

    def get_compression_options(self) -> None:
        return None  # frames are pre-built once per broadcast; compression would need one per socket

    def get_websocket_protocol(self):
        protocol = super().get_websocket_protocol()
        return None if protocol is None else compat.BulkReadProtocol(self, False, protocol.params)

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.request, self.app.config)

    async def prepare(self) -> None:
        # Runs before the upgrade; a cookie set here rides on the 101 response.
        per_ip = int(self.app.config.limits.get("max_connections_per_ip") or 0)
        if per_ip and self.app.connections_per_ip.get(self.request.remote_ip, 0) >= per_ip:
            log.warning("refusing a socket from %s: already %d open (limits.max_connections_per_ip)",
                        self.request.remote_ip, per_ip)
            raise tornado.web.HTTPError(429, "too many connections from this address")
        tab = self.get_query_argument("tab", "")
        # The tab id names this page load across reconnects, so retried calls are recognised.
        self.tab = tab if _TAB_ID.match(tab) else secrets.token_hex(8)
        name = self.app.config.session.cookie_name
        session_id = self.get_cookie(name)
        compat.forget_parsed_cookies(self.request)
        try:
            session = await self.app.sessions.load(session_id)
            if session is None:
                session = await self.app.sessions.create()
                set_session_cookie(self, session.id)
        except STORE_ERRORS as exc:
            self.app.outage.report(self.app.store.description, exc)
            raise tornado.web.HTTPError(503, "the session store is not answering") from None
        self.session = session
        self.request_info = RequestInfo("websocket", self.request.remote_ip, self.request.headers,
                                        self.request.protocol == "https")
        session.request = self.request_info

    async def open(self) -> None:
        self.set_nodelay(True)
        # The 101 response has gone: the headers and cookie Tornado built for it (about 1.2 KB)
        # are not needed for the rest of the socket's life.
        compat.drop_upgrade_state(self)
        stream = self.ws_connection.stream
        stream.max_write_buffer_size = self.max_outgoing  # see write_queued
        self._plain_tcp = type(stream) is tornado.iostream.IOStream  # TLS streams always go through IOStream
        self.app.connections.add(self)
        per_ip = self.app.connections_per_ip
        per_ip[self.request.remote_ip] = per_ip.get(self.request.remote_ip, 0) + 1
        if self.app.pinger is None:
            limits = self.app.config.limits
            self.app.pinger = Pinger(self.app, float(limits.ping_interval), float(limits.ping_timeout))
        self.app.pinger.ensure_running()
        extra = {}
        if self.app.pipeline is not None:
            version = await self.app.pipeline.version()
            if version is not None:
                extra["assets"] = version  # development: a tab that missed a reload sees it differs
        self.send(protocol.encode_init(self.session.id, self.app.env, self.app.client_config(),
                                       self.app.tree.describe(), **extra))
        await self.app.sessions.hooks.socket_opened(self)
        log.debug("socket open for %r from %s", self.session, self.request.remote_ip)

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = protocol.parse(message, self.limits)
        except protocol.FrameTooBig as exc:
            log.warning("closing socket from %s: %s", self.request.remote_ip, exc.message)
            self.close(protocol.CLOSE_TOO_BIG, "message too big")
            return
        except protocol.ProtocolError as exc:
            self.send(protocol.encode_error(exc.call_id, exc.code, exc.message))
            return
        if isinstance(msg, protocol.Call):
            if not self.draining:  # while shutting down, the browser re-sends unanswered calls elsewhere
                self._start_call(msg)
        elif isinstance(msg, protocol.Heartbeat):
            self._spawn(self.app.sessions.hooks.heartbeat(self))
        else:
            self._spawn(self.app.sessions.hooks.recover(self, msg.streams))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._track(task)
        task.add_done_callback(self._task_failed)

    def _track(self, task: asyncio.Task) -> None:
        if self.tasks is None:
            self.tasks = {task}
        else:
            self.tasks.add(task)
        task.add_done_callback(self._untrack)

    def _untrack(self, task: asyncio.Task) -> None:
        if self.tasks is not None:
            self.tasks.discard(task)
            if not self.tasks:
                self.tasks = None

    @staticmethod
    def _task_failed(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("socket task failed", exc_info=task.exception())

    def _start_call(self, call: protocol.Call) -> None:
        if self.bucket is not None and not self.bucket.allow():
            if self.bucket.should_log():
                log.warning("rate limit: socket from %s is over %s calls/s; refusing with rate_limited",
                            self.request.remote_ip, self.bucket.rate)
            self.send(protocol.encode_error(call.id, "rate_limited",
                                            f"more than {self.bucket.rate:g} calls per second: slow down"))
            return
        key = (self.session.id, self.tab)
        earlier = self.app.recent_calls.get(key, call.id)
        if earlier is not None:
            # A retry after a reconnect: answer with the first run's reply, never run it twice.
            earlier.add_done_callback(lambda f: self.send(f.result()) if not f.cancelled() else None)
            return
        if self.pending >= self.max_pending:
            self.send(protocol.encode_error(call.id, "too_many_calls",
                                            f"more than {self.max_pending} calls pending on this socket"))
            return
        self.pending += 1
        if self.pending == 1:
            # Nothing else runs for this socket: start the call right here, most actions finish
            # without waiting and need no task. (A burst from one socket cannot starve the others:
            # its reader gives the loop a turn every few messages, see BulkReadProtocol.)
            task = compat.start_call(self._run(call))
        else:
            task = asyncio.get_running_loop().create_task(self._run(call), context=contextvars.copy_context())
        self.app.recent_calls.remember(key, call.id, task)
        if not task.done():
            self._track(task)

    async def _run(self, call: protocol.Call) -> bytes:
        """Run one call, send its reply frame, and return it (kept for retries of the same call)."""
        logging_calls = not call.silent and call_log.isEnabledFor(CALLS)
        if logging_calls:
            started = time.perf_counter()
            call_log.log(CALLS, "-> %s %s", call.method, _short(call.args))
        try:
            result = await self.app.dispatcher.call(call.method, call.args, self.session, self.request_info)
            frame = protocol.encode_reply(call.id, result)
            if logging_calls:
                call_log.log(CALLS, "<- %s %s (%.1f ms)", call.method, _short(result),
                             (time.perf_counter() - started) * 1000)
        except CallError as exc:
            frame = protocol.encode_error(call.id, exc.code, exc.message, exc.traceback)
            if logging_calls:
                call_log.log(CALLS, "<- %s error %s: %s", call.method, exc.code, exc.message)
        except TypeError as exc:  # the result could not be encoded as JSON
            frame = protocol.encode_error(call.id, "action_failed", f"{call.method} returned a value that "
                                          f"cannot be sent as JSON: {exc}")
        finally:
            self.pending -= 1
        connection = self.ws_connection
        if self.pending == 0 and self.outbox is None and connection is not None and connection.unread == 0:
            # Nothing else is running or waiting to be read on this socket, so no other reply can
            # join this one: write it now rather than a loop tick later (round-trip latency).
            self.outbox = [text_frame(frame)]
            self.write_queued()
        else:
            self.send(frame)
        if len(frame) > MAX_REPLAY_FRAME:
            self.app.recent_calls.forget((self.session.id, self.tab), call.id)
        return frame

    def send(self, payload: bytes) -> None:
        """Queue one message (already encoded) for this socket; cut off readers that fall too far behind."""
        self.send_frame(text_frame(payload))

    def send_frame(self, frame: bytes) -> None:
        """Queue a pre-built frame (see :func:`text_frame`); it is written at the end of this loop tick.

        Frames queued for one socket in the same tick (a burst of broadcasts, replies
        to pipelined calls) go out in one write instead of one system call each.
        """
        send_frame_to_many(self.app.flusher, (self,), frame)

    def write_queued(self) -> None:
        """Write what send_frame queued; cut off a reader that has fallen too far behind."""
        frames, self.outbox = self.outbox, None
        connection = self.ws_connection
        if not frames or connection is None or self.closed:
            return
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        stream = connection.stream
        if self._plain_tcp and not stream.writing() and stream.socket is not None:
            # Nothing is buffered, so order is safe: hand the bytes to the kernel directly,
            # without IOStream's per-write Future and buffer bookkeeping (the fan-out hot path).
            try:
                sent = stream.socket.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.closed = True
                stream.close()
                return
            if sent == len(data):
                return
            data = data[sent:]
        try:
            stream.write(data)
        except tornado.iostream.StreamBufferFullError:
            # More than limits.max_outgoing_bytes queued: this reader is not keeping up.
            log.warning("closing socket from %s: it is not reading its messages (over %d bytes queued)",
                        self.request.remote_ip, self.max_outgoing)
            self.closed = True
            stream.close()
        except tornado.iostream.StreamClosedError:
            self.closed = True

    async def drain(self, timeout: float) -> None:
        """Stop taking calls, let running ones finish and reply, then close with 1012 (reconnect elsewhere)."""
        self.draining = True
        running = [t for t in self.tasks or () if not t.done()]
        if running:
            await asyncio.wait(running, timeout=timeout)
        self.write_queued()  # the last replies go out before the close frame
        self.close(protocol.CLOSE_SERVICE_RESTART, "server restarting")

    def on_pong(self, data: bytes) -> None:
        self.pong_due = False

    def on_close(self) -> None:
        self.closed = True
        if self in self.app.connections:
            self.app.connections.discard(self)
            per_ip, ip = self.app.connections_per_ip, self.request.remote_ip
            if per_ip.get(ip, 0) > 1:
                per_ip[ip] -= 1
            else:
                per_ip.pop(ip, None)
        if self.session is not None:
            asyncio.ensure_future(self._closed())

    async def _closed(self) -> None:
        try:
            await self.session.emit("disconnect")
        except Exception:
            log.exception("a 'disconnect' listener of %r failed", self.session)
        await self.app.sessions.hooks.socket_closed(self)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
