"""Every use ss makes of Tornado's and asyncio's private internals, in one place, each with its reason.

ss's hot path is faster than Tornado's public WebSocket API allows in three
places (reading frames in bulk, writing straight to the socket, starting a
call without a task), and it trims per-socket memory in a few more. Each of
those needs a name Tornado or asyncio does not promise to keep. They are all
here, and :func:`check` (run at import) verifies that every one still exists,
failing with a message that names the missing piece and the tested versions
instead of breaking later on the first socket. ``tests/test_layers.py``
checks that no other module uses a private name of another library.

Tested with Tornado 6.6 on Python 3.11 (setup.py pins tornado to 6.6.x; the 3.12+ branch of
start_call uses the public eager_start instead of the private hand-over).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import inspect
import logging
import sys
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Iterator, cast

import tornado
import tornado.httputil
import tornado.ioloop
import tornado.iostream
import tornado.platform.asyncio
import tornado.web
import tornado.websocket

from ..errors import CLOSE_INVALID_DATA
from ..protocol.frames import TEXT, FrameReader, MessageTooBig
from ..protocol.frames import unmask as _pure_unmask

if TYPE_CHECKING:
    from .websocket import SocketHandler

__all__ = ["BulkReadProtocol", "DirectReadStream", "start_call", "run_inline", "loop_has_ready_callbacks",
           "unread_bytes", "put_back", "take_buffered", "drop_upgrade_state", "lighten_stream", "LazyDeque",
           "forget_parsed_cookies", "discard_new_cookies", "unmask", "check", "TESTED_TORNADO"]

log = logging.getLogger("ss.socket")

TESTED_TORNADO = ((6, 6),)

try:  # Tornado's C helper (a public module of Tornado, built with it on every platform it ships wheels for)
    from tornado.speedups import websocket_mask as unmask
except ImportError:  # pragma: no cover - a Tornado built without its extension
    unmask = _pure_unmask


class CompatError(ImportError):
    """The installed Tornado or Python lacks an internal ss relies on."""


def _has_in_source(func: Callable[..., Any] | None, name: str) -> bool:
    """True when ``func``'s code reads or writes the attribute ``name`` (its code object's names:
    no source file read at import)."""
    code = getattr(func, "__code__", None)
    return code is not None and name in code.co_names


def _names_in(cls: type) -> list[str]:
    """Every attribute name read by the functions defined in ``cls``."""
    return [name for value in vars(cls).values() for name in getattr(getattr(value, "__code__", None), "co_names", ())]


def check() -> None:
    """Raise CompatError naming what changed, when an internal used below is gone."""
    needs = [
        # BulkReadProtocol replaces the frame loop, and hands messages to Tornado's own handling.
        (hasattr(tornado.websocket.WebSocketProtocol13, "_receive_frame_loop"), "WebSocketProtocol13._receive_frame_loop"),
        # ...and returns from it at once (reads go on in callbacks): the upgrade must await it last.
        (_has_in_source(getattr(tornado.websocket.WebSocketProtocol13, "_accept_connection", None), "_receive_frame_loop"),
         "WebSocketProtocol13._accept_connection awaiting _receive_frame_loop"),
        (hasattr(tornado.websocket.WebSocketProtocol13, "_handle_message"), "WebSocketProtocol13._handle_message"),
        (hasattr(tornado.websocket.WebSocketProtocol13, "_abort"), "WebSocketProtocol13._abort"),
        (_has_in_source(tornado.websocket.WebSocketProtocol13.__init__, "_wire_bytes_in"),
         "WebSocketProtocol13._wire_bytes_in"),
        (_has_in_source(tornado.websocket.WebSocketProtocol13.__init__, "_message_bytes_in"),
         "WebSocketProtocol13._message_bytes_in"),
        (hasattr(tornado.websocket.WebSocketProtocol, "_run_callback"), "WebSocketProtocol._run_callback"),
        # DirectReadStream: IOStream hands a READ event to _handle_read, keeps READ registered while
        # reading() is true, and registers its events with _add_io_state.
        (_has_in_source(tornado.iostream.BaseIOStream._handle_events, "_handle_read")
         and _has_in_source(tornado.iostream.BaseIOStream._handle_events, "reading"),
         "BaseIOStream._handle_events calling _handle_read and reading()"),
        (hasattr(tornado.iostream.BaseIOStream, "_add_io_state"), "BaseIOStream._add_io_state"),
        # ...and the asyncio loop Tornado registers a socket's events with (the reader ss puts in its place).
        (_has_in_source(tornado.platform.asyncio.BaseAsyncIOLoop.initialize, "selector_loop")
         and _has_in_source(tornado.platform.asyncio.BaseAsyncIOLoop.remove_handler, "remove_reader"),
         "BaseAsyncIOLoop.selector_loop"),
        # unread_bytes(): is anything buffered but not yet read on this stream?
        (_has_in_source(tornado.iostream.BaseIOStream.__init__, "_read_buffer_size"), "BaseIOStream._read_buffer_size"),
        # put_back(): the read buffer is one bytearray, read from its start (no separate read position).
        (_has_in_source(tornado.iostream.BaseIOStream.__init__, "_read_buffer")
         and not _has_in_source(tornado.iostream.BaseIOStream._consume, "_read_buffer_pos"),
         "BaseIOStream._read_buffer"),
        # drop_upgrade_state() / discard_new_cookies(): what a handler keeps after its response.
        (_has_in_source(tornado.web.RequestHandler.set_cookie, "_new_cookie"), "RequestHandler._new_cookie"),
        (_has_in_source(tornado.web.RequestHandler.clear, "_headers"), "RequestHandler._headers"),
        (_has_in_source(tornado.web.RequestHandler.flush, "_transforms"), "RequestHandler._transforms"),
        (_has_in_source(tornado.httputil.HTTPServerRequest.__init__, "server_connection"),
         "HTTPServerRequest.server_connection"),
        # lighten_stream(): IOStream's two write queues, and the operations it does on them.
        (_has_in_source(tornado.iostream.BaseIOStream.__init__, "_write_futures"), "BaseIOStream._write_futures"),
        (_has_in_source(tornado.iostream._StreamBuffer.__init__, "_buffers"), "_StreamBuffer._buffers"),
        (not ({"appendleft", "extend", "pop", "rotate", "insert"}
              & (set(_names_in(tornado.iostream.BaseIOStream)) | set(_names_in(tornado.iostream._StreamBuffer)))),
         "IOStream's use of its write queues (append, popleft, clear, [i], iteration only)"),
        # forget_parsed_cookies(): the request caches its parsed Cookie header here.
        # a property: mypy types it, read on the class, as its getter
        (_has_in_source(tornado.httputil.HTTPServerRequest.cookies.fget, "_cookies"),  # type: ignore[attr-defined]
         "HTTPServerRequest._cookies"),
        # loop_has_ready_callbacks(): asyncio's loops keep the callbacks ready to run in _ready.
        (_has_in_source(asyncio.BaseEventLoop.__init__, "_ready"), "asyncio.BaseEventLoop._ready"),
        # start_call() on Python 3.11: hand a started coroutine's future to a task, as Task.__step does.
        (sys.version_info >= (3, 12) or hasattr(asyncio.Future, "_asyncio_future_blocking"),
         "asyncio.Future._asyncio_future_blocking"),
    ]
    missing = [name for ok, name in needs if not ok]
    if missing:
        tested = ", ".join(f"{a}.{b}" for a, b in TESTED_TORNADO)
        raise CompatError(
            f"ss cannot run on this Tornado {tornado.version} / Python {sys.version.split()[0]}: "
            f"{', '.join(missing)} changed or is gone. ss is tested with Tornado {tested}: "
            f"pip install 'tornado>={TESTED_TORNADO[0][0]}.{TESTED_TORNADO[0][1]},<6.7'")


check()


def unread_bytes(stream: tornado.iostream.BaseIOStream) -> int:
    """Bytes the stream has buffered but nobody has read yet (Tornado keeps no public count)."""
    return stream._read_buffer_size


def put_back(stream: tornado.iostream.BaseIOStream, data: bytes) -> None:
    """Return bytes read from ``stream`` to the front of its read buffer: the next read gets them again."""
    stream._read_buffer[:0] = data
    stream._read_buffer_size += len(data)


def take_buffered(stream: tornado.iostream.BaseIOStream) -> bytes:
    """Everything ``stream`` has buffered but nobody has read, removed from it."""
    if not stream._read_buffer_size:
        return b""
    data = bytes(stream._read_buffer)
    del stream._read_buffer[:]
    stream._read_buffer_size = 0
    return data


class DirectReadStream(tornado.iostream.IOStream):
    """What an upgraded plain-TCP socket's IOStream becomes once ss reads the socket itself.

    Never made directly: :meth:`BulkReadProtocol._receive_frame_loop` switches the class
    of the stream Tornado made. IOStream then keeps READ registered all the time, also while
    a write is pending; the protocol's reader takes the READ events, from the selector itself
    or, where Tornado's events do not come from the running loop's selector, through
    ``_ss_readable`` instead of IOStream's own reads. Writing, closing and the loop
    registration stay IOStream's.
    """

    _ss_readable: Callable[[], None]

    def reading(self) -> bool:
        return True

    def _handle_read(self) -> None:
        self._ss_readable()


def queued_bytes(stream: tornado.iostream.BaseIOStream) -> int:
    """Bytes ``stream`` holds that the kernel has not taken yet (IOStream's write buffer)."""
    return int(getattr(stream, "_write_buffer_size", 0) or 0)


def stop_listening(server: Any, take_queued: bool = True) -> None:
    """``server.stop()`` (a Tornado TCPServer), after accepting every connection already queued.

    ``stop()`` closes the listening sockets, and the kernel resets whatever waits in their
    accept queues: with SO_REUSEPORT workers, connections a stopping worker's socket had been
    given. Taking them first (``TCPServer._handle_connection``, what its accept handler calls)
    serves them instead. Not for a socket shared by workers: the others take its queue.
    """
    for sock in list(getattr(server, "_sockets", {}).values()) if take_queued else ():
        while True:
            try:
                connection, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            server._handle_connection(connection, address)
    server.stop()


def histogram_add(child: Any, buckets: list, total: float) -> None:
    """Add pre-counted observations to a prometheus_client Histogram child (ss/metrics.py).

    ``buckets[i]`` observations fell in bucket i (the first upper bound >= the value), their
    sum is ``total``: what ``observe()`` does per value, once per bucket, through the child's
    ``_buckets`` and ``_sum`` (prometheus_client 0.20-0.26; setup.py pins below 1).
    """
    for index, count in enumerate(buckets):
        if count:
            child._buckets[index].inc(count)
    child._sum.inc(total)


def loop_has_ready_callbacks(loop: Any) -> bool | None:
    """True when the loop has callbacks ready to run this turn (write batching waits for them).

    None when the loop does not say: uvloop keeps its ready queue in C, out of Python's
    reach (the flusher then watches its own sends, ss/realtime/outbox.py).
    """
    ready = getattr(loop, "_ready", None)
    return None if ready is None else bool(ready)


def forget_parsed_cookies(request: tornado.httputil.HTTPServerRequest) -> None:
    """Drop the request's parsed cookies: a socket would otherwise keep them for its whole life."""
    request.__dict__.pop("_cookies", None)


def drop_upgrade_state(handler: tornado.web.RequestHandler) -> None:
    """After the 101 response: what Tornado keeps for the upgrade but a socket never uses again.

    The headers and cookie built for the 101 (about 1.2 KB), the output transforms
    and template helpers (``ui``); the request's HTTP/1
    connection and server connection (the stream is detached from them, and they
    hold the finished request loop's task and coroutine, about 1 KB).
    """
    handler.__dict__.pop("_new_cookie", None)
    handler._headers = tornado.httputil.HTTPHeaders()
    # The output transforms ran when the 101 was written, and templates are never rendered on a
    # socket: Tornado drops ``ui`` itself when the socket closes (_break_cycles).
    handler.__dict__["_transforms"] = ()
    handler.ui = None  # type: ignore[assignment]  # as Tornado does in _break_cycles
    request = handler.request
    request.connection = None
    request.server_connection = None


class LazyDeque:
    """Stands in for an empty deque of IOStream's until the first append, which puts a real one in its place.

    An empty ``collections.deque`` already holds a 64-slot block (about 620 bytes);
    an idle socket has two (pending write buffers, write futures) that most sockets
    never use: only a reader slower than its messages makes IOStream queue. Once one
    is used, ``owner.<name>`` is a plain deque (no wrapper on the write path after that).
    Offers what IOStream does on an empty queue.
    """

    __slots__ = ("_owner", "_name")

    def __init__(self, owner: Any, name: str) -> None:
        self._owner = owner
        self._name = name

    def append(self, item: Any) -> None:
        setattr(self._owner, self._name, collections.deque((item,)))

    def popleft(self) -> Any:
        raise IndexError("pop from an empty deque")

    def clear(self) -> None:
        pass

    def __getitem__(self, index: int) -> Any:
        raise IndexError("deque index out of range")

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False


def lighten_stream(stream: tornado.iostream.BaseIOStream) -> None:
    """Give a long-lived, mostly idle stream (an upgraded socket) write queues that cost nothing while empty."""
    if not stream._write_futures and not stream._write_buffer._buffers:
        stream._write_futures = LazyDeque(stream, "_write_futures")  # type: ignore[assignment]
        stream._write_buffer._buffers = LazyDeque(stream._write_buffer, "_buffers")  # type: ignore[assignment]


def discard_new_cookies(handler: tornado.web.RequestHandler) -> None:
    """Forget cookies set on this response: an error answer must never carry a session cookie.

    (``RequestHandler.clear()``, which ``send_error`` calls, resets the headers but keeps them.)
    """
    handler.__dict__.pop("_new_cookie", None)


_EAGER = sys.version_info >= (3, 12)


def start_call(coro: Coroutine, on_done: Callable[[asyncio.Future], Any] | None = None) -> asyncio.Future:
    """Run ``coro`` in a context of its own, its first step right now; the future of its result.

    Most actions finish without waiting: they need no task and no extra loop turn.
    A coroutine that does wait carries on in a task with the same context, so a
    ``contextvars.ContextVar`` set by one call is never seen by another, however
    they were started. ``on_done`` is added as a done callback.
    """
    future, value = run_inline(coro)
    if future is None:
        future = asyncio.get_running_loop().create_future()
        future.set_result(value)
    if on_done is not None:
        future.add_done_callback(on_done)
    return future


def run_inline(coro: Coroutine, context: contextvars.Context | None = None) -> tuple[asyncio.Future | None, Any]:
    """Run ``coro``'s first step now, in ``context`` (default: a copy of the current one):
    ``(None, result)`` when that finished it, else ``(future, None)`` (it waits on something,
    or it raised: the future says so).

    What :func:`start_call` does, without a future for the result of a coroutine that
    never waited.
    """
    loop = asyncio.get_running_loop()
    if context is None:
        context = contextvars.copy_context()
    if _EAGER:  # Python 3.12+: eager tasks run their first step synchronously, in their context
        task = asyncio.Task(coro, loop=loop, context=context, eager_start=True)  # type: ignore[call-arg]
        if task.done() and not task.cancelled() and task.exception() is None:
            return None, task.result()
        return task, None
    try:
        waiting_on = context.run(coro.send, None)
    except StopIteration as done:
        return None, done.value
    except BaseException as exc:
        future = loop.create_future()
        future.set_exception(exc)
        return future, None
    return loop.create_task(_resume(coro, waiting_on), context=context), None


async def _resume(coro: Coroutine, waiting_on: Any) -> Any:
    """Carry on a coroutine started inline (see :func:`start_call`), waiting on ``waiting_on``."""
    while True:
        if waiting_on is None:
            await asyncio.sleep(0)  # it asked for one turn of the loop
        else:
            waiting_on._asyncio_future_blocking = False  # taken over, as a Task does with what it is given
            try:
                await waiting_on
            except asyncio.CancelledError:
                if not waiting_on.cancelled():  # this task was cancelled, not what it waited on
                    coro.close()
                    raise
            except BaseException:
                pass
        try:
            waiting_on = coro.send(None)
        except StopIteration as done:
            return done.value


class BulkReadProtocol(tornado.websocket.WebSocketProtocol13):
    """Tornado's RFC 6455 protocol, reading frames in bulk (see :mod:`ss.protocol.frames`).

    Each read takes whatever the socket has (up to 64 KB) and every message in
    it is handled in one pass; writing, closing and the handling of each
    message (text, ping, pong, close) stay Tornado's. A protocol error ends the
    connection as Tornado would (1009 for a message over the size limit).

    Reading is driven by callbacks, not by a coroutine that lives as long as the
    socket: Tornado's frame loop keeps the whole upgrade suspended under it (the
    handler's ``_execute`` task, ``get``, ``accept_connection``,
    ``_accept_connection``, the finished ``open()``), about 2 KB per idle socket.
    Here the loop only arms the first read and returns, so those end; between
    messages a socket is one pending read with a callback.
    """

    # Not in __dict__: one more key there makes every socket's dict double.
    __slots__ = ("_direct", "_left_in_read", "_paused", "_reader", "_turn", "_work")
    handler: SocketHandler  # Tornado types it as its delegate protocol; ss's handler has request and write_queued

    READ_SIZE = 64 * 1024
    TURN = 16                 # messages handled before other sockets get a turn of the loop
    YIELD_AFTER = 256 * 1024  # bytes handled before other sockets get a turn

    def __init__(self, handler: Any, mask_outgoing: bool, params: Any) -> None:
        super().__init__(handler, mask_outgoing, params)
        self._direct = False   # reading the socket itself (DirectReadStream), not through IOStream's reads
        self._paused = False   # direct: the last read's messages are not all handled yet; read no more
        self._left_in_read = 0
        self._reader: FrameReader | None = None
        self._turn = 0
        self._work = 0

    @property
    def unread(self) -> int:
        """Messages of this read not yet handled, plus bytes buffered but not read (0: nothing waits)."""
        return self._left_in_read + unread_bytes(self.stream)

    async def _receive_frame_loop(self) -> None:
        # What Tornado's _accept_connection awaits last, after open(): arm the first read and return.
        self._reader = FrameReader(self.params.max_message_size, unmask)
        stream = self.stream
        if type(stream) is tornado.iostream.IOStream and not stream.closed() \
                and not inspect.iscoroutinefunction(self.handler.on_message):
            # A plain TCP socket: read it straight from the kernel when the loop says it is readable
            # (one recv per event; no read future, buffer copies or extra loop turn per message).
            # TLS streams keep IOStream's reads, which decrypt.
            early = take_buffered(stream)  # frames the client sent right behind its upgrade request
            stream.__class__ = DirectReadStream
            self._direct = True
            stream._add_io_state(tornado.ioloop.IOLoop.READ)
            loop = asyncio.get_running_loop()
            if getattr(stream.io_loop, "selector_loop", None) is loop:
                # Tornado's loop registered READ with asyncio for this socket, and keeps it registered
                # (DirectReadStream.reading()). Put this reader in its place: a readable socket then
                # calls it straight from the selector, not through Tornado's two event dispatchers.
                # Tornado still removes it with its own when the stream closes.
                loop.add_reader(stream.socket.fileno(), self._on_readable)
            else:  # Tornado's events come from elsewhere (a selector thread): it hands READ to the stream
                stream._ss_readable = self._on_readable  # type: ignore[attr-defined]
            # No read is pending to fail when the stream is closed from elsewhere (a slow reader
            # cut off, a failed write): its close callback ends the socket instead.
            stream.set_close_callback(self._stream_closed)
            if early:
                self._take(early)
            return
        self._read_next()

    def _on_readable(self) -> None:
        """Direct reading: the socket has bytes (or its end) for us."""
        if self._paused or self._reader is None:
            return  # the last read's messages are still being handled: they read on when done
        stream = self.stream
        try:
            data = stream.socket.recv(self.READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # reset by the peer: the end of the stream, as IOStream reads it
            stream.close(exc_info=exc)
            data = b""
        if not data:
            self._abort()
            self._ended()
            return
        self._take(data)

    def _stream_closed(self) -> None:
        if self._reader is not None:  # not ended yet: closed by something other than this reader
            self._abort()
            self._ended()

    def _take(self, data: bytes) -> None:
        """Direct reading: handle one read's messages; pause reading until they all are."""
        self._wire_bytes_in += len(data)
        assert self._reader is not None  # made before the first read
        if not self._handle_messages(self._reader.feed(data), 0, len(data)):
            self._paused = True

    def _read_next(self) -> None:
        """Ask for the next read: handled at once when the stream has it buffered, else by _on_read."""
        if self._direct:  # the last read's messages are all handled: take the next read's now
            self._paused = False
            if not self.client_terminated:
                self._on_readable()
            return
        while not self.client_terminated:
            try:
                # A Future (typed as an Awaitable): Tornado's reads return asyncio Futures.
                future = cast(asyncio.Future, self.stream.read_bytes(self.READ_SIZE, partial=True))
            except tornado.iostream.StreamClosedError:
                self._abort()
                break
            if not future.done():
                future.add_done_callback(self._on_read)
                return
            if not self._handle_read(future):
                return
        self._ended()

    def _on_read(self, future: asyncio.Future) -> None:
        if self._handle_read(future):
            self._read_next()

    def _handle_read(self, future: asyncio.Future) -> bool:
        """Handle one read's messages. True: read on now; False: a later callback reads on, or the socket ended."""
        # The end of the stream is read as a value: raising it here would tie the exception, its
        # traceback, this frame and the future into a cycle per closed socket for the collector.
        error = future.exception()
        if error is not None:
            if not isinstance(error, tornado.iostream.StreamClosedError):
                raise error
            self._abort()
            self._ended()
            return False
        data = future.result()
        self._wire_bytes_in += len(data)
        assert self._reader is not None  # made before the first read
        return self._handle_messages(self._reader.feed(data), 0, len(data))

    def _carry_on(self, messages: list, index: int, size: int) -> None:
        """The rest of a read, after other sockets had their turn (or a coroutine handler finished)."""
        if self._handle_messages(messages, index, size):
            self._read_next()

    def _carry_after(self, messages: list, index: int, size: int, _done: Any) -> None:
        self._carry_on(messages, index, size)

    def _handle_messages(self, messages: list, index: int, size: int) -> bool:
        try:
            return self._handle_messages_unguarded(messages, index, size)
        except Exception:
            log.exception("reading from socket from %s failed", self.handler.request.remote_ip)
            self._left_in_read = 0
            self._abort()
            self._ended()
            return False

    def _handle_messages_unguarded(self, messages: list, index: int, size: int) -> bool:
        count = len(messages)
        invalid_utf8 = False
        while index < count and not self.client_terminated:
            opcode, payload = messages[index]
            index += 1
            self._left_in_read = count - index
            if opcode == TEXT:
                # Decoded here rather than by Tornado, which drops the TCP connection on bad
                # UTF-8; RFC 6455 asks for a close frame with 1007 (after earlier replies).
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    invalid_utf8 = True
                    break
                self._message_bytes_in += len(payload)
                if self._direct:  # on_message is a plain method (checked when reading went direct): call it
                    self.handler.on_message(text)  # as is (what it raises ends the socket, in _handle_messages)
                    handled = None
                else:
                    handled = self._run_callback(self.handler.on_message, text)
            else:
                handled = self._handle_message(opcode, payload)
            if self.client_terminated:
                break
            if handled is not None:  # a coroutine on_message: the next message waits for it
                handled.add_done_callback(functools.partial(self._carry_after, messages, index, size))
                return False
            self._turn += 1
            if self._turn >= self.TURN and index < count:
                self._turn = 0
                # A flood of calls from one tab waits its turn.
                asyncio.get_running_loop().call_soon(self._carry_on, messages, index, size)
                return False
        self._left_in_read = 0
        if self.client_terminated:
            self._ended()
            return False
        reader = self._reader
        assert reader is not None
        if invalid_utf8:
            log.info("closing socket from %s: a text frame that is not UTF-8", self.handler.request.remote_ip)
            self.handler.write_queued()
            self.close(CLOSE_INVALID_DATA, "text frame is not UTF-8")
            self._abort()
            self._ended()
            return False
        if reader.error is not None:
            # Replies to the messages before the bad frame go out first, then the close frame.
            log.info("closing socket from %s: %s", self.handler.request.remote_ip, reader.error)
            self.handler.write_queued()
            self.close(reader.error.code, "message too big" if isinstance(reader.error, MessageTooBig)
                       else "protocol error")
            self._abort()
            self._ended()
            return False
        self._work += size
        if self._work >= self.YIELD_AFTER:
            self._work = 0
            asyncio.get_running_loop().call_soon(self._read_next)
            return False
        return True

    def _ended(self) -> None:
        """Reading is over (closed by either side): tell the handler, once, as Tornado's frame loop does."""
        self._reader = None
        self.handler.on_ws_connection_close(self.close_code, self.close_reason)
