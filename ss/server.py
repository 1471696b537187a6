"""Builds the Tornado application for an ss app and runs it.

Every request first goes through the middleware chain (ss/middleware.py: the
redirect to ``https.domain``, the app's config/http.py, the browser check),
then the routes, in the order they are tried: the WebSocket, ss's own browser
files, development assets, the HTTP API, the page at ``/``, then ``public/``.
With ``https.enabled`` the app is served over TLS (ss/tls.py), and a plain-HTTP
listener redirects to it when ``https.redirect_http`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import tornado.httpserver
import tornado.netutil
import tornado.web

from .app import App
from .auth import COOKIE_PATH, SessionCookieHandler
from .http import BaseHandler, add_security_headers, set_session_cookie
from .http_api import ApiHandler
from .middleware import Chain, ChainedApplication, browser_check, load_middleware
from .presets import is_dev_like
from .static import PublicFileHandler
from .store import STORE_ERRORS
from .transport import SOCKET_PATH, SocketHandler

__all__ = ["make_application", "serve", "Server", "Listeners", "bind_listeners"]

log = logging.getLogger("ss")

from ss.client_js import client_source  # noqa: E402  (the browser client, built from its modules)


class PageHandler(BaseHandler):
    """``/``: the app's single page. Makes sure the visitor has a session cookie first."""

    async def get(self) -> None:
        name = self.app.config.session.cookie_name
        try:
            session = await self.app.sessions.load(self.get_cookie(name))
            if session is None:
                session = await self.app.sessions.create()
        except STORE_ERRORS as exc:
            self.app.outage.report(self.app.store.description, exc)
            raise tornado.web.HTTPError(503, "the session store is not answering") from None
        set_session_cookie(self, session.id)  # refreshes the expiry on every visit
        add_security_headers(self)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        packed = self.app.project.public_dir / "index.html" if self.app.project else None
        if not is_dev_like(self.app.env) and packed is not None and packed.is_file():
            self.finish(packed.read_bytes())
            return
        if self.app.pipeline is None:
            raise tornado.web.HTTPError(500, "no asset pipeline")
        self.finish(await self.app.pipeline.page())


class ClientScriptHandler(BaseHandler):
    """``/_ss/client.js``: the browser client, read once, revalidated by ETag."""

    _body: bytes | None = None

    def get(self) -> None:
        cls = type(self)
        if cls._body is None or is_dev_like(self.app.env):
            cls._body = client_source()
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(cls._body)


class AssetHandler(BaseHandler):
    """``/_ss/assets/<path>``: compiled development assets, from the asset pipeline."""

    async def get(self, path: str) -> None:
        asset = await self.app.pipeline.asset(path) if self.app.pipeline is not None else None
        if asset is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", asset.content_type)
        self.set_header("Cache-Control", asset.cache_control)
        self.set_header("X-Content-Type-Options", "nosniff")
        if asset.etag:
            self.set_header("Etag", f'"{asset.etag}"')
        self.finish(asset.body)


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


def make_application(app: App, https_port: int | None = None) -> tornado.web.Application:
    """The tornado.web.Application serving ``app`` (``https_port``: the bound TLS port, for redirects)."""
    config = app.config
    args = {"app": app}
    routes: list = [
        (SOCKET_PATH, SocketHandler, args),
        (r"/_ss/client\.js", ClientScriptHandler, args),
        (r"/_ss/assets/(.*)", AssetHandler, args),
        (COOKIE_PATH, SessionCookieHandler, args),  # the cookie follows a session rotated on login
    ]
    if config.api.enabled:
        prefix = str(config.api.prefix).strip("/")
        routes.append((rf"/{prefix}(\.json|/.*)?", ApiHandler, args))
    routes.append((r"/", PageHandler, args))
    if app.project is not None:
        routes.append((r"/(.+)", PublicFileHandler, {"path": str(app.project.public_dir)}))
    limits = config.limits
    application = ChainedApplication(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=args,
        websocket_max_message_size=int(limits.max_frame_bytes),
        # Pings come from ss.transport.Pinger (one timer for all sockets), not Tornado's per-socket task.
        compress_response=True,
        xheaders=True,
    )
    application.chain = Chain(_middleware_steps(app, https_port))
    https = config.https
    if https.enabled and int(https.get("hsts_max_age", 0) or 0) > 0:
        from .tls import hsts_transform

        application.add_transform(hsts_transform(int(https.hsts_max_age)))
    return application


def _middleware_steps(app: App, https_port: int | None = None) -> list:
    """The chain: canonical https domain, then the app's config/http.py, then the browser check.

    Raises MiddlewareError when config/http.py cannot be used.
    """
    config = app.config
    steps: list = []
    https = config.https
    if https.enabled and https.domain and https.ensure_domain:
        from .tls import ensure_domain_step

        port = https_port if https_port is not None else int(https.port)
        steps.append(ensure_domain_step(str(https.domain), port, not is_dev_like(app.env)))
    if app.project is not None:
        steps.extend(load_middleware(app.project.root))
    if config.browser_check.strict:
        prefix = str(config.api.prefix).strip("/") if config.api.enabled else None
        steps.append(browser_check(app.project.static_dir if app.project else None, prefix))
    return steps


@dataclass
class Listeners:
    """Bound sockets: ``main`` serves the app (TLS when enabled), ``redirect`` the https redirect."""

    main: list[socket.socket]
    redirect: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        for sock in self.main + self.redirect:
            sock.close()


