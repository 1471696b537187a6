"""Builds the Tornado application for an ss app and runs it.

Routes, in the order they are tried: the WebSocket, ss's own browser files,
development assets, the HTTP API, the page at ``/``, then ``public/``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import tornado.httpserver
import tornado.netutil
import tornado.web

from .app import App
from .auth import COOKIE_PATH, SessionCookieHandler
from .http import BaseHandler, add_security_headers, set_session_cookie
from .http_api import ApiHandler
from .presets import is_dev_like
from .static import PublicFileHandler
from .store import STORE_ERRORS
from .transport import SOCKET_PATH, SocketHandler

__all__ = ["make_application", "serve", "Server"]

log = logging.getLogger("ss")

CLIENT_JS = Path(__file__).with_name("client_js") / "ss.js"


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
            cls._body = CLIENT_JS.read_bytes()
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


def make_application(app: App) -> tornado.web.Application:
    """The tornado.web.Application serving ``app``."""
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
    return tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=args,
        websocket_max_message_size=int(limits.max_frame_bytes),
        websocket_ping_interval=float(limits.ping_interval) or None,
        websocket_ping_timeout=float(limits.ping_timeout) or None,
        compress_response=True,
        xheaders=True,
    )


class Server:
    """An app listening on a port; ``await start()``, then ``await stop()``."""

    def __init__(self, app: App, port: int | None = None, host: str | None = None):
        self.app = app
        self.port = int(port if port is not None else app.config.http.port)
        self.host = host if host is not None else app.config.http.host
        self.http_server: tornado.httpserver.HTTPServer | None = None

    async def start(self, with_assets: bool = True) -> None:
        """Listen, connect the store, load actions and assets. Errors propagate, nothing left running.

        The port is bound first, so "port in use" fails before anything else starts.
        """
        sockets = tornado.netutil.bind_sockets(self.port, self.host)
        self.port = sockets[0].getsockname()[1]  # the real one when asked for port 0
        try:
            await self.app.start()
            if with_assets and self.app.project is not None:
                from .assets.pipeline import AssetPipeline

                pipeline = AssetPipeline(self.app.project.root, self.app.env, self.app.config,
                                         notify=self.app.send_to_all)
                pipeline.on_server_change(lambda paths: self._reload_actions())
                self.app.pipeline = pipeline
                await pipeline.start()
        except BaseException:
            for sock in sockets:
                sock.close()
            await self.app.close()
            raise
        self.http_server = tornado.httpserver.HTTPServer(make_application(self.app), xheaders=True)
        self.http_server.add_sockets(sockets)

    def _reload_actions(self) -> None:
        if self.app.reload_actions():
            self.app.send_to_all({"type": "api", "api": self.app.tree.describe()})

    async def stop(self) -> None:
        """Stop listening, let running calls finish and reply, close every socket (1012: reconnect
        elsewhere), release the store."""
        if self.http_server is not None:
            self.http_server.stop()
        drain_timeout = float(self.app.config.limits.get("shutdown_timeout", 10))
        await asyncio.gather(*(c.drain(drain_timeout) for c in list(self.app.connections)))
        if self.http_server is not None:
            try:
                await asyncio.wait_for(self.http_server.close_all_connections(), 5)
            except asyncio.TimeoutError:
                pass
        await self.app.close()


def banner(app: App, port: int) -> str:
    from .version import __version__

    scheme = "https" if app.config.https.enabled else "http"
    return (f"ss {__version__}  env: {app.env}  url: {scheme}://localhost:{port}/\n"
            f"  store: {app.store.description}\n"
            f"  actions: {len(app.tree.actions)} loaded from app/server  (Ctrl-C to stop)")


async def serve(app: App, port: int | None = None, host: str | None = None) -> None:
    """Run ``app`` until SIGINT/SIGTERM, then shut down gracefully."""
    server = Server(app, port, host)
    await server.start()
    print(banner(app, server.port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
