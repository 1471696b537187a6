"""The HTTP endpoints of the fallback transport (``/_ss/http/...``): the Tornado side of ``http_transport``.

What each request does and answers is described in ``ss/realtime/http_transport.py``
and docs/protocol.md; these handlers only read the request, call
:class:`~ss.realtime.http_transport.HttpTransports` and turn its exceptions into
the error answers of ``ss.errors`` (``{"error": {"code", "message"}}`` with the
code's status, plus ``"close"`` when the server closed the connection).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import urllib.parse
from typing import Any, cast

import orjson
import tornado.http1connection
import tornado.httputil
import tornado.iostream
import tornado.web

from ..errors import ErrorCode, error_body
from ..store import STORE_ERRORS
from . import compat
from .http_keepalive import SendConnection, response, takes_over
from .http_queue import BadSecret, Gone
from .http_transport import HTTP_PREFIX, OPEN_HEADER, SECRET_HEADER, SEQ_HEADER, PollWatch, hub_of, poll_batch

log = logging.getLogger("ss.socket")

__all__ = ["http_routes", "client_boot", "fallback_enabled"]


_MISSING_TARGET = (f"a request of the HTTP transport needs ?c=<connection id> and the {SECRET_HEADER} header "
                   f"from /_ss/http/open")


def _gone_body(exc: Gone) -> tuple[dict, tuple[int, str] | None]:
    """The error (and the close, when the server closed it) of a connection that is gone."""
    if exc.close is not None:
        message = f"the server closed this connection ({exc.close[0]} {exc.close[1]}): open a new one"
    elif exc.owner_lost:
        message = "the server instance holding this connection is gone: open a new one"
    else:
        message = "no such connection (closed after being idle, or the server restarted): open a new one"
    return error_body(ErrorCode.CONNECTION_GONE, message), exc.close


class _HttpHandler(tornado.web.RequestHandler):
    """What the fallback's handlers share: errors as JSON with ss's codes, no caching."""

    def initialize(self, app: Any) -> None:
        self.app = app

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self) -> None:
        pass  # the secret header (open: a custom header and the origin check) does that job

    def prepare(self) -> None:
        # As for sockets: Nagle would hold small answers back ~40 ms waiting for the client's ACK.
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:
            stream.set_nodelay(True)

    def fail(self, code: ErrorCode, message: str, close: tuple[int, str] | None = None) -> None:
        compat.discard_new_cookies(self)
        self.clear()
        self.set_default_headers()
        self.set_status(code.http_status)
        self.set_header("Content-Type", "application/json")
        body: dict[str, Any] = {"error": error_body(code, message)}
        if close is not None:
            body["close"] = {"code": close[0], "reason": close[1]}
        self.finish(orjson.dumps(body))

    def gone(self, exc: Gone) -> None:
        error, close = _gone_body(exc)
        self.fail(ErrorCode.CONNECTION_GONE, error["message"], close)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        compat.discard_new_cookies(self)
        reason = tornado.httputil.responses.get(status_code, "error")
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            reason = exc.log_message
        # The refusals of accept_client, as the error codes the WebSocket upgrade's statuses stand for.
        code = {403: ErrorCode.ORIGIN_REFUSED, 429: ErrorCode.TOO_MANY_CONNECTIONS,
                503: ErrorCode.STORE_UNAVAILABLE}.get(status_code)
        if code is None:
            code = ErrorCode.BAD_MESSAGE if status_code < 500 else ErrorCode.ACTION_FAILED
            if status_code >= 500:
                reason = "the server failed to answer: try again"
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps({"error": error_body(code, reason)}))

    def target(self) -> tuple[str, str] | None:
        """``(connection id, secret)`` of the request, or None after answering 400."""
        cid = self.get_query_argument("c", "")
        secret = self.request.headers.get(SECRET_HEADER, "")
        if not cid or len(cid) > 64 or not secret or len(secret) > 128:
            self.fail(ErrorCode.BAD_MESSAGE, _MISSING_TARGET)
            return None
        return cid, secret


class OpenHandler(_HttpHandler):
    async def post(self) -> None:
        if self.request.headers.get(OPEN_HEADER, "") != "http":
            self.fail(ErrorCode.BAD_MESSAGE, f"open the HTTP transport with the header {OPEN_HEADER}: http")
            return
        hub = hub_of(self.app)
        transport, secret = await hub.open(self)
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps({"connection": transport.cid, "secret": secret, "poll_timeout": hub.poll_timeout}))


class PollHandler(_HttpHandler):
    async def get(self) -> None:
        target = self.target()
        if target is None:
            return
        hub = hub_of(self.app)
        stream = self.get_query_argument("stream", "") == "1"
        write = sink = None
        if stream:
            self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
            self.set_header("X-Accel-Buffering", "no")  # nginx: pass each batch on at once

            async def write(first: int, items: list[bytes]) -> bool:
                self.write(poll_batch(first, items))
                try:
                    await self.flush()
                except tornado.iostream.StreamClosedError:
                    return False
                return True

            sink = self._sink(hub.max_bytes)
        self.watch = PollWatch()
        try:
            first, items = await hub.poll(*target, write, self.watch, sink)
        except Gone as exc:
            self.gone(exc)
            return
        except BadSecret:
            self.fail(ErrorCode.BAD_TOKEN, "wrong secret for this connection: open a new one")
            return
        if not stream:
            self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
            if items:
                self.write(poll_batch(first, items))
        self.finish()

    def _sink(self, max_bytes: int) -> Any:
        """A function writing a batch straight to this streamed response (after its headers)."""
        connection = self.request.connection
        assert connection is not None  # a request being answered has its connection
        stream = getattr(connection, "stream", None)
        if stream is None:
            return None
        stream.max_write_buffer_size = max_bytes  # a client that does not read is cut off, as a socket is
        headers_sent = False

        def sink(first: int, items: list[bytes]) -> bool:
            nonlocal headers_sent
            if stream.closed():
                return False
            try:
                if not headers_sent:
                    self.write(poll_batch(first, items))
                    self.flush()  # the headers, then this batch; later batches skip the handler
                    headers_sent = True
                else:
                    connection.write(poll_batch(first, items))
            except tornado.iostream.StreamBufferFullError:
                stream.close()
                return False
            except tornado.iostream.StreamClosedError:
                return False
            return True

        return sink

    def on_connection_close(self) -> None:
        # The client dropped the poll: end it now, and let the idle timer close the connection
        # unless the client comes back (a tab that closed is cleaned up within http_idle_timeout).
        watch = getattr(self, "watch", None)
        if watch is not None:
            watch.client_left()


class SendEndpoint(tornado.httputil.HTTPServerConnectionDelegate):
    """``POST /_ss/http/send``: one request per batch of calls, so it skips RequestHandler.

    A Tornado route target that is an ``HTTPServerConnectionDelegate`` gets the request's
    start line, headers and body as they are read (:class:`_SendRequest`) and answers
    through the connection's public ``write_headers``/``finish``: no handler object, no
    second ``HTTPServerRequest`` (the router made one already), default headers,
    transforms or access log line. That is most of what a call over HTTP costs.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def start_request(self, server_conn: object,
                      request_conn: tornado.httputil.HTTPConnection) -> tornado.httputil.HTTPMessageDelegate:
        return _SendRequest(self.app, request_conn)


