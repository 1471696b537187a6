"""Custom HTTP middleware: a chain of callables every request goes through before ss's own routes.

An app lists its middleware in ``config/http.py``::

    import my_middleware                 # lib/server/my_middleware.py

    def log_user_agent(request, response, next):
        print("User Agent is:", request.headers.get("User-Agent"))
        next()                           # pass on; or answer with response.finish(...)

    middleware = [log_user_agent, my_middleware, "other_lib_module"]

Each entry is a callable ``(request, response, next)`` (plain or ``async``), a
module with such a ``call`` function (as in SocketStream), or the name of a
``lib/server`` module. ``request`` is Tornado's HTTPServerRequest (change it and
later steps see the change); a step answers by calling ``response.finish()``
(or ``response.redirect(url)``), or passes on by calling ``next()``. A step
doing neither is a bug, answered with a 500 and logged.

ss adds its own steps around the app's: the redirect to ``https.domain`` first
(see ss/tls.py), and the browser check (``browser_check.strict``) last, so it
never affects the HTTP API, as in SocketStream.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Awaitable, Callable, Union

import orjson
import tornado.httputil
import tornado.web

from .guard import GuardedApplication
from ..errors import StartupError

__all__ = ["Response", "Step", "Chain", "MiddlewareError", "load_middleware", "browser_check",
           "supports_websocket", "ChainedApplication"]

log = logging.getLogger("ss.http")

Middleware = Callable[[tornado.httputil.HTTPServerRequest, "Response", Callable[[], None]], Union[None, Awaitable[None]]]


class MiddlewareError(StartupError):
    """config/http.py cannot be used (raised at start), or a step broke its contract (at request time)."""


class Response:
    """What a middleware step answers with. Nothing is sent unless ``finish()`` or ``redirect()`` is called."""

    def __init__(self) -> None:
        self.status = 200
        self.reason: str | None = None
        self.headers = tornado.httputil.HTTPHeaders()
        self.body: list[bytes] = []
        self.finished = False

    def set_status(self, status: int, reason: str | None = None) -> None:
        """The HTTP status to answer with (200 unless set)."""
        self.status, self.reason = int(status), reason

    def set_header(self, name: str, value: Any) -> None:
        """Set a response header (replacing one of the same name)."""
        self.headers[name] = str(value)

    def write(self, chunk: str | bytes | dict | list) -> None:
        """Add to the body; a dict or list is sent as JSON."""
        if isinstance(chunk, (dict, list)):
            self.headers.setdefault("Content-Type", "application/json; charset=utf-8")
            chunk = orjson.dumps(chunk)
        self.body.append(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk))

    def finish(self, chunk: str | bytes | dict | list | None = None) -> None:
        """Answer the request with what was written (plus ``chunk``); later steps and ss do not run."""
        if chunk is not None:
            self.write(chunk)
        self.headers.setdefault("Content-Type", "text/html; charset=utf-8")
        self.finished = True

    def redirect(self, url: str, status: int = 302) -> None:
        """Answer with a redirect to ``url`` (301 for permanent moves)."""
        self.set_status(status)
        self.set_header("Location", url)
        self.finish(b"")


@dataclass
class Step:
    """One link of the chain, with a name for error messages."""

    name: str
    func: Middleware


class Chain:
    """Runs the steps in order; ``run`` returns the answering Response, or None to go on to ss."""

    def __init__(self, steps: list[Step]):
        self.steps = steps

    async def run(self, request: tornado.httputil.HTTPServerRequest) -> Response | None:
        """Raises MiddlewareError when a step neither answers nor calls next(); a step's own errors propagate."""
        for step in self.steps:
            response = Response()
            passed = False

            def next_step() -> None:
                nonlocal passed
                passed = True

            result = step.func(request, response, next_step)
            if inspect.isawaitable(result):
                await result
            if response.finished:
                return response
            if not passed:
                raise MiddlewareError(f"middleware {step.name} returned without calling next() or "
                                      "response.finish(): end it with one of them")
        return None


