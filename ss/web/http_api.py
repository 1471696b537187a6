"""The HTTP API: every server action at ``/api/<path>`` (HTML) and ``/api/<path>.json`` (JSON).

Arguments come from the query string: ``?25`` passes 25 (JSON-decoded when it
can be, else the string), ``?1&2`` passes two, ``?name=Tom&age=21`` passes one object
``{"name": "Tom", "age": "21"}``; a POST body holding a JSON list passes its
items as the arguments. ``/api`` lists the tree.
"""

from __future__ import annotations

import html
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import orjson

from ..errors import CallError, SSError, error_body
from ..protocol.messages import Limits, _too_deep
from ..rpc.request import RequestInfo
from ..sessions.auth import LoginThrottle, basic_auth_user, parse_basic_auth
from ..store.base import STORE_ERRORS
from ..sessions.cookie import set_session_cookie
from .base import BaseHandler, add_security_headers
from .tls import https_url

__all__ = ["ApiHandler", "parse_query_args", "ArgumentError"]

log = logging.getLogger("ss.http")


def is_cross_site(request) -> bool:
    """True when a browser says (Sec-Fetch-Site, else Origin) another site made this request."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # not a browser cross-site request (curl, server-to-server, same-origin GET)
    return urlsplit(origin).netloc.lower() != request.headers.get("Host", "").lower()


class ArgumentError(SSError, ValueError):
    """The query string or body cannot be turned into arguments."""


def parse_query_args(query: str) -> list:
    """Arguments from a raw query string.

    '' -> [], '25' -> [25], '1&two' -> [1, 'two'] (each JSON-decoded when it can be),
    'a=1&b=x' -> [{'a': '1', 'b': 'x'}] (one object; repeated keys become lists).
    """
    if not query:
        return []
    if "=" in query:
        params: dict[str, Any] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key in params:
                params[key] = (params[key] if isinstance(params[key], list) else [params[key]]) + [value]
            else:
                params[key] = value
        return [params]
    return [_json_or_text(unquote_plus(part)) for part in query.split("&")]


def _json_or_text(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def check_limits(args: list, limits: Limits) -> None:
    """The socket's bounds on call arguments (count, nesting), so both doors accept the same calls."""
    if len(args) > limits.max_args:
        raise ArgumentError(f"more than {limits.max_args} arguments: pass a list or an object instead")
    if _too_deep(args, limits.max_depth):
        raise ArgumentError(f"arguments nest deeper than {limits.max_depth} levels")


def parse_body_args(body: bytes, content_type: str) -> list:
    if not body:
        return []
    if content_type.startswith("application/json"):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ArgumentError(f"the request body is not valid JSON: {exc.msg}") from None
        return value if isinstance(value, list) else [value]
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_query_args(body.decode("utf-8", "replace"))
    raise ArgumentError("send arguments as a JSON list (Content-Type: application/json) or a form")


