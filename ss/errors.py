"""What goes wrong, in one model: every error code a client can see, with its HTTP status and close code.

Exceptions ss raises on purpose::

    SSError                       root: anything ss raises deliberately
     +-- StartupError             the app cannot start as configured; the message says what to fix
     |    +-- ConfigError         config files (ss.settings)
     |    +-- ApiTreeError        app/server cannot be loaded (ss.rpc.api_tree; also on live reload)
     |    +-- CertificateError    https certificate files (ss.web.tls)
     |    +-- MiddlewareError     config/http.py (ss.web.middleware)
     |    +-- DbFileError         config/db.py (ss.db_setup)
     |    +-- StoreUnavailable    Redis configured but not answering (ss.store)
     |    +-- WorkersError        --workers that cannot share the store (ss.workers)
     |    +-- NotAnApp            no app in this folder (ss.project)
     +-- CallError                a call (socket, HTTP API, ss.server) answered with an error:
     |    |                       ``code`` is an :class:`ErrorCode`
     |    +-- ClientCallError     a call to the browser (Connection.call, ss.connections.call) gave no result
     +-- ClientCallArgumentError  an argument of a call to the browser cannot be sent as JSON (also a TypeError)
     +-- AssetError               the asset pipeline (ss.assets.errors: CompileError, NodeWorkerError, PackError)
     +-- SharedCodeError, JSError app/shared code on the server (ss.shared_code)
     +-- AuthModuleError          a lib/server auth module missing or answering wrongly (ss.sessions.auth)
     +-- PublishError             ss.publish called with bad arguments (also a ValueError)
     +-- CommandError             a CLI command cannot go on (ss.cli)

The wire layer (``ss.protocol``) stays free of ss imports: its ``ProtocolError``
carries the same code strings, which :class:`ErrorCode` turns into statuses.
:func:`error_body` is the one place an error becomes the ``{"code", "message"}``
object every door answers with.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["ErrorCode", "SSError", "StartupError", "CallError", "ClientCallError", "ClientCallArgumentError",
           "PublishError", "PresenceError",
           "error_body", "http_status",
           "CLOSE_PROTOCOL_ERROR", "CLOSE_INVALID_DATA", "CLOSE_POLICY", "CLOSE_TOO_BIG", "CLOSE_SERVICE_RESTART",
           "CLOSE_SESSION_CHANGED", "CLOSE_DISCONNECTED"]

# WebSocket close codes ss uses (RFC 6455 section 7.4, and 4000-4999 for ss's own).
CLOSE_PROTOCOL_ERROR = 1002    # a frame broke RFC 6455
CLOSE_INVALID_DATA = 1007      # a text frame that is not UTF-8
CLOSE_POLICY = 1008            # refused by policy (e.g. not read fast enough)
CLOSE_TOO_BIG = 1009           # a message over limits.max_frame_bytes
CLOSE_SERVICE_RESTART = 1012   # the server is shutting down: reconnect (elsewhere)
CLOSE_SESSION_CHANGED = 4001   # the session signed in on another connection: reconnect with the new cookie
CLOSE_DISCONNECTED = 4002      # the app disconnected this user (ss.users.disconnect): do not reconnect on your own


class ErrorCode(str, enum.Enum):
    """An error code of docs/protocol.md, with the HTTP status the HTTP API (and pages) answer it with."""

    _value_: str
    http_status: int

    def __new__(cls, value: str, http_status: int) -> "ErrorCode":
        member = str.__new__(cls, value)
        member._value_ = value
        member.http_status = http_status
        return member

    BAD_JSON = ("bad_json", 400)
    BAD_MESSAGE = ("bad_message", 400)
    UNKNOWN_TYPE = ("unknown_type", 400)
    TOO_BIG = ("too_big", 413)
    UNKNOWN_ACTION = ("unknown_action", 404)
    PRIVATE_ACTION = ("private_action", 404)
    BAD_ARGUMENTS = ("bad_arguments", 400)
    ACTION_FAILED = ("action_failed", 500)
    UNAUTHORIZED = ("unauthorized", 401)
    STORE_UNAVAILABLE = ("store_unavailable", 503)
    HTTPS_REQUIRED = ("https_required", 403)
    TOO_MANY_CALLS = ("too_many_calls", 429)
    RATE_LIMITED = ("rate_limited", 429)
    BAD_TOKEN = ("bad_token", 403)
    BAD_HOST = ("bad_host", 400)    # a Host header not in http.allowed_hosts (DNS rebinding)
    CONNECTION_GONE = ("connection_gone", 410)
    ORIGIN_REFUSED = ("origin_refused", 403)
    TOO_MANY_CONNECTIONS = ("too_many_connections", 429)
    # A call to the browser (ss.ClientCallError) that gave no result: the browser is the failing party.
    NO_SUCH_FUNCTION = ("no_such_function", 502)
    CLIENT_ERROR = ("client_error", 502)
    BAD_RESULT = ("bad_result", 502)
    TIMEOUT = ("timeout", 504)

    def __str__(self) -> str:
        return self._value_


def http_status(code: str) -> int:
    """The HTTP status for an error code string (400 for a code this version does not know)."""
    try:
        return ErrorCode(code).http_status  # type: ignore[call-arg]  # lookup by value: mypy wants __new__'s arguments
    except ValueError:
        return 400


class SSError(Exception):
    """Root of the exceptions ss raises deliberately."""


class StartupError(SSError):
    """The app cannot start as configured; the message names what to fix and where."""


class CallError(SSError):
    """A call that cannot be answered with a result. ``code`` is an :class:`ErrorCode` (a str)."""

    def __init__(self, code: "ErrorCode | str", message: str, traceback: str | None = None):
        super().__init__(message)
        self.code = ErrorCode(code)  # type: ignore[call-arg]  # lookup by value: mypy wants __new__'s arguments
        self.message = message
        self.traceback = traceback

    @property
    def http_status(self) -> int:
        return self.code.http_status


class ClientCallError(CallError):
    """A call to the browser gave no result. ``code``: ``no_such_function``, ``client_error``, ``bad_result``
    (the browser said so), ``timeout``, ``connection_gone`` or ``too_many_calls``.

    ``method`` is the ``SS.client`` path called, ``connection_id`` the connection's id. Uncaught in an
    action, it answers the action's own caller with the same code and message (it is a CallError).
    """

    def __init__(self, code: "ErrorCode | str", message: str, method: str | None = None,
                 connection_id: str | None = None):
        super().__init__(code, message)
        self.method = method
        self.connection_id = connection_id


class ClientCallArgumentError(SSError, TypeError):
    """An argument of a call to the browser cannot be sent as JSON; raised before anything is sent."""


class PublishError(SSError, ValueError):
    """A publish (or ``ss.users.disconnect``) called with bad arguments (the message says which)."""


class PresenceError(SSError, ValueError):
    """track / update / untrack called in a way that cannot work (the message says what to do)."""


def error_body(code: str, message: str, traceback: str | None = None) -> dict[str, Any]:
    """``{"code", "message"[, "traceback"]}``: what every door (socket, HTTP API, pages) says of an error."""
    error: dict[str, Any] = {"code": str(code), "message": message}
    if traceback:
        error["traceback"] = traceback
    return error
