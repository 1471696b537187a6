"""The Tornado application of an ss app: its routes and ss's own HTTP handlers.

Every request first goes through the middleware chain (ss/web/middleware.py: the
redirect to ``https.domain``, the app's config/http.py, the browser check),
then the routes, in the order they are tried: the WebSocket, ss's own browser
files, development assets, the HTTP API, the page at ``/``, then ``public/``.
"""

from __future__ import annotations

from typing import Any

import tornado.web

from ..client_js import client_source
from ..errors import CallError
from ..presets import is_dev_like
from ..realtime.http_handlers import client_boot, http_routes
from ..realtime.websocket import SOCKET_PATH, SocketHandler
from ..sessions.cookie import set_session_cookie
from .base import CSP_REPORT_PATH, BaseHandler, add_security_headers
from .cookies import COOKIE_PATH, SessionCookieHandler
from .guard import Guard
from .csp import CspReportHandler, ReportBudget
from .http_api import ApiHandler
from .middleware import Chain, browser_check, load_middleware
from .probes import OpsFirstApplication, probe_routes
from .static import PublicFileHandler

__all__ = ["make_application"]



class PageHandler(BaseHandler):
    """``/``: the app's single page. Makes sure the visitor has a session cookie first."""

    def head(self) -> None:
        # Monitors and link checkers: the page's headers, no body, and no session made for them.
        add_security_headers(self)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish()

    async def get(self) -> None:
        try:
            session = await self.app.sessions.for_request(self.get_cookie(self.app.config.session.cookie_name))
        except CallError as exc:
            raise tornado.web.HTTPError(exc.http_status, exc.message) from None
        add_security_headers(self)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        packed = self.app.project.public_dir / "index.html" if self.app.project else None
        if not is_dev_like(self.app.env) and packed is not None and packed.is_file():
            set_session_cookie(self, session.id)
            self.finish(packed.read_bytes())
            return
        if self.app.pipeline is None:
            raise tornado.web.HTTPError(500, "no asset pipeline")
        page = await self.app.pipeline.page()
        set_session_cookie(self, session.id)  # last, so an error answer never sets it; refreshes the expiry
        self.finish(page)


class ClientScriptHandler(BaseHandler):
    """``/_ss/client.js``: the browser client for development pages (production pages
    get it inside their packed script), read once, revalidated by ETag."""

    _body: bytes | None = None

    def get(self) -> None:
        cls = type(self)
        if cls._body is None or is_dev_like(self.app.env):
            cls._body = client_source()
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(client_boot(self.app.config) + cls._body)

    def head(self) -> None:
        # Tornado sends the headers of the GET (Content-Length included) and drops the body.
        self.get()


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

    async def head(self, path: str) -> None:
        await self.get(path)


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


def make_application(app: Any, https_port: int | None = None) -> tornado.web.Application:
    """The tornado.web.Application serving ``app`` (``https_port``: the bound TLS port, for redirects)."""
    config = app.config
    args = {"app": app}
    routes: list = [
        (SOCKET_PATH, SocketHandler, args),
        (r"/_ss/client\.js", ClientScriptHandler, args),
        (r"/_ss/assets/(.*)", AssetHandler, args),
        (COOKIE_PATH, SessionCookieHandler, args),  # the cookie follows a session rotated on login
        (CSP_REPORT_PATH, CspReportHandler,
         {**args, "budget": ReportBudget(config.security.csp_reports_per_minute)}),
        *probe_routes(app),  # /_ss/health, /_ss/ready (ss/web/probes.py)
        *http_routes(app),  # the HTTP fallback transport (ss/realtime/http_handlers.py)
    ]
    if config.api.enabled:
        prefix = config.api.prefix.strip("/")
        routes.append((rf"/{prefix}(\.json|/.*)?", ApiHandler, args))
    routes.append((r"/", PageHandler, args))
    if app.project is not None:
        routes.append((r"/(.+)", PublicFileHandler, {"path": str(app.project.public_dir), "app": app}))
    limits = config.limits
    application = OpsFirstApplication(  # a ChainedApplication; probes skip the chain
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=args,
        websocket_max_message_size=limits.max_frame_bytes,
        # Pings come from ss.realtime.pinger.Pinger (one timer for all sockets), not Tornado's per-socket task.
        compress_response=True,
        guard=Guard(config, check_hosts=not _ensures_domain(config)),
    )
    application.chain = Chain(_middleware_steps(app, https_port))
    https = config.https
    if https.enabled and https.hsts_max_age > 0:
        from .tls import hsts_transform

        application.add_transform(hsts_transform(https.hsts_max_age))
    return application


def _ensures_domain(config) -> bool:
    # The https.domain step redirects every other host name to the domain, so no other host is served.
    https = config.https
    return bool(https.enabled and https.domain and https.ensure_domain)


def _middleware_steps(app: Any, https_port: int | None = None) -> list:
    """The chain: canonical https domain, then the app's config/http.py, then the browser check.

    Raises MiddlewareError when config/http.py cannot be used.
    """
    config = app.config
    steps: list = []
    https = config.https
    if _ensures_domain(config):
        from .tls import ensure_domain_step

        port = https_port if https_port is not None else https.port
        steps.append(ensure_domain_step(https.domain, port, not is_dev_like(app.env)))
    if app.project is not None:
        steps.extend(load_middleware(app.project.root))
    if config.browser_check.strict:
        prefix = config.api.prefix.strip("/") if config.api.enabled else None
        steps.append(browser_check(app.project.static_dir if app.project else None, prefix))
    return steps


