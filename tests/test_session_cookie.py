"""The session cookie's Set-Cookie header (ss/sessions/cookie.py): built directly, with Tornado's attributes."""

from __future__ import annotations

import email.utils
import http.cookies
import time

import pytest
import tornado.httputil
import tornado.web

from ss.sessions.cookie import set_session_cookie


class _Settings:
    def __init__(self, name: str = "ss_session", ttl: float = 86400 * 14):
        self.session = type("S", (), {"cookie_name": name, "ttl": ttl})()


def _handler(protocol: str = "http", name: str = "ss_session", ttl: float = 86400 * 14):
    app = tornado.web.Application()
    request = tornado.httputil.HTTPServerRequest(
        start_line=tornado.httputil.RequestStartLine("GET", "/", "HTTP/1.1"),
        headers=tornado.httputil.HTTPHeaders({"Host": "example.com"}))
    request.protocol = protocol
    handler = tornado.web.RequestHandler.__new__(tornado.web.RequestHandler)
    handler.application, handler.request = app, request
    handler.clear()
    handler.app = type("A", (), {"config": _Settings(name, ttl)})()
    return handler


@pytest.mark.parametrize("protocol", ["http", "https"])
def test_the_header_carries_every_attribute(protocol):
    handler = _handler(protocol)
    before = time.time()
    set_session_cookie(handler, "Zx-9_abc")
    (header,) = handler._headers.get_list("Set-Cookie")
    assert not hasattr(handler, "_new_cookie")        # straight into the headers: no SimpleCookie, no Morsel
    morsel = http.cookies.SimpleCookie(header)["ss_session"]
    assert morsel.value == "Zx-9_abc"
    assert morsel["path"] == "/" and morsel["httponly"] and morsel["samesite"] == "Lax"
    assert bool(morsel["secure"]) == (protocol == "https")
    expires = email.utils.parsedate_to_datetime(morsel["expires"]).timestamp()
    assert before + 86400 * 14 - 2 <= expires <= time.time() + 86400 * 14 + 1
    assert morsel["expires"].endswith(" GMT")


def test_setting_it_again_in_one_response_replaces_it():
    handler = _handler()
    set_session_cookie(handler, "first")
    set_session_cookie(handler, "second")                 # e.g. rotated on login
    (header,) = handler._headers.get_list("Set-Cookie")
    assert http.cookies.SimpleCookie(header)["ss_session"].value == "second"


def test_a_cookie_name_a_browser_would_not_take_stops_the_start_with_the_setting_named():
    from ss.app import App
    from ss.settings import ConfigError

    with pytest.raises(ConfigError, match=r"session.cookie_name: .*not a cookie name"):
        App.load(None, "test", {"redis": {"enabled": False}, "session": {"cookie_name": "ss session;"}})
    assert App.load(None, "test", {"redis": {"enabled": False}, "session": {"cookie_name": "my-app.sid"}})
