"""HTTP pieces shared by ss's handlers: the session cookie and headers every HTML page gets."""

from __future__ import annotations

import tornado.web

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}


def set_session_cookie(handler: tornado.web.RequestHandler, session_id: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure when the request came over HTTPS."""
    config = handler.app.config  # type: ignore[attr-defined]
    handler.set_cookie(
        config.session.cookie_name,
        session_id,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=handler.request.protocol == "https",
        expires_days=config.session.ttl / 86400,
    )


def add_security_headers(handler: tornado.web.RequestHandler) -> None:
    for name, value in SECURITY_HEADERS.items():
        handler.set_header(name, value)


class BaseHandler(tornado.web.RequestHandler):
    """ss's HTTP handlers: know the app, answer errors without leaking tracebacks."""

    def initialize(self, app) -> None:
        self.app = app

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")
