"""The ss wire protocol: parse, validate and encode messages. No I/O.

The transport hands this module the raw text of each frame and writes back
whatever bytes it returns; everything a peer can get wrong is caught here and
turned into a :class:`ProtocolError` carrying a stable code. See
``docs/protocol.md`` for the messages themselves.

Exceptions::

    ProtocolError            a message the server refuses; answered with an error reply
     +-- FrameTooBig         the frame exceeds the size limit; answered by closing (1009)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = [
    "Call",
    "Heartbeat",
    "Recover",
    "ClientReply",
    "PresenceRequest",
    "ProtocolError",
    "FrameTooBig",
    "Limits",
    "parse",
    "encode",
    "encode_reply",
    "encode_error",
    "encode_event",
    "encode_init",
    "encode_client_call",
    "CLIENT_ERROR_CODES",
    "MAX_CLIENT_ERROR_LENGTH",
    "MAX_METHOD_LENGTH",
    "encode_presence_state",
    "encode_presence_refused",
    "encode_presence_diff",
    "CLOSE_TOO_BIG",
    "CLOSE_SERVICE_RESTART",
    "CLOSE_POLICY",
]

CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012
CLOSE_POLICY = 1008

MAX_ID_LENGTH = 64
MAX_METHOD_LENGTH = 256
MAX_CLIENT_ERROR_LENGTH = 1000   # a client_reply's error message is cut to this many characters

#: what a browser may answer a client_call with when SS.client.<method> did not give a result
CLIENT_ERROR_CODES = frozenset({"no_such_function", "client_error", "bad_result"})
MAX_CHANNEL_LENGTH = 256


class ProtocolError(Exception):
    """A message the server refuses. ``code`` is one of docs/protocol.md's codes."""

    def __init__(self, code: str, message: str, call_id: int | str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.call_id = call_id


class FrameTooBig(ProtocolError):
    """The frame is larger than ``Limits.max_frame_bytes``; the socket must close with 1009."""

    def __init__(self, size: int, limit: int):
        super().__init__("too_big", f"frame of {size} bytes is over the {limit}-byte limit")


@dataclass(frozen=True)
class Limits:
    """Bounds applied to every incoming frame. Defaults are safe for the open internet."""

    max_frame_bytes: int = 1 << 20
    max_depth: int = 32
    max_args: int = 64


@dataclass(slots=True)
class Call:
    """``{"type":"call"}``: run ``method`` (dotted path) with positional ``args``."""

    id: int | str
    method: str
    path: tuple[str, ...]
    args: list[Any] = field(default_factory=list)
    silent: bool = False


@dataclass(slots=True)
class Heartbeat:
    """``{"type":"heartbeat"}``: the tab is still there."""


@dataclass(slots=True)
class Recover:
    """``{"type":"recover"}``: replay what was missed since these stream offsets."""

    streams: dict[str, int]


@dataclass(slots=True)
class ClientReply:
    """``{"type":"client_reply"}``: the browser's answer to the server's ``client_call`` ``id``.

    ``error`` is ``(code, message)`` (a code of :data:`CLIENT_ERROR_CODES`), or None and ``result`` holds the value.
    """

    id: int
    result: Any
    error: tuple[str, str] | None


@dataclass(slots=True)
class PresenceRequest:
    """``{"type":"presence"}``: send me the presence state of ``channel``."""

    channel: str


Message = Call | Heartbeat | Recover | ClientReply | PresenceRequest

_HEARTBEAT = Heartbeat()


def parse(frame: str | bytes, limits: Limits = Limits()) -> Message:
    """Turn one incoming frame into a message object.

    Raises :class:`FrameTooBig` for oversize frames and :class:`ProtocolError`
    (codes ``bad_json``, ``bad_message``, ``unknown_type``, ``private_action``)
    for everything else a client can get wrong.
    """
    size = len(frame)
    if size > limits.max_frame_bytes:
        raise FrameTooBig(size, limits.max_frame_bytes)
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc.msg}") from None
    # orjson gives exact types (dict, list, str, int, bool, ...): `type(x) is` checks are exact here.
    if type(data) is not dict:
        raise ProtocolError("bad_message", f"a message must be a JSON object, not {_json_type(data)}")
    kind = data.get("type")
    if kind == "call":
        return _parse_call(data, limits, frame)
    if kind == "heartbeat":
        return _HEARTBEAT
    if kind == "recover":
        return _parse_recover(data)
    if kind == "client_reply":
        return _parse_client_reply(data, limits, _brackets(frame))
    if kind == "presence":
        return _parse_presence(data)
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", 'a message needs a "type" string')
    raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}")


