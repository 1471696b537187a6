"""The session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, lasting as long as the session.

The Set-Cookie line is written straight into the response headers: every first visit and every
new session's WebSocket handshake sets it, and Tornado's ``set_cookie`` would build an
``http.cookies`` Morsel for it each time. The line is the one Tornado writes:
``name=id; expires=<HTTP date>; HttpOnly; Path=/; SameSite=Lax[; Secure]``.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

__all__ = ["set_session_cookie", "session_cookie_header"]

_date_cache: tuple[int, str] = (0, "")


def _http_date(when: float) -> str:
    """``when`` as an HTTP date (RFC 7231), computed once per second."""
    global _date_cache
    second = int(when)
    if _date_cache[0] != second:
        _date_cache = (second, email.utils.formatdate(second, usegmt=True))
    return _date_cache[1]


def session_cookie_header(name: str, session_id: str, ttl: float, secure: bool) -> str:
    """The Set-Cookie value for the session ``session_id`` (an id ss made: URL-safe characters).

    ``name`` is ``session.cookie_name``, a token: the config check (ss/settings.py) refused anything else.
    """
    line = f"{name}={session_id}; expires={_http_date(time.time() + ttl)}; HttpOnly; Path=/; SameSite=Lax"
    return line + "; Secure" if secure else line


def set_session_cookie(handler: Any, session_id: str) -> None:
    """Set the session cookie on ``handler``'s response (a second call in one response replaces the first).

    ``set_header`` replaces any Set-Cookie line set before in this response: the session cookie is the
    only one ss's handlers set that way (Tornado adds cookies set through ``set_cookie``, such as an
    XSRF cookie, when it writes the headers, after this).
    """
    session = handler.app.config.session
    handler.set_header("Set-Cookie", session_cookie_header(session.cookie_name, session_id, session.ttl,
                                                           handler.request.protocol == "https"))
