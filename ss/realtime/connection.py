"""One browser tab's connection, whatever carries it: its session, calls in flight and outgoing frames.

A transport (the WebSocket handler today, the HTTP fallback next) creates a
:class:`Connection` once it has accepted a client, hands it every incoming
message (:meth:`Connection.receive`) and writes what the connection gives it
(:meth:`Transport.write_frames`). Everything else (parsing, running calls,
replies, retries, rate limits, draining on shutdown) lives here, so every
transport behaves the same.

Outgoing messages are queued as WebSocket text frames (``ss.protocol.frames``):
a pub/sub message is framed once and the same bytes are appended to every
member's outbox; a transport that is not a WebSocket unwraps the payloads.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import Any, Protocol

from .. import metrics, protocol
from ..errors import CLOSE_TOO_BIG, CallError, ErrorCode
from ..logs import CALLS
from ..protocol.frames import text_frame
from ..rpc.limiter import TokenBucket
from ..rpc.request import RequestInfo
from . import client_calls, compat
from .outbox import send_frame_to_many

__all__ = ["Connection", "Transport"]

log = logging.getLogger("ss.socket")
call_log = logging.getLogger("ss.calls")

#: the ``reason`` label of ss_connections_closed_total for each close code ss sends (bounded)
CLOSE_REASONS = {1012: "shutdown", 1009: "too_big", 1008: "policy", 1007: "invalid_data", 1002: "protocol_error",
                 4001: "session_changed", 4002: "disconnected", 1000: "normal", 1011: "error"}


class Transport(Protocol):
    """What a connection needs of whatever carries it."""

    name: str  # "websocket" or "http": RequestInfo.transport, metrics labels

    @property
    def unread(self) -> int:
        """Messages received but not yet handed to the connection (0: nothing waits)."""

    def write_frames(self, frames: list[bytes]) -> bool:
        """Send these server frames in order; False when the client is gone or too far behind."""

    def close(self, code: int, reason: str) -> None:
        """End the connection, telling the client why (a WebSocket close code and reason)."""

    def abort(self) -> None:
        """Drop the connection at once, without a word (a client that stopped answering)."""


class Connection:
    """A client connection: ``id`` (not secret, unique across instances), ``session``, ``tab``, ``request``.

    Kept small (slots; the task set made only when a call waits), since every
    idle tab holds one.
    """

    __slots__ = ("id", "app", "transport", "session", "tab", "request", "pending", "pending_bytes", "tasks", "closed",
                 "draining", "outbox", "pong_due", "bucket", "recovering", "recovered", "close_reason", "client_calls")

    def __init__(self, app: Any, transport: Transport, session: Any, tab: str, request: RequestInfo,
                 recovering: bool = False):
        self.id: str = app.connections.new_id()
        self.app = app
        self.transport = transport
        self.session = session
        self.tab = tab
        self.request = request
        self.pending = 0
        self.pending_bytes = 0                     # size of the messages of the calls running
        self.tasks: set[asyncio.Future] | None = None  # made when a call has to wait, dropped when idle
        self.closed = False
        self.draining = False
        self.outbox: list[bytes] | None = None     # frames queued this turn (see ss/realtime/outbox.py)
        self.pong_due = False
        self.recovering = recovering               # reconnected, and will ask for missed pub/sub messages
        self.recovered = False                     # it asked (once per connection: see RealtimeHooks.recover)
        self.close_reason: str | None = None       # why ss closed it (metrics); None: the client left
        # calls to the browser waiting for its answer, by id; made by the first, dropped when none waits
        self.client_calls: dict[int, asyncio.Future] | None = None
        limiter = app.config.limiter
        self.bucket = TokenBucket(float(limiter.websockets.rps)) if limiter.enabled else None
        session.request = request
        session.connection = self

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.transport.name} from {self.request.remote_ip} {self.session!r}>"

    # ---- incoming ----

    def receive(self, message: str | bytes) -> None:
        """Handle one message from the client (a call, a heartbeat, a recover request)."""
        try:
            msg = protocol.parse(message, self.app.protocol_limits)
        except protocol.FrameTooBig as exc:
            log.warning("closing connection from %s: %s", self.request.remote_ip, exc.message)
            self.close(CLOSE_TOO_BIG, "message too big")
            return
        except protocol.ProtocolError as exc:
            self.send(protocol.encode_error(exc.call_id, exc.code, exc.message))
            return
        if type(msg) is protocol.Call:
            if not self.draining:  # while shutting down, the browser re-sends unanswered calls elsewhere
                self._start_call(msg, len(message))
        elif type(msg) is protocol.Heartbeat:
            self._spawn(self.app.sessions.hooks.heartbeat(self))
        elif type(msg) is protocol.ClientReply:
            client_calls.answer(self, msg)
        elif type(msg) is protocol.PresenceRequest:
            self._spawn(self.app.presence.send_state(self, msg.channel))
        else:
            assert type(msg) is protocol.Recover  # the one message type left
            self._spawn(self.app.sessions.hooks.recover(self, msg.streams))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._track(task)
        task.add_done_callback(_task_failed)

    def _track(self, task: asyncio.Future) -> None:
        if self.tasks is None:
            self.tasks = {task}
        else:
            self.tasks.add(task)
        task.add_done_callback(self._untrack)

    def _untrack(self, task: asyncio.Future) -> None:
        if self.tasks is not None:
            self.tasks.discard(task)
            if not self.tasks:
                self.tasks = None

    def _start_call(self, call: protocol.Call, size: int) -> None:
        if self.bucket is not None and not self.bucket.allow():
            metrics.rate_limited("socket")
            if self.bucket.should_log():
                log.warning("rate limit: connection from %s is over %s calls/s; refusing with rate_limited",
                            self.request.remote_ip, self.bucket.rate)
            self.send(protocol.encode_error(call.id, ErrorCode.RATE_LIMITED,
                                            f"more than {self.bucket.rate:g} calls per second: slow down"))
            return
        recent = self.app.recent_calls
        key = (self.session.id, self.tab)
        earlier = recent.get(key, call.id)
        if earlier is not None:
            # A retry after a reconnect: answer with the first run's reply, never run it twice.
            if type(earlier) is bytes:
                self.send(earlier)
            else:
                earlier.add_done_callback(lambda f: self.send(f.result()) if not f.cancelled() else None)
            return
        max_pending = self.app.max_pending_calls
        if self.pending >= max_pending:
            self.send(protocol.encode_error(call.id, ErrorCode.TOO_MANY_CALLS,
                                            f"more than {max_pending} calls pending on this connection"))
            return
        max_bytes = self.app.max_pending_bytes
        if self.pending and self.pending_bytes + size > max_bytes:
            # Each running call keeps its arguments: bound what a client can pin in memory.
            self.send(protocol.encode_error(call.id, ErrorCode.TOO_MANY_CALLS,
                                            f"more than {max_bytes} bytes of calls pending on this connection: "
                                            "wait for replies before sending more"))
            return
        self.pending += 1
        self.pending_bytes += size
        context = contextvars.copy_context()  # a ContextVar set by one call is never seen by another
        if self.pending == 1:
            # Nothing else runs for this connection: start the call right here, most actions finish
            # without waiting and need no task. (A burst from one client cannot starve the others:
            # its transport gives the loop a turn every few messages.)
            started = context.run(self._begin, call, key, size)
            if type(started) is bytes:  # answered already: the replay table keeps the reply itself
                recent.remember(key, call.id, started)
                return
            task, reply = compat.run_inline(started, context)  # an action that waits, or a session to save
            if task is None:
                recent.remember(key, call.id, reply)
                return
        else:
            task = asyncio.get_running_loop().create_task(self._run(call, key, size), context=context)
        recent.remember(key, call.id, task)
        if not task.done():
            self._track(task)

    async def _run(self, call: protocol.Call, key: tuple[str, str], size: int) -> bytes:
        """Run one call to the end (see :meth:`_begin`) and return its reply."""
        started = self._begin(call, key, size)
        if type(started) is not bytes:
            return await started  # _finish counts its reply in the replay table
        self.app.recent_calls.answered(key, call.id, started)
        return started

    def _begin(self, call: protocol.Call, key: tuple[str, str], size: int) -> Any:
        """Run one call's action now. When it finished: send its reply and return it (bytes, kept under
        ``key`` for retries of the call); else the coroutine that does so once the action is done."""
        logging_calls = not call.silent and call_log.isEnabledFor(CALLS)
        started = time.perf_counter()
        if logging_calls:
            call_log.log(CALLS, "-> %s %s", call.method, _short(call.args),
                         extra={"action": call.method, "connection": self.id, "transport": self.transport.name})
        try:
            done, value = self.app.dispatcher.run_now(call.method, call.args, self.session, self.request, self)
        except CallError as exc:
            return self._answer(call, size, started, logging_calls, None, exc)
        except BaseException:
            self._settled(size)
            raise
        if done:
            return self._answer(call, size, started, logging_calls, value, None)
        return self._finish(call, key, size, started, logging_calls, value)

    async def _finish(self, call: protocol.Call, key: tuple[str, str], size: int, started: float,
                      logging_calls: bool, pending: Any) -> bytes:
        error: CallError | None = None
        try:
            result = await pending
        except CallError as exc:
            result, error = None, exc
        except BaseException:  # cancelled (the connection closed, the server stops)
            self._settled(size)
            raise
        reply = self._answer(call, size, started, logging_calls, result, error)
        # Kept as this coroutine's task, if it waited: count the reply (a call that never waited is not
        # in the table yet, and _start_call keeps its reply).
        self.app.recent_calls.answered(key, call.id, reply)
        return reply

    def _settled(self, size: int) -> None:
        self.pending -= 1
        self.pending_bytes -= size

    def _answer(self, call: protocol.Call, size: int, started: float, logging_calls: bool, result: Any,
                error: CallError | None) -> bytes:
        """Encode, log, count and send a finished call's reply; return it."""
        self._settled(size)
        code = "ok"
        if error is None:
            try:
                reply = protocol.encode_reply(call.id, result)
            except TypeError as exc:  # the result could not be encoded as JSON
                error = CallError(ErrorCode.ACTION_FAILED, f"{call.method} returned a value that cannot be sent "
                                                           f"as JSON: {exc}")
        if error is not None:
            code = error.code.value
            reply = protocol.encode_error(call.id, error.code, error.message, error.traceback)
        if logging_calls:
            elapsed = (time.perf_counter() - started) * 1000
            extra = {"action": call.method, "duration_ms": round(elapsed, 3), "code": code,
                     "connection": self.id, "transport": self.transport.name}
            if error is None:
                call_log.log(CALLS, "<- %s %s (%.1f ms)", call.method, _short(result), elapsed, extra=extra)
            else:
                call_log.log(CALLS, "<- %s error %s: %s", call.method, error.code, error.message, extra=extra)
        if metrics.enabled():  # off in production unless asked for: no clock read, no call on the hot path
            metrics.call_done(self.app.tree.actions, call.method, code, time.perf_counter() - started)
        if self.pending == 0 and self.outbox is None and not self.closed and self.transport.unread == 0:
            # Nothing else is running or waiting to be read on this connection, so no other reply can
            # join this one: write it now rather than a loop turn later (round-trip latency).
            self.outbox = [text_frame(reply)]
            self.write_queued()
        else:
            self.send(reply)
        return reply

    # ---- calls to the browser ----

    async def call(self, method: str, *args: Any, timeout: float = client_calls.DEFAULT_TIMEOUT) -> Any:
        """Run ``SS.client.<method>(*args)`` in this tab; its result (a Promise's resolved value).

        Raises ``ss.ClientCallError`` with ``code`` ``no_such_function``, ``client_error``,
        ``bad_result`` (what the browser said), ``timeout``, ``connection_gone`` or
        ``too_many_calls``; ``ss.ClientCallArgumentError`` (a TypeError) for an argument JSON
        cannot carry; ValueError for a method outside ``SS.client``.
        """
        return await client_calls.call(self, method, args, timeout)

    # ---- presence (kept in ss.presence, so a connection that never tracks costs nothing) ----

    async def track(self, channel: str, meta: dict) -> None:
        """Be present in ``channel`` with ``meta`` (a small JSON object), on every instance, until
        :meth:`untrack`, an unsubscribe, a sign-out or the close of this connection.

        Needs a signed-in session subscribed to ``channel``; raises PresenceError (a ValueError) otherwise,
        or when ``meta`` is not a dict or over 4 KB as JSON. Tracking again replaces the meta.
        """
        await self.app.presence.track(self, channel, meta)

    async def update(self, channel: str, meta: dict) -> None:
        """Replace the meta this connection tracks in ``channel`` (PresenceError when it does not)."""
        await self.app.presence.update(self, channel, meta)

    async def untrack(self, channel: str) -> None:
        """No longer present in ``channel`` (nothing happens when this connection was not tracked there)."""
        await self.app.presence.untrack(self, channel)

    # ---- outgoing ----

    def send(self, payload: bytes) -> None:
        """Queue one message (already encoded); it goes out with the others of this loop turn."""
        send_frame_to_many(self.app.flusher, (self,), text_frame(payload))

    def send_frame(self, frame: bytes) -> None:
        """Queue a pre-built frame (see ``ss.protocol.frames.text_frame``)."""
        send_frame_to_many(self.app.flusher, (self,), frame)

    def write_queued(self) -> None:
        """Hand what was queued to the transport (called by the flusher, once per turn)."""
        frames, self.outbox = self.outbox, None
        if frames and not self.closed and not self.transport.write_frames(frames):
            self.closed = True

    # ---- lifecycle ----

    def close(self, code: int, reason: str) -> None:
        """Close with a code and reason the client understands (what was queued goes first)."""
        if self.closed:
            return
        self.write_queued()
        self.closed = True
        if self.close_reason is None:
            self.close_reason = CLOSE_REASONS.get(code, "other")
        self.transport.close(code, reason)

    def abort(self) -> None:
        """Drop a client that stopped answering (no close frame: it would not read it)."""
        if not self.closed:
            self.closed = True
            if self.close_reason is None:
                self.close_reason = "unresponsive"
            self.transport.abort()

    async def drain(self, timeout: float) -> None:
        """Stop taking calls, let running ones finish and reply, then close with 1012 (reconnect elsewhere)."""
        self.draining = True
        running = [t for t in self.tasks or () if not t.done()]
        if running:
            await asyncio.wait(running, timeout=timeout)
        self.close(protocol.CLOSE_SERVICE_RESTART, "server restarting")

    def transport_closed(self) -> None:
        """The transport is gone: leave the registry, then run 'disconnect' listeners and the close hooks."""
        self.closed = True
        self.outbox = None
        if self.client_calls:
            client_calls.fail_all(self)
        if self.app.connections.remove(self):
            self._spawn(self._after_close())

    async def _after_close(self) -> None:
        try:
            await self.session.emit("disconnect")
        except Exception:
            log.exception("a 'disconnect' listener of %r failed", self.session)
        await self.app.sessions.hooks.socket_closed(self)


def _task_failed(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("connection task failed", exc_info=task.exception())


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