def _parse_call(data: dict[str, Any], limits: Limits, frame: str | bytes) -> Call:
    call_id: Any = data.get("id")
    kind = type(call_id)
    if kind is int:
        if not -(2**53) < call_id < 2**53:
            raise ProtocolError("bad_message", '"id" is outside the safe integer range')
    elif kind is str:
        if len(call_id) > MAX_ID_LENGTH:
            raise ProtocolError("bad_message", f'"id" is longer than {MAX_ID_LENGTH} characters')
    else:  # a bool is not an id (nor a float, null, list or object)
        raise ProtocolError("bad_message", 'a call needs an "id" (integer or string)')
    method: Any = data.get("method")
    path = _METHOD_PATHS.get(method) if type(method) is str else None
    if path is None:
        path = _method_path(method, call_id)
    args = data.get("args", _NO_ARGS)
    if type(args) is not list:
        raise ProtocolError("bad_message", f'"args" must be a list, not {_json_type(args)}', call_id)
    if args is _NO_ARGS:
        args = []
    elif len(args) > limits.max_args:
        raise ProtocolError("bad_message", f"more than {limits.max_args} arguments", call_id)
    elif args and _brackets(frame) > limits.max_depth and _too_deep(args, limits.max_depth):
        raise ProtocolError("bad_message", f"arguments nest deeper than {limits.max_depth} levels", call_id)
    return Call(call_id, method, path, args, data.get("silent") is True)


_NO_ARGS: list[Any] = []  # never handed out: a call without "args" gets a list of its own


# Validated method names, so the per-call cost of a name seen before is one dict lookup.
_METHOD_PATHS: dict[str, tuple[str, ...]] = {}
_METHOD_CACHE_SIZE = 4096


def _method_path(method: Any, call_id: int | str) -> tuple[str, ...]:
    if not isinstance(method, str) or not method:
        raise ProtocolError("bad_message", 'a call needs a "method" string such as "app.square"', call_id)
    if len(method) > MAX_METHOD_LENGTH:
        raise ProtocolError("bad_message", f'"method" is longer than {MAX_METHOD_LENGTH} characters', call_id)
    path = tuple(method.split("."))
    for part in path:
        if not part:
            raise ProtocolError("bad_message", f"method {method!r} has an empty name in it", call_id)
        if part.startswith("_"):
            raise ProtocolError("private_action", f"{method!r} is private: names starting with _ cannot be called", call_id)
    if len(_METHOD_PATHS) < _METHOD_CACHE_SIZE:
        _METHOD_PATHS[method] = path
    return path


def _parse_recover(data: dict[str, Any]) -> Recover:
    streams = data.get("streams")
    if not isinstance(streams, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in streams.items()
    ):
        raise ProtocolError("bad_message", '"streams" must map stream names to integer offsets')
    return Recover(streams)


def _parse_client_reply(data: dict[str, Any], limits: Limits, nesting: int) -> ClientReply:
    # Errors here never carry the id: an error reply with an id answers the browser's own call of that id.
    reply_id = data.get("id")
    if isinstance(reply_id, bool) or not isinstance(reply_id, int):
        raise ProtocolError("bad_message", 'a client_reply needs the integer "id" of its client_call')
    if not -(2**53) < reply_id < 2**53:
        raise ProtocolError("bad_message", '"id" is outside the safe integer range')
    error = data.get("error")
    if error is None:
        result = data.get("result")
        if nesting > limits.max_depth and _too_deep(result, limits.max_depth):
            raise ProtocolError("bad_message", f"the result nests deeper than {limits.max_depth} levels")
        return ClientReply(reply_id, result, None)
    if "result" in data:
        raise ProtocolError("bad_message", 'a client_reply has a "result" or an "error", not both')
    if not isinstance(error, dict):
        raise ProtocolError("bad_message", '"error" must be an object {"code": ..., "message": ...}')
    code = error.get("code")
    if code not in CLIENT_ERROR_CODES:
        raise ProtocolError("bad_message", f'"error.code" must be one of {", ".join(sorted(CLIENT_ERROR_CODES))}')
    message = error.get("message")
    if not isinstance(message, str):
        raise ProtocolError("bad_message", '"error.message" must be a string')
    if len(message) > MAX_CLIENT_ERROR_LENGTH:
        message = message[:MAX_CLIENT_ERROR_LENGTH] + "…"
    return ClientReply(reply_id, None, (code, message))


