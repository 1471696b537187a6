"""Modular authentication and what keeps a login safe.

``self.session.authenticate('custom_auth', params)`` imports
``lib/server/custom_auth.py`` and calls its ``authenticate(params)``, which may
be a plain function, ``async def``, or take a ``cb`` last (SocketStream
style). It answers ``{'success': bool, 'user_id': ..., 'info': {...}}``.

Signing in (``session.set_user_id(uid)``) gives the session a new id, so an id
an attacker planted before the login is worthless after it (session
fixation). The browser's cookie is HttpOnly, so page scripts cannot set it:
the server sends ``{"type":"session","session_id":…,"token":…}`` over the
socket and the browser POSTs the token to ``/_ss/session``, which answers
with the new cookie. The token works once, within ``TOKEN_TTL`` seconds, and
only for a request still carrying the old (or already the new) session cookie.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import inspect
import logging
import math
import re
import secrets
from typing import Any

import orjson
from ..errors import SSError


__all__ = ["AuthModuleError", "authenticate_with", "parse_basic_auth", "issue_cookie_token", "cookie_token_key",
           "basic_auth_user", "LoginThrottle", "TOKEN_TTL"]

log = logging.getLogger("ss.auth")

TOKEN_TTL = 60
_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class AuthModuleError(SSError):
    """The authentication module is missing or broken; the message says what to write where."""


def load_auth_module(name: str):
    """Import ``lib/server/<name>.py`` (lib/server is on sys.path once the app is loaded)."""
    if not isinstance(name, str) or not _MODULE_RE.match(name):
        raise AuthModuleError(f"{name!r} is not a module name: pass the file name in lib/server without .py")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name.split(".")[0] and exc.name != name:
            raise
        raise AuthModuleError(f"no authentication module {name!r}: create lib/server/{name.replace('.', '/')}.py "
                              "with `def authenticate(params): return {'success': ..., 'user_id': ...}`") from None
    if not callable(getattr(module, "authenticate", None)):
        raise AuthModuleError(f"lib/server/{name}.py has no authenticate(params) function")
    return module


def _takes_cb(func) -> bool:
    try:
        params = [p for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


async def authenticate_with(module_name: str, params: Any) -> dict:
    """Run ``lib/server/<module_name>.py``'s ``authenticate(params)``; return its normalised response.

    Raises AuthModuleError when the module is missing or answers something
    other than a dict with a ``success`` key.
    """
    func = load_auth_module(module_name).authenticate
    if _takes_cb(func):
        done: asyncio.Future = asyncio.get_running_loop().create_future()

        def cb(response: Any = None) -> None:
            if not done.done():
                done.set_result(response)

        returned = func(params, cb)
        if inspect.isawaitable(returned):
            await returned
        response = await done
    else:
        response = func(params)
        if inspect.isawaitable(response):
            response = await response
    if not isinstance(response, dict) or not ("success" in response or "status" in response):
        raise AuthModuleError(f"lib/server/{module_name}.py authenticate() must return a dict like "
                              f"{{'success': True, 'user_id': 21, 'info': {{}}}}, not {response!r}")
    success = bool(response.get("success", response.get("status")))
    result = dict(response)
    result["success"] = success
    result.setdefault("info", {})
    if success and result.get("user_id") is None:
        raise AuthModuleError(f"lib/server/{module_name}.py authenticate() said success but gave no user_id")
    if not success:
        result.pop("user_id", None)
    return result


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic …`` -> (username, password), or None when absent or malformed."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def cookie_token_key(app, token: str) -> str:
    return app.store.key("cookie_token", token)


async def issue_cookie_token(app, old_id: str, new_id: str) -> str:
    """A one-time token that lets the browser holding ``old_id`` switch its cookie to ``new_id``."""
    token = secrets.token_urlsafe(24)
    await app.store.redis.set(cookie_token_key(app, token), orjson.dumps({"old": old_id, "new": new_id}), ex=TOKEN_TTL)
    return token


async def basic_auth_user(app, header: str | None) -> Any:
    """The user id that ``Authorization: Basic`` credentials sign in as, or None.

    Uses ``api.auth.basic.module_name``'s ``authenticate({'username', 'password'})``.
    """
    module_name = app.config.api.auth.basic.module_name
    credentials = parse_basic_auth(header)
    if not module_name or credentials is None:
        return None
    try:
        response = await authenticate_with(module_name, {"username": credentials[0], "password": credentials[1]})
    except Exception:
        log.exception("Basic Auth with api.auth.basic.module_name = %r failed", module_name)
        raise
    return response.get("user_id") if response["success"] else None


class LoginThrottle:
    """Failed Basic Auth sign-ins per address (``api.auth.basic.max_failures`` per ``failure_window`` s).

    Counted in the store, so every worker and host sharing it sees the same
    count, and independent of ``limiter.enabled``: password guessing is worth
    stopping on every deployment. Once over, the address waits out the window,
    even with the right password (else a 429 would just mean "wrong, go on").
    """

    def __init__(self, app):
        basic = app.config.get_path("api.auth.basic") or {}
        self.app = app
        self.max_failures = int(basic.get("max_failures", 10) or 0)
        self.window = max(1, math.ceil(float(basic.get("failure_window", 60) or 60)))

    def _key(self, address: str | None) -> str:
        return self.app.store.key("login_failures", address or "?")

    async def retry_after(self, address: str | None) -> int:
        """Seconds ``address`` must wait before its next try; 0 when it may try now."""
        if self.max_failures <= 0:
            return 0
        redis = self.app.store.redis
        key = self._key(address)
        count = await redis.get(key)
        if count is None or int(count) < self.max_failures:
            return 0
        ttl = await redis.ttl(key)
        return int(ttl) if ttl and ttl > 0 else self.window

    async def failed(self, address: str | None) -> None:
        if self.max_failures <= 0:
            return
        key = self._key(address)
        # One transaction: the key is created with its expiry, so no count can outlive its window.
        pipe = self.app.store.redis.pipeline(transaction=True)
        pipe.set(key, 0, ex=self.window, nx=True)
        pipe.incr(key)
        await pipe.execute()