def _as_step(entry: Any, where: str) -> Step:
    if isinstance(entry, str):
        try:
            entry = importlib.import_module(entry)
        except ImportError as exc:
            raise MiddlewareError(f"{where}: middleware {entry!r} cannot be imported ({exc}): "
                                  f"put it in lib/server/{entry}.py") from None
    if isinstance(entry, ModuleType):
        func = getattr(entry, "call", None)
        if not callable(func):
            raise MiddlewareError(f"{where}: module {entry.__name__} has no call(request, response, next) function")
        return Step(f"{entry.__name__}.call", func)
    if callable(entry):
        return Step(getattr(entry, "__qualname__", repr(entry)), entry)
    raise MiddlewareError(f"{where}: middleware entries are callables, modules or lib/server module names, "
                          f"not {type(entry).__name__}")


def load_middleware(root: Path) -> list[Step]:
    """The steps listed in ``config/http.py`` of the app at ``root`` (none when the file is absent).

    lib/server is importable from the file. Raises MiddlewareError naming the
    file and line when it fails to run or lists something unusable.
    """
    path = root / "config" / "http.py"
    if not path.is_file():
        return []
    lib_server = root / "lib" / "server"
    if lib_server.is_dir() and str(lib_server) not in sys.path:
        sys.path.insert(0, str(lib_server))
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "ss_config_http"}
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    except SyntaxError as exc:
        raise MiddlewareError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        import traceback

        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        raise MiddlewareError(f"{path}:{lines[-1] if lines else '?'}: {type(exc).__name__}: {exc}") from None
    entries = namespace.get("middleware", [])
    if not isinstance(entries, (list, tuple)):
        raise MiddlewareError(f"{path}: `middleware` must be a list, not {type(entries).__name__}")
    return [_as_step(entry, str(path)) for entry in entries]


# Browsers known to lack RFC 6455 WebSockets: (pattern, first version that has them).
# Anything not recognised (new browsers, bots, curl) is let through.
_OLD_BROWSERS: list[tuple[re.Pattern, tuple[int, ...]]] = [
    (re.compile(r"Opera Mini"), (999,)),
    (re.compile(r"MSIE (\d+)\.(\d+)"), (10, 0)),
    (re.compile(r"Firefox/(\d+)\.(\d+)"), (11, 0)),
    (re.compile(r"Chrome/(\d+)\.(\d+)"), (16, 0)),
    (re.compile(r"^Opera/.*Version/(\d+)\.(\d+)"), (12, 10)),
    (re.compile(r"Android (\d+)\.(\d+).*Version/[\d.]+ (?:Mobile )?Safari"), (4, 4)),
    (re.compile(r"Version/(\d+)\.(\d+)(?:\.\d+)? (?:Mobile/\S+ )?Safari/"), (6, 0)),
]


def supports_websocket(user_agent: str) -> bool:
    """False for user agents of browsers known to have no (standard) WebSocket; True otherwise."""
    for pattern, first in _OLD_BROWSERS:
        match = pattern.search(user_agent)
        if match:
            version = tuple(int(g) for g in match.groups())
            return version >= first
    return True


DEFAULT_NOTICE = (b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Browser not supported</title></head>"
                  b"<body><h1>Sorry, your browser is not supported</h1><p>This app needs a browser with WebSocket "
                  b"support: a current Firefox, Chrome, Edge or Safari.</p></body></html>")