def _brackets(frame: str | bytes) -> int:
    """Brackets in the frame: they bound how deep its values can nest, so most messages skip the walk."""
    if isinstance(frame, bytes):
        return frame.count(b"[") + frame.count(b"{")
    return frame.count("[") + frame.count("{")


def _parse_presence(data: dict[str, Any]) -> PresenceRequest:
    channel = data.get("channel")
    if not isinstance(channel, str) or not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise ProtocolError("bad_message", f'"channel" must be a channel name (1 to {MAX_CHANNEL_LENGTH} characters)')
    return PresenceRequest(channel)


def _too_deep(value: Any, limit: int) -> bool:
    """True when lists/objects nest more than ``limit`` levels (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            children: Iterable[Any] = item
        elif isinstance(item, dict):
            children = item.values()
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _default(value: Any) -> Any:
    """Sets become lists; anything else orjson cannot encode is a TypeError naming its type."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(message: dict[str, Any]) -> bytes:
    """Serialise one outgoing message to the bytes of a text frame.

    Raises TypeError for values JSON cannot carry (functions, arbitrary objects).
    """
    return orjson.dumps(message, default=_default, option=orjson.OPT_NON_STR_KEYS)


def encode_reply(call_id: int | str, result: Any) -> bytes:
    return encode({"type": "reply", "id": call_id, "result": result})


def encode_error(call_id: int | str | None, code: str, message: str, traceback: str | None = None) -> bytes:
    error = {"code": code, "message": message}
    if traceback:
        error["traceback"] = traceback
    return encode({"type": "error", "id": call_id, "error": error})


def encode_event(event: str, data: Any, channel: str | None = None, stream: str | None = None,
                 offset: int | None = None) -> bytes:
    message: dict[str, Any] = {"type": "event", "event": event, "data": data}
    if channel is not None:
        message["channel"] = channel
    if stream is not None:
        message["stream"] = stream
        message["offset"] = offset
    return encode(message)


def encode_client_call(call_id: int, method: str, args: list[Any] | tuple[Any, ...]) -> bytes:
    """The server asks the browser to run ``SS.client.<method>(*args)`` and answer ``client_reply`` ``call_id``.

    Raises TypeError for arguments JSON cannot carry.
    """
    return encode({"type": "client_call", "id": call_id, "method": method, "args": args})


def encode_init(connection_id: str, env: str, client_config: dict[str, Any], api: dict[str, Any], **extra: Any) -> bytes:
    """The first message of a connection. It never carries the session id: that is the HttpOnly
    cookie's secret, and page scripts must not be able to read it (an XSS would steal the session)."""
    return encode({"type": "init", "connection_id": connection_id, "env": env, "config": client_config, "api": api,
                   **extra})


def encode_presence_state(channel: str, state: dict[str, list[Any]], version: int) -> bytes:
    """The answer to a presence request: every tracked connection of ``channel``, as ``{user id: [meta, ...]}``."""
    return encode({"type": "presence_state", "channel": channel, "state": state, "version": version})


def encode_presence_refused(channel: str, code: str, message: str) -> bytes:
    """The answer to a presence request that cannot be given (``not_subscribed``, ``presence_off``)."""
    return encode({"type": "presence_state", "channel": channel, "error": {"code": code, "message": message}})


def encode_presence_diff(channel: str, joins: dict[str, list[Any]], leaves: dict[str, list[Any]], version: int) -> bytes:
    """What changed in ``channel``'s presence: metas that left, then metas that joined (an update is both)."""
    return encode({"type": "presence_diff", "channel": channel, "joins": joins, "leaves": leaves, "version": version})
