"""What ss's HTTP handlers share: the headers every HTML page gets, and error answers without tracebacks."""

from __future__ import annotations

import tornado.httputil
import tornado.web

from ..presets import DEFAULT_CSP

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}

def add_security_headers(handler: tornado.web.RequestHandler) -> None:
    """Headers every HTML response gets: nosniff, referrer policy, framing, and the CSP from config."""
    for name, value in SECURITY_HEADERS.items():
        handler.set_header(name, value)
    csp = handler.app.config.get_path("security.content_security_policy", DEFAULT_CSP)  # type: ignore[attr-defined]
    if csp:
        handler.set_header("Content-Security-Policy", csp)


class BaseHandler(tornado.web.RequestHandler):
    """ss's HTTP handlers: know the app, answer errors without leaking tracebacks."""

    def initialize(self, app) -> None:
        self.app = app

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {tornado.httputil.responses.get(status_code, 'Error')}\n")
