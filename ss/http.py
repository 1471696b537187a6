"""HTTP pieces shared by ss's handlers: the session cookie and headers every HTML page gets."""

from __future__ import annotations

import tornado.web

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}

# Only this origin's scripts, styles, images and sockets. 'unsafe-eval' because jQuery
# templates compile with Function(); apps without them can drop it via
# security.content_security_policy. Inline style attributes stay allowed (style-src).
DEFAULT_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
               "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")


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
        self.finish(f"{status_code} {self._reason}\n")
