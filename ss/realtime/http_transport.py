"""The HTTP fallback transport: the same Connection and messages as the WebSocket, carried by plain requests.

This module holds the transport and the app's registry of HTTP connections;
``http_handlers.py`` the Tornado handlers of the requests below, and
``http_queue.py`` the queue between a connection's owner and its polls.

For browsers (or networks: proxies, firewalls) where a WebSocket does not get
through. The messages are exactly those of docs/protocol.md; only the carrier
changes::

    POST /_ss/http/open?tab=T[&recover=1]   header X-SS-Transport: http
         -> 200 {"connection": ID, "secret": S, "poll_timeout": seconds}
    GET  /_ss/http/poll?c=ID[&stream=1]     header X-SS-Secret: S
         -> 200, one server message per line (the init first), each batch after a
            line #N (the number of its first message); with stream=1 the
            response stays open and each batch is flushed as it comes, for at most
            limits.http_poll_timeout seconds; without it (long-poll, for proxies
            that buffer) it ends as soon as there is something, or at that timeout
            with an empty body
    POST /_ss/http/send?c=ID[&replies=1]    header X-SS-Secret: S, body: messages, one per line
         -> 204; with replies=1, 200 with the messages ready by the answer (one per
            line, the replies of its calls that answer within REPLY_WAIT) and
            X-SS-Seq: the number of the first (the connection's messages are
            numbered from 0, the init, across polls and POST answers)
    POST /_ss/http/close?c=ID               header X-SS-Secret: S -> 204 (the tab is leaving)

Errors are ``{"error": {"code", "message"}}`` with the status of the code:
410 ``connection_gone`` for a connection that is closed or unknown (with
``"close": {"code", "reason"}`` when the server closed it, the WebSocket close
code the browser acts on), 403 ``bad_token`` without the right secret, 400
``bad_message`` for a malformed request, 413 ``too_big``.

Decisions:

* The accepting instance owns the Connection; the queue between it and the
  polls is :mod:`ss.realtime.http_queue` (in memory with the embedded store,
  in Redis otherwise), so polls and POSTs may reach any instance: no sticky
  sessions. When the owning instance dies, the client's next request gets
  ``connection_gone`` and it reconnects (recovery by offsets brings its
  pub/sub messages back, and unanswered calls are sent again).
* The secret is per connection, random, and travels in a header, so a page on
  another site can neither read it nor make a browser send it; the open
  request needs a custom header and passes the same origin check as the
  WebSocket upgrade.
* A connection nobody polls (nor posts to) for ``limits.http_idle_timeout``
  seconds is closed like a dropped socket (its 'disconnect' listeners and
  hooks run); one timer per process checks them (:class:`HttpTransports`).
* Only the newest poll of a connection takes messages (an older one ends
  empty), so messages never split between two responses.
* A POST with ``replies=1`` makes a sequential call one round trip instead of a
  POST and a message on the poll. Its answer and the poll are two carriers of one
  numbered sequence (``X-SS-Seq`` on the answer, a ``#N`` line before each poll
  batch), and the browser takes messages in that order: one that comes early
  waits for those before it. While the POST runs, the connection's messages are held for it (queued;
  no poll is woken, no stream written), so its replies go in its answer.
* Nothing here runs per WebSocket message or fan-out member: the WebSocket
  path is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import tornado.web

from ..errors import CLOSE_POLICY
from ..protocol.frames import frame_payload
from ..rpc.request import RequestInfo
from .accept import accept_client, start_connection
from .connection import Connection
from .http_queue import Gone, LocalQueues, SharedQueues

__all__ = ["HttpTransport", "HttpTransports", "PollWatch", "hub_of", "poll_batch", "HTTP_PREFIX", "SECRET_HEADER",
           "OPEN_HEADER"]

log = logging.getLogger("ss.socket")

HTTP_PREFIX = "/_ss/http"
SECRET_HEADER = "X-SS-Secret"
OPEN_HEADER = "X-SS-Transport"
#: Messages handled before the loop gets a turn (one POST full of calls does not starve the others).
_BATCH = 16
#: A POST body may hold this many times limits.max_frame_bytes (one message stays under max_frame_bytes).
_BODY_FRAMES = 8
SEND_PATH = "/_ss/http/send"
#: Seconds a POST with replies=1 waits for its calls that did not answer at once (then their replies
#: take the poll): short, because the browser sends its next POST only after this one's answer.
REPLY_WAIT = 0.005
SEQ_HEADER = "X-SS-Seq"


def poll_batch(first: int, messages: list[bytes]) -> bytes:
    """A batch of a poll's response: the line ``#<number of the first message>``, then one message per
    line (so the client puts polls and POST answers in one order). No messages: an empty line."""
    if not messages:
        return b"\n"
    return b"#%d\n%b\n" % (first, b"\n".join(messages))


def send_body_limit(max_frame_bytes: int) -> int:
    """The body limit of a POST of the HTTP transport: a batch of up to eight full-size messages."""
    return max_frame_bytes * _BODY_FRAMES


def send_request_limit(config: Any) -> int:
    """The body limit the HTTP server applies to ``POST /_ss/http/send`` (ss/web/guard.py): the batch
    limit, unless ``http.max_body_bytes`` is set (then that, as for every URL)."""
    value = config.http.get("max_body_bytes")
    return send_body_limit(config.limits.max_frame_bytes) if value is None else int(value)


CLOSE_ABNORMAL = 1006
#: Seconds between checks, during a held poll, that the instance owning the connection still lives.
OWNER_CHECK = 3.0


class HttpTransport:
    """The Transport of one connection carried over HTTP, on the instance that owns it."""

    __slots__ = ("hub", "cid", "connection", "remote_ip", "_pending", "_flushing", "_unread", "_end", "_held",
                 "_flush_task")

    name = "http"

    def __init__(self, hub: "HttpTransports", remote_ip: str | None) -> None:
        self.hub = hub
        self.cid = ""
        self.connection: Connection | None = None
        self.remote_ip = remote_ip
        self._pending: list[bytes] = []
        self._flushing = False
        self._unread = 0
        self._end: tuple[int, str] | None = None
        self._held = 0  # POSTs that will answer with the messages (in Redis: they stay in _pending meanwhile)
        self._flush_task: asyncio.Future | None = None

    @property
    def unread(self) -> int:
        return self._unread

    def write_frames(self, frames: list[bytes]) -> bool:
        if self._end is not None:
            return False
        queues = self.hub.queues
        if type(queues) is LocalQueues and not self._pending:
            # In memory: queue now, so a waiting poll wakes this very turn.
            if queues.push_now(self.cid, [frame_payload(frame) for frame in frames]) > self.hub.max_bytes:
                self._too_slow()
                return False
            return True
        self._pending.extend(frame_payload(frame) for frame in frames)
        if not self._held:
            self._kick()
        return True

    def _too_slow(self) -> None:
        log.warning("closing HTTP connection from %s: it is not reading its messages (over %d bytes queued)",
                    self.remote_ip, self.hub.max_bytes)
        self._end = (CLOSE_POLICY, "not reading its messages")
        if self.connection is not None:
            self.connection.closed = True
            asyncio.get_running_loop().call_soon(self.connection.transport_closed)
        self._kick()  # records the close

    def close(self, code: int, reason: str) -> None:
        self._finish(code, reason)

    def abort(self) -> None:
        self._finish(CLOSE_ABNORMAL, "the client stopped polling")

    def _finish(self, code: int, reason: str) -> None:
        if self._end is not None:
            return
        self._end = (code, reason)
        self._kick()
        if self.connection is not None:
            asyncio.get_running_loop().call_soon(self.connection.transport_closed)

    def _kick(self) -> None:
        if not self._flushing:
            self._flushing = True
            self._flush_task = task = asyncio.ensure_future(self._flush())
            task.add_done_callback(_task_failed)
            self.hub.flushing.add(task)
            task.add_done_callback(self.hub.flushing.discard)

    async def _flush(self) -> None:
        """Move queued payloads to the store in order; then, once closed, record the close there."""
        hub = self.hub
        try:
            while self._pending and not self._held:
                batch, self._pending = self._pending, []
                total = await hub.queues.push(self.cid, batch, hub.idle_timeout)
                if total > hub.max_bytes and self._end is None:
                    self._too_slow()
            if self._end is not None and self.cid in hub.local:
                del hub.local[self.cid]
                await hub.queues.closed(self.cid, *self._end)
        except Exception as exc:  # the store is down: the client's polls fail too, and it reconnects
            log.error("HTTP connection %s: the store refused its messages: %s", self.cid, exc)
            if self._end is None:
                self._end = (CLOSE_ABNORMAL, "store unavailable")
                if self.connection is not None:
                    self.connection.closed = True
                    asyncio.get_running_loop().call_soon(self.connection.transport_closed)
            self.hub.local.pop(self.cid, None)
        finally:
            self._flushing = False
            self._flush_task = None
        if self._pending and not self._held:
            self._kick()

    async def receive(self, body: bytes) -> None:
        """Hand a POST's messages (one per line) to the connection, giving the loop a turn now and then."""
        connection = self.connection
        if connection is None:
            return
        lines = [line for line in body.split(b"\n") if line.strip()]
        self._unread += len(lines)
        try:
            for n, line in enumerate(lines, 1):
                self._unread -= 1
                if connection.closed:
                    break
                connection.receive(line)
                if n % _BATCH == 0:
                    await asyncio.sleep(0)
        finally:
            self._unread = 0

    async def answer(self, body: bytes) -> tuple[int, list[bytes]]:
        """Handle a POST's messages and take those ready by its answer: ``(number of the first, messages)``.

        Waits up to REPLY_WAIT for the calls of this POST that did not answer at once.
        """
        connection = self.connection
        queues = self.hub.queues
        if connection is None:
            return 0, []
        self._held += 1
        if isinstance(queues, LocalQueues):
            queues.hold(self.cid)
            try:
                await self._run(connection, body)
                return queues.take_all(self.cid)
            finally:
                self._held -= 1
                queues.release(self.cid)
        try:
            await self._run(connection, body)
            while self._flush_task is not None:  # what was sent before the hold reaches the store first
                await asyncio.shield(self._flush_task)
            held, self._pending = self._pending, []
            return await queues.take_all(self.cid, held)
        finally:
            self._held -= 1
            if self._pending and not self._held:
                self._kick()

    async def _run(self, connection: Connection, body: bytes) -> None:
        """Hand the messages over; wait (a little) for the calls among them that did not answer at once."""
        running = connection.tasks
        before = set(running) if running else ()
        await self.receive(body)
        running = connection.tasks
        if running:
            started = [task for task in running if task not in before]
            if started:
                await asyncio.wait(started, timeout=REPLY_WAIT)
        connection.write_queued()  # what the flusher would write at the end of this turn