def browser_check(static_dir: Path | None, api_prefix: str | None) -> Step:
    """The ``browser_check.strict`` step: old browsers get static/incompatible_browsers/index.html.

    HTTP API requests (and ss's own /_ss/ files) are never checked.
    """
    page_path = static_dir / "incompatible_browsers" / "index.html" if static_dir is not None else None
    skipped = ["/_ss/", "/favicon.ico", "/robots.txt"]
    if api_prefix:
        skipped += [f"/{api_prefix}/", f"/{api_prefix}."]

    def check(request: tornado.httputil.HTTPServerRequest, response: Response, next: Callable[[], None]) -> None:
        path = request.path
        if path.startswith(tuple(skipped)) or (api_prefix and path == f"/{api_prefix}") \
                or supports_websocket(request.headers.get("User-Agent", "")):
            next()
            return
        # Read each time: the app's authors are encouraged to edit this page while the server runs.
        page = page_path.read_bytes() if page_path is not None and page_path.is_file() else DEFAULT_NOTICE
        response.set_header("Cache-Control", "no-cache")
        response.set_header("Vary", "User-Agent")
        response.finish(page)

    return Step("browser_check", check)


class _AnswerHandler(tornado.web.RequestHandler):
    """Sends a middleware's Response through Tornado, so transforms (gzip, HSTS) still apply."""

    def initialize(self, response: Response) -> None:
        self.answer = response

    def prepare(self) -> None:
        self.set_status(self.answer.status, self.answer.reason)
        seen: set[str] = set()
        for name, value in self.answer.headers.get_all():
            # set first (replacing Tornado's defaults), add the rest (several Set-Cookie lines)
            (self.add_header if name in seen else self.set_header)(name, value)
            seen.add(name)
        self.finish(b"".join(self.answer.body))

    def check_xsrf_cookie(self) -> None:
        pass


class _ChainDelegate(tornado.httputil.HTTPMessageDelegate):
    """Holds a request until the chain has run, then hands it to the route ss would have picked."""

    def __init__(self, application: "ChainedApplication", request: tornado.httputil.HTTPServerRequest,
                 kwargs: dict) -> None:
        self.application = application
        self.request = request
        self.kwargs = kwargs
        self.start_line: Any = None
        self.headers: Any = None
        self.chunks: list[bytes] = []
        self.inner: tornado.httputil.HTTPMessageDelegate | None = None
        self.task: asyncio.Task | None = None
        self.closed = False

    def headers_received(self, start_line, headers) -> None:
        self.start_line, self.headers = start_line, headers

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def finish(self) -> None:
        self.request.body = b"".join(self.chunks)  # middleware may read it; the route sets it again
        self.task = asyncio.ensure_future(self._run())

    def on_connection_close(self) -> None:
        self.closed = True
        if self.inner is not None:
            self.inner.on_connection_close()

    async def _run(self) -> None:
        assert self.application.chain is not None  # route() delegates here only when there is a chain
        try:
            response = await self.application.chain.run(self.request)
        except Exception:
            log.exception("HTTP middleware failed on %s %s", self.request.method, self.request.uri)
            response = Response()
            response.set_status(500)
            response.finish(b"500 Internal Server Error\n")
            response.headers["Content-Type"] = "text/plain; charset=utf-8"
        if self.closed:
            return
        if response is not None:
            self.inner = self.application.get_handler_delegate(self.request, _AnswerHandler, {"response": response})
        else:
            self.inner = tornado.web.Application.find_handler(self.application, self.request, **self.kwargs)
        waiting = self.inner.headers_received(self.start_line, self.headers)
        if waiting is not None:
            await waiting
        for chunk in self.chunks:
            waiting = self.inner.data_received(chunk)
            if waiting is not None:
                await waiting
        self.inner.finish()


class ChainedApplication(GuardedApplication):
    """A tornado Application whose requests pass the guard, then go through ``chain`` (when it has steps)."""

    chain: Chain | None = None

    def route(self, request: tornado.httputil.HTTPServerRequest, **kwargs: Any):
        """The route for ``request``, or a delegate that runs the chain first and picks it after."""
        if self.chain is None or not self.chain.steps:
            return super().route(request, **kwargs)
        return _ChainDelegate(self, request, kwargs)