class _SendRequest(tornado.httputil.HTTPMessageDelegate):
    __slots__ = ("app", "connection", "method", "query", "secret", "chunks")

    def __init__(self, app: Any, connection: tornado.httputil.HTTPConnection) -> None:
        self.app = app
        self.connection = connection
        self.method = self.query = self.secret = ""
        self.chunks: list[bytes] = []

    def headers_received(self, start_line: Any, headers: tornado.httputil.HTTPHeaders) -> None:
        self.method = start_line.method
        self.query = start_line.path.partition("?")[2]
        self.secret = headers.get(SECRET_HEADER, "")
        server = self.app.http_server
        if self.method == "POST" and takes_over(start_line.version, headers, server):
            # This keep-alive connection's POSTs are read by SendConnection from now on (this one too).
            connection = cast(tornado.http1connection.HTTP1Connection, self.connection)
            address = connection.context.address  # type: ignore[attr-defined]
            hub = hub_of(self.app)
            SendConnection(hub, connection.detach(), address, headers.get("Host", ""), server,
                           functools.partial(send_response, self.app)).start(
                self.query, self.secret, int(headers["Content-Length"]))

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def finish(self) -> None:
        # Its first step right now (most calls answer without waiting): no task, no extra loop turn.
        compat.start_call(self._answer(b"".join(self.chunks)), _task_failed)

    def on_connection_close(self) -> None:
        self.chunks = []

    async def _answer(self, body: bytes) -> None:
        status, headers, answer = await send_outcome(self.app, self.method, self.query, self.secret, body)
        start = tornado.httputil.ResponseStartLine("HTTP/1.1", status, tornado.httputil.responses.get(status, ""))
        try:
            self.connection.write_headers(start, tornado.httputil.HTTPHeaders(headers), answer)
            self.connection.finish()  # (sets TCP_NODELAY: the answer goes out now, as on a socket)
        except tornado.iostream.StreamClosedError:
            pass  # the client left; nothing to tell it