class PollWatch:
    """Set by a poll's handler when the client dropped the request (tab closed, network gone)."""

    __slots__ = ("left", "listener")

    def __init__(self) -> None:
        self.left = False
        self.listener: Any = None

    def client_left(self) -> None:
        self.left = True
        if self.listener is not None:
            self.listener.wake()


class HttpTransports:
    """The HTTP connections of one app: their queues, the idle timer, and what the handlers ask."""

    def __init__(self, app: Any) -> None:
        self.app = app
        limits = app.config.limits
        self.poll_timeout = float(limits.http_poll_timeout)
        # A poll holds the connection for poll_timeout; idle must leave room for the next one to arrive.
        self.idle_timeout = max(float(limits.http_idle_timeout), self.poll_timeout + 5)
        self.max_bytes = int(limits.max_outgoing_bytes)
        self.max_body = send_body_limit(limits.max_frame_bytes)
        self.max_request = send_request_limit(app.config)  # what the HTTP server lets a POST's body be
        self.keepalive: set[Any] = set()  # keep-alive connections the POSTs took over (http_keepalive.py)
        self.queues: LocalQueues | SharedQueues = SharedQueues(app.store) if app.store.shared else LocalQueues()
        self.local: dict[str, HttpTransport] = {}
        self.flushing: set[asyncio.Future] = set()  # transports moving messages (or their close) to the store
        self._timer: asyncio.TimerHandle | None = None
        self._sweeping: asyncio.Task | None = None

    # ---- open ----

    async def open(self, handler: tornado.web.RequestHandler) -> tuple[HttpTransport, str]:
        """Accept a client (raises tornado.web.HTTPError like the WebSocket upgrade): its transport and secret."""
        app = self.app
        accepted = await accept_client(handler, app, log, "HTTP connection")
        request = handler.request
        transport = HttpTransport(self, request.remote_ip)
        info = RequestInfo("http", request.remote_ip, request.headers, request.protocol == "https")
        connection = Connection(app, transport, accepted.session, accepted.tab, info,
                                recovering=accepted.recovering)
        transport.connection = connection
        transport.cid = connection.id
        secret = secrets.token_urlsafe(24)
        await self.queues.register(connection.id, secret, transport.receive, self.idle_timeout)
        self.local[connection.id] = transport
        self._ensure_sweeping()
        await start_connection(app, connection)
        log.debug("HTTP connection open: %r", connection)
        return transport, secret

    # ---- incoming ----

    async def send(self, cid: str, secret: str, body: bytes, replies: bool = False) -> tuple[int, list[bytes]]:
        """Hand a POST's messages to the connection; with ``replies``, take the messages ready by the
        answer: ``(number of the first, messages)`` (else ``(0, [])``). Raises Gone or BadSecret."""
        await self.queues.check(cid, secret)
        transport = self.local.get(cid)
        if transport is not None:
            await self.queues.touch(cid, self.idle_timeout)
            if replies:
                return await transport.answer(body)
            await transport.receive(body)
            return 0, []
        queues = self.queues
        if type(queues) is not SharedQueues or not await queues.forward(cid, body):
            raise Gone(owner_lost=True)
        await queues.touch(cid, self.idle_timeout)
        if replies:  # another instance runs the calls: answer with what is queued now, the rest takes the poll
            return await queues.take_all(cid, [])
        return 0, []

    def close_from_client(self, cid: str) -> None:
        transport = self.local.get(cid)
        if transport is not None and transport.connection is not None:
            transport.connection.close(1000, "the client closed the connection")

    # ---- outgoing ----

    async def poll(self, cid: str, secret: str, write: Any | None, watch: "PollWatch | None" = None,
                   sink: Any | None = None) -> tuple[int, list[bytes]]:
        """Wait for the connection's messages, for at most poll_timeout seconds: ``(number of the first,
        messages)``.

        ``write`` (streaming) is called with each numbered batch ``(first, messages)`` as it comes
        (first with ``(0, [])``: the empty line at once) and the poll goes on until the timeout;
        without it the first batch is returned. ``watch`` tells when the client dropped the request:
        the poll ends at once and does not count as a sign of life. Raises Gone (before anything was
        written) or BadSecret. ``sink`` (streaming, in memory): a plain function that writes a
        numbered batch to the response at once; while it works, messages go to it without waking
        this coroutine (a fan-out then costs each HTTP connection one write, as it costs a socket).
        """
        queues = self.queues
        await queues.check(cid, secret)
        number = await queues.start_poll(cid)
        listener = await queues.listen(cid)
        if watch is not None:
            watch.listener = listener
        deadline = time.monotonic() + self.poll_timeout
        wrote = False
        nothing: tuple[int, list[bytes]] = (0, [])
        try:
            if write is not None:
                # An empty line at once: a browser that does not get it soon knows a proxy holds the stream back.
                if not await write(0, []):
                    return nothing
                wrote = True
            while True:
                if watch is not None and watch.left:
                    return nothing  # nobody reads this response: leave the messages for the next poll
                taken = await queues.take(cid, number)
                if taken is None:
                    return nothing  # a newer poll of this connection took over
                if taken[1]:
                    if write is None:
                        return taken
                    if not await write(*taken):
                        return nothing
                    wrote = True
                    continue
                if sink is not None and type(queues) is LocalQueues:
                    queues.attach(cid, number, sink)
                gone = await queues.ended(cid)
                if gone is not None:
                    if wrote:
                        return nothing  # the next poll learns why
                    raise gone
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return nothing
                await listener.wait(min(remaining, OWNER_CHECK))  # then look again whether the owner lives
        finally:
            if sink is not None and type(queues) is LocalQueues:
                queues.detach(cid, sink)
            await queues.unlisten(cid, listener)
            if watch is None or not watch.left:
                try:
                    await queues.touch(cid, self.idle_timeout)
                except Exception:
                    pass

    # ---- idle connections ----

    def _ensure_sweeping(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval(), self._sweep)

    def _interval(self) -> float:
        return max(0.5, self.idle_timeout / 3)

    def _sweep(self) -> None:
        self._timer = None
        if not self.local:
            return  # started again by the next connection
        self._sweeping = asyncio.ensure_future(self._close_idle())
        self._sweeping.add_done_callback(_task_failed)
        self._timer = asyncio.get_running_loop().call_later(self._interval(), self._sweep)

    async def _close_idle(self) -> None:
        cids = list(self.local)
        try:
            idle = await self.queues.idle(cids, self.idle_timeout)
            await self.queues.refresh([cid for cid in cids if cid not in idle], self.idle_timeout)
        except Exception as exc:
            log.warning("could not check HTTP connections for idleness: %s", exc)
            return
        for cid in idle:
            transport = self.local.get(cid)
            if transport is not None and transport.connection is not None and not transport.connection.closed:
                log.info("closing HTTP connection from %s: not polled for %.0fs",
                         transport.remote_ip, self.idle_timeout)
                transport.connection.abort()

    async def close(self) -> None:
        """On shutdown, after the connections were drained: record their closes, then let go of the store."""
        for connection in list(self.keepalive):
            connection.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.flushing:
            await asyncio.wait(list(self.flushing), timeout=2)
        await self.queues.close()


def hub_of(app: Any) -> HttpTransports:
    """The app's HTTP connections (made by the first request that needs them)."""
    if app.http_transports is None:
        app.http_transports = HttpTransports(app)
    return app.http_transports


def _task_failed(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("HTTP transport task failed", exc_info=task.exception())
