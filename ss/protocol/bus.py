"""What instances say to each other on the store's bus: pure encoding, no I/O.

Most bus payloads are a browser message as is (``{"type":"event",...}``): every
instance frames the bytes once and hands the frame to its sockets on that topic.
A payload whose first byte is not ``{`` is an *envelope* around such a message,
or an instruction between instances::

    !<id> <id> ...\\n<message>   deliver <message>, except to these connections (exclude=)
    @<id>\\n<message>            deliver <message> to this one connection (publish.socket)
    #<json object>              an instruction for the instances that get it (see "op")

Connection ids (``<instance>.<counter>``) never hold spaces or newlines, so the
header needs no escaping. The browser never sees an envelope: the message after
the header goes out as it came.
"""

from __future__ import annotations

from typing import Any, Iterable

import orjson

__all__ = ["EXCLUDE", "DIRECT", "CONTROL", "MAX_ID_LENGTH", "valid_connection_id", "instance_of",
           "exclusion_header", "direct", "control", "split"]

EXCLUDE = 0x21   # "!"
DIRECT = 0x40    # "@"
CONTROL = 0x23   # "#"
MESSAGE = 0x7B   # "{": a browser message, no envelope

MAX_ID_LENGTH = 64


def valid_connection_id(value: Any) -> bool:
    """A string that can be a connection id: 1-64 printable characters, no whitespace."""
    return (isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()
            and not any(c.isspace() for c in value))


def instance_of(connection_id: str) -> str:
    """``"k3Jx9a.1f"`` -> ``"k3Jx9a"``: the instance that holds the connection."""
    return connection_id.partition(".")[0]


def exclusion_header(ids: Iterable[str]) -> bytes:
    """The prefix that keeps a message from these connections (ids already validated)."""
    return b"!" + " ".join(ids).encode() + b"\n"


def direct(connection_id: str, message: bytes) -> bytes:
    """``message`` for one connection only."""
    return b"@" + connection_id.encode() + b"\n" + message


def control(op: str, **fields: Any) -> bytes:
    """An instruction between instances: ``{"op": op, ...fields}``."""
    return b"#" + orjson.dumps({"op": op, **fields})


def split(payload: bytes) -> tuple[int, list[str], bytes]:
    """``(kind, connection ids, message)`` of an envelope (kind EXCLUDE or DIRECT), or
    ``(CONTROL, [], json)``; a plain message is ``(MESSAGE, [], payload)``."""
    kind = payload[0] if payload else MESSAGE
    if kind == MESSAGE:
        return MESSAGE, [], payload
    if kind == CONTROL:
        return CONTROL, [], payload[1:]
    header, _, message = payload.partition(b"\n")
    return kind, header[1:].decode().split(" "), message