async def send_response(app: Any, query: str, secret: str, body: bytes) -> bytes:
    """The whole HTTP/1.1 response to a ``POST /_ss/http/send`` read by a SendConnection."""
    return response(*await send_outcome(app, "POST", query, secret, body))


async def send_outcome(app: Any, method: str, query: str, secret: str,
                       body: bytes) -> tuple[int, dict[str, str], bytes | None]:
    """What ``POST /_ss/http/send`` answers: ``(status, headers, body)`` (docs/protocol.md)."""
    if method != "POST":
        return _answer(405, error_body(ErrorCode.BAD_MESSAGE, "send messages with POST"))
    cid, replies = _send_query(query)
    if not cid or len(cid) > 64 or not secret or len(secret) > 128:
        return _answer(400, error_body(ErrorCode.BAD_MESSAGE, _MISSING_TARGET))
    hub = hub_of(app)
    if len(body) > hub.max_body:
        return _answer(413, error_body(ErrorCode.TOO_BIG, f"a POST of the HTTP transport holds at most "
                                                          f"{hub.max_body} bytes: send fewer messages at once"))
    try:
        first, items = await hub.send(cid, secret, body, replies)
    except Gone as exc:
        return _answer(410, *_gone_body(exc))
    except BadSecret:
        return _answer(403, error_body(ErrorCode.BAD_TOKEN, "wrong secret for this connection: open a new one"))
    except STORE_ERRORS as exc:
        log.warning("HTTP transport: the store did not answer a POST: %s", exc)
        return _answer(503, error_body(ErrorCode.STORE_UNAVAILABLE, "the store is unavailable: send again later"))
    if items:
        return _answer(200, messages=b"\n".join(items) + b"\n", first=first)
    if not replies:
        # One loop turn: the replies of calls that answered at once reach the poll first, so the
        # browser reads them and this 204 together (one wake-up per call instead of two).
        await asyncio.sleep(0)
    return _answer(204)


def _send_query(query: str) -> tuple[str, bool]:
    """``c`` (the connection id) and ``replies`` of a send's query string."""
    cid, replies = "", False
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "c":
            cid = urllib.parse.unquote(value) if "%" in value else value
        elif name == "replies":
            replies = value == "1"
    return cid, replies


def _answer(status: int, error: dict | None = None, close: tuple[int, str] | None = None,
            messages: bytes | None = None, first: int = 0) -> tuple[int, dict[str, str], bytes | None]:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    body = messages
    if messages is not None:
        headers["Content-Type"] = "application/x-ndjson; charset=utf-8"
        headers["Content-Length"] = str(len(messages))
        headers[SEQ_HEADER] = str(first)
    elif error is not None:
        answer: dict[str, Any] = {"error": error}
        if close is not None:
            answer["close"] = {"code": close[0], "reason": close[1]}
        body = orjson.dumps(answer)
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(body))
    return status, headers, body


class CloseHandler(_HttpHandler):
    async def post(self) -> None:
        target = self.target()
        if target is None:
            return
        hub = hub_of(self.app)
        try:
            await hub.queues.check(*target)
        except Gone:
            pass
        except BadSecret:
            self.fail(ErrorCode.BAD_TOKEN, "wrong secret for this connection")
            return
        else:
            hub.close_from_client(target[0])
        self.set_status(204)
        self.finish()


def http_routes(app: Any) -> list:
    """The routes of the HTTP transport (none when it is off: ``client.transport.fallback`` or strict mode)."""
    if not fallback_enabled(app.config):
        return []
    args = {"app": app}
    return [
        (HTTP_PREFIX + "/open", OpenHandler, args),
        (HTTP_PREFIX + "/poll", PollHandler, args),
        (HTTP_PREFIX + "/send", SendEndpoint(app)),
        (HTTP_PREFIX + "/close", CloseHandler, args),
    ]


def client_boot(config: Any) -> bytes:
    """The line put before /_ss/client.js: the transport settings the browser needs before its first init."""
    settings = config.client.transport.to_dict()
    settings["fallback"] = fallback_enabled(config)  # strict mode: WebSocket only, never HTTP
    return b"(window.SS = window.SS || {}).boot = " + orjson.dumps({"transport": settings}) + b";\n"


def fallback_enabled(config: Any) -> bool:
    """The HTTP transport is served unless turned off, or strict mode admits only WebSocket browsers."""
    return bool(config.client.transport.fallback) and not bool(config.browser_check.strict)


def _task_failed(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("HTTP transport request failed", exc_info=task.exception())