def bind_listeners(config, port: int, host: str, https_port: int | None = None) -> Listeners:
    """Bind the app's port(s): ``port`` alone, or with https ``https_port`` plus ``port`` for the redirect.

    Raises OSError (port in use, no permission for ports below 1024); nothing stays bound then.
    """
    https = config.https
    if not https.enabled:
        return Listeners(tornado.netutil.bind_sockets(port, host))
    main = tornado.netutil.bind_sockets(https_port if https_port is not None else int(https.port), host)
    try:
        redirect = tornado.netutil.bind_sockets(port, host) if https.redirect_http else []
    except OSError:
        for sock in main:
            sock.close()
        raise
    return Listeners(main, redirect)


class Server:
    """An app listening on a port; ``await start()``, then ``await stop()``."""

    def __init__(self, app: App, port: int | None = None, host: str | None = None,
                 https_port: int | None = None, listeners: Listeners | None = None):
        self.app = app
        self.port = int(port if port is not None else app.config.http.port)
        self.host = host if host is not None else app.config.http.host
        self.https_port = https_port
        self.listeners = listeners  # bound already (workers bind once, before forking)
        self.http_server: tornado.httpserver.HTTPServer | None = None
        self.redirect_server: tornado.httpserver.HTTPServer | None = None
        self.redirect_port: int | None = None
        self.certificate = None

    async def start(self, with_assets: bool = True) -> None:
        """Listen, connect the store, load actions and assets. Errors propagate, nothing left running.

        The port is bound first, so "port in use" fails before anything else starts.
        With ``https.enabled``, ``self.port`` is the https port and ``self.redirect_port``
        the plain-HTTP one (or None). Raises tls.CertificateError for unusable certificates,
        middleware.MiddlewareError for a broken config/http.py.
        """
        listeners = self.listeners or bind_listeners(self.app.config, self.port, self.host, self.https_port)
        sockets = listeners.main
        try:
            ssl_options = self._ssl_context()
            self.port = sockets[0].getsockname()[1]  # the real one when asked for port 0
            if listeners.redirect:
                self.redirect_port = listeners.redirect[0].getsockname()[1]
            await self.app.start()
            if with_assets and self.app.project is not None:
                from .assets.pipeline import AssetPipeline

                pipeline = AssetPipeline(self.app.project.root, self.app.env, self.app.config,
                                         notify=self.app.send_to_all)
                pipeline.on_server_change(lambda paths: self._reload_actions())
                self.app.pipeline = pipeline
                await pipeline.start()
            application = make_application(self.app, self.port if ssl_options is not None else None)
        except BaseException:
            listeners.close()
            await self.app.close()
            raise
        self.http_server = tornado.httpserver.HTTPServer(application, xheaders=True, ssl_options=ssl_options)
        self.http_server.add_sockets(sockets)
        if listeners.redirect:
            from .tls import redirect_application

            self.redirect_server = tornado.httpserver.HTTPServer(redirect_application(self.app, self.port),
                                                                 xheaders=True)
            self.redirect_server.add_sockets(listeners.redirect)

    def _ssl_context(self):
        if not self.app.config.https.enabled:
            return None
        from .tls import load_certificate, ssl_context

        root = self.app.project.root if self.app.project is not None else Path.cwd()
        self.certificate = load_certificate(root, str(self.app.config.https.cert_name))
        return ssl_context(self.certificate, root)

    def _reload_actions(self) -> None:
        if self.app.reload_actions():
            self.app.send_to_all({"type": "api", "api": self.app.tree.describe()})

    async def stop(self) -> None:
        """Stop listening, let running calls finish and reply, close every socket (1012: reconnect
        elsewhere), release the store."""
        for server in (self.http_server, self.redirect_server):
            if server is not None:
                server.stop()
        drain_timeout = float(self.app.config.limits.get("shutdown_timeout", 10))
        await asyncio.gather(*(c.drain(drain_timeout) for c in list(self.app.connections)))
        if self.http_server is not None:
            try:
                await asyncio.wait_for(self.http_server.close_all_connections(), 5)
            except asyncio.TimeoutError:
                pass
        if self.redirect_server is not None:
            try:
                await asyncio.wait_for(self.redirect_server.close_all_connections(), 5)
            except asyncio.TimeoutError:
                pass
        await self.app.close()


def banner(app: App, port: int, server: "Server | None" = None) -> str:
    from .version import __version__

    scheme = "https" if app.config.https.enabled else "http"
    shown = "" if (scheme, port) in (("https", 443), ("http", 80)) else f":{port}"
    lines = [f"ss {__version__}  env: {app.env}  url: {scheme}://localhost{shown}/",
             f"  store: {app.store.description}"]
    if server is not None and server.certificate is not None:
        root = app.project.root if app.project is not None else Path.cwd()
        lines.append(f"  https: {server.certificate.describe(root)}")
        if server.redirect_port is not None:
            lines.append(f"  http://localhost:{server.redirect_port}/ redirects to https")
    lines.append(f"  actions: {len(app.tree.actions)} loaded from app/server  (Ctrl-C to stop)")
    return "\n".join(lines)


async def serve(app: App, port: int | None = None, host: str | None = None,
                listeners: Listeners | None = None, quiet: bool = False,
                ready: "Callable[[Server], object] | None" = None) -> None:
    """Run ``app`` until SIGINT/SIGTERM, then shut down gracefully (see Server.stop).

    ``listeners``: sockets bound already (workers); ``quiet``: no banner (all but the first
    worker); ``ready(server)`` is called once it serves.
    """
    server = Server(app, port, host, listeners=listeners)
    await server.start()
    if not quiet:
        print(banner(app, server.port, server), flush=True)
    if ready is not None:
        ready(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
