"""Accepting a browser tab, whatever transport it comes by: the checks and the first messages.

Both transports (the WebSocket in ``websocket.py``, the HTTP fallback in
``http_transport.py``) refuse and accept a client the same way, here:
everything that can refuse it (the origin, the per-address limit) is checked
before any session is looked up or created, so a refused request costs no
session and never sets a cookie. Once the transport has made its
:class:`~ss.realtime.connection.Connection`, :func:`start_connection`
registers it, sends the init message and runs the open hooks.
"""

from __future__ import annotations

import re
import secrets
import weakref
from typing import Any, NamedTuple

import tornado.web

from .. import protocol
from ..errors import CallError
from ..sessions.cookie import set_session_cookie
from . import compat
from .origin import origin_allowed

__all__ = ["Accepted", "accept_client", "start_connection", "init_message"]

_TAB_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


class Accepted(NamedTuple):
    session: Any
    tab: str
    recovering: bool


async def accept_client(handler: tornado.web.RequestHandler, app: Any, log: Any, what: str) -> Accepted:
    """Check a new client's request and pick its session (``what``: "WebSocket", "HTTP connection").

    Raises tornado.web.HTTPError: 403 for a foreign origin, 429 over
    ``limits.max_connections_per_ip``, the CallError's status (503) when the
    store cannot give a session. Sets the session cookie on ``handler`` when
    the session is new.
    """
    request = handler.request
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, request, app.config):
        raise tornado.web.HTTPError(403, f"cross-origin {what} refused (security.allowed_origins)")
    per_ip = int(app.config.limits.get("max_connections_per_ip") or 0)
    if per_ip and app.connections.count_from(request.remote_ip) >= per_ip:
        log.warning("refusing a %s from %s: already %d open (limits.max_connections_per_ip)",
                    what, request.remote_ip, per_ip)
        raise tornado.web.HTTPError(429, "too many connections from this address")
    wait = app.connections.gate.admit()
    if wait is not None:
        await wait  # a storm of handshakes: a few per loop turn, so other clients' calls keep their pace
    tab = handler.get_query_argument("tab", "")
    # The tab id names this page load across reconnects, so retried calls are recognised.
    tab = tab if _TAB_ID.match(tab) else secrets.token_hex(8)
    cookie = handler.get_cookie(app.config.session.cookie_name)
    compat.forget_parsed_cookies(request)
    try:
        session = await app.sessions.for_request(cookie)
    except CallError as exc:
        raise tornado.web.HTTPError(exc.http_status, exc.message) from None
    if session.id != cookie:
        set_session_cookie(handler, session.id)
    return Accepted(session, tab, handler.get_query_argument("recover", None) == "1")


async def start_connection(app: Any, connection: Any) -> None:
    """Register an accepted connection, send its init message and run the open hooks."""
    app.connections.add(connection)
    version = await app.pipeline.version() if app.pipeline is not None else None
    connection.send(init_message(app, connection.id, version))
    await app.sessions.hooks.socket_opened(connection)


class _InitTemplate(NamedTuple):
    tree: Any
    assets: str | None
    head: bytes
    tail: bytes


# app -> its init message around the connection id: config and API are the same for every
# socket, so they are encoded once per API tree (a reload makes a new one) and assets version.
_INIT_TEMPLATES: weakref.WeakKeyDictionary[Any, _InitTemplate] = weakref.WeakKeyDictionary()


def init_message(app: Any, connection_id: str, assets: str | None = None) -> bytes:
    """The init message for ``connection_id``: exactly ``protocol.encode_init``'s bytes, built from a template.

    ``assets``: the development asset version (a tab that missed a reload sees it differs).
    """
    template = _INIT_TEMPLATES.get(app)
    if template is None or template.tree is not app.tree or template.assets != assets:
        marker = "ss-init-" + secrets.token_hex(12)  # appears nowhere else: config and API names are not random
        extra = {"assets": assets} if assets is not None else {}
        whole = protocol.encode_init(marker, app.env, app.client_config(), app.tree.describe(), **extra)
        head, _, tail = whole.partition(f'"{marker}"'.encode())
        template = _InitTemplate(app.tree, assets, head, tail)
        _INIT_TEMPLATES[app] = template
    if not _PLAIN_ID.match(connection_id):  # never for ids ss makes; the template splices without escaping
        extra = {"assets": assets} if assets is not None else {}
        return protocol.encode_init(connection_id, app.env, app.client_config(), app.tree.describe(), **extra)
    return b"".join((template.head, b'"', connection_id.encode(), b'"', template.tail))