class ApiHandler(BaseHandler):
    """``/api``, ``/api.json``, ``/api/<module>/<action>[.json]``."""

    def initialize(self, app, https_port: int | None = None) -> None:
        super().initialize(app)
        self.https_port = https_port  # the bound TLS port, when HTTPS is on

    async def get(self, path: str | None) -> None:
        await self._handle(path, lambda: parse_query_args(self.request.query))

    async def post(self, path: str | None) -> None:
        await self._handle(path, lambda: parse_body_args(self.request.body,
                                                         self.request.headers.get("Content-Type", "")))

    async def _handle(self, path: str | None, read_args) -> None:
        path = (path or "").strip("/")
        as_json = path.endswith(".json") or path == ".json"
        if as_json:
            path = path[: -len(".json")]
        if self.app.config.api.https_only and self.request.protocol != "https":
            self._error(CallError("https_required", "this API only answers over HTTPS (api.https_only): "
                                                    "use https:// so passwords never travel in clear text"), as_json)
            return
        if self.app.config.https.enabled and self.request.protocol != "https" and "Authorization" in self.request.headers:
            # The redirect listener: the password has crossed the network in clear once; never let it work.
            self._error(CallError("https_required", "credentials are never accepted over plain HTTP: send this "
                                                    f"request to {self._https_url()} "
                                                    "and change the password if it went out this way before"), as_json)
            return
        limiter = self.app.http_limiter
        if limiter is not None and not limiter.allow(self.request.remote_ip or "?"):
            self._error(CallError("rate_limited", f"more than {limiter.rate:g} API requests per second from "
                                                  "this address: slow down"), as_json)
            return
        if not path:
            self._answer(200, self.app.tree.describe(), as_json, title="API")
            return
        method = path.replace("/", ".")
        try:
            args = read_args()
            check_limits(args, self.app.protocol_limits)
        except ArgumentError as exc:
            self._error(CallError("bad_message", str(exc)), as_json)
            return
        info = RequestInfo("http", self.request.remote_ip, self.request.headers, self.request.protocol == "https")
        try:
            session = await self._session()
            session_id = session.id
            await self._basic_auth(method, session)
            result = await self.app.dispatcher.call(tuple(method.split(".")), args, session, info)
        except CallError as exc:
            if exc.code == "unauthorized" and self.app.config.api.auth.basic.module_name:
                self.set_header("WWW-Authenticate", 'Basic realm="ss API", charset="UTF-8"')
            self._error(exc, as_json)
            return
        if session.id != session_id and not session.transient:
            set_session_cookie(self, session.id)  # rotated on login
        try:
            self._answer(200, result, as_json, title=method)
        except TypeError as exc:  # orjson: an int over 64 bits, nesting over 254 levels, ...
            self._error(CallError("action_failed", f"{method} returned a value that cannot be sent as JSON: {exc}"),
                        as_json)

    def _https_url(self) -> str:
        # The guard has checked the Host, so naming it back is safe.
        https = self.app.config.https
        return https_url(self.request, https.domain, self.https_port or https.port)

    async def _basic_auth(self, method: str, session) -> None:
        """For ``authenticate = True`` modules: sign this one request in with Basic Auth credentials."""
        if session.user_id is not None or "Authorization" not in self.request.headers:
            return
        try:
            action = self.app.dispatcher.lookup(method)
        except CallError:
            return  # the dispatcher answers unknown actions
        header = self.request.headers.get("Authorization")
        if not action.authenticate or not self.app.config.api.auth.basic.module_name \
                or parse_basic_auth(header) is None:
            return
        throttle = LoginThrottle(self.app)
        address = self.request.remote_ip
        try:
            wait = await throttle.retry_after(address)
        except STORE_ERRORS:
            raise CallError("store_unavailable", "the session store is not answering: try again later") from None
        if wait:
            self.set_header("Retry-After", str(wait))
            raise CallError("rate_limited", f"too many failed sign-ins from this address: try again in {wait} s")
        try:
            user_id = await basic_auth_user(self.app, header)
        except Exception as exc:  # a broken auth module (logged by ss.auth): details in development only
            detail = f": {type(exc).__name__}: {exc}" if self.app.dispatcher.show_traceback else "; see the server log"
            raise CallError("action_failed", f"Basic Auth failed on the server{detail}") from None
        if user_id is None:
            try:
                await throttle.failed(address)
            except STORE_ERRORS:
                log.warning("could not count a failed Basic Auth sign-in from %s: the store is not answering", address)
        else:
            session.user_id = user_id
            session.transient = True  # a Basic Auth request signs in only itself; nothing is saved

    async def _session(self):
        """The caller's session from its cookie; without one, a transient session that is never saved.

        A request a browser made from another site (CSRF) never gets the visitor's
        session: it runs like an anonymous caller, so it cannot act as them.
        """
        cookie = None if is_cross_site(self.request) else self.get_cookie(self.app.config.session.cookie_name)
        return await self.app.sessions.for_request(cookie, create=False)

    def _error(self, exc: CallError, as_json: bool) -> None:
        self._answer(exc.http_status, {"error": error_body(exc.code, exc.message, exc.traceback)}, as_json,
                     title=f"Error: {exc.code}")

    def _answer(self, status: int, value: Any, as_json: bool, title: str) -> None:
        """Raises TypeError (and sends nothing) when ``value`` cannot be encoded as JSON."""
        body = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS | (0 if as_json else orjson.OPT_INDENT_2))
        self.set_status(status)
        self.set_header("X-Content-Type-Options", "nosniff")
        if as_json:
            self.set_header("Content-Type", "application/json")
            self.finish(body)
            return
        add_security_headers(self)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
                    f"<body><h1>{html.escape(title)}</h1><pre>{html.escape(body.decode())}</pre></body></html>")
