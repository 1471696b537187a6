"""WebSocket frames (RFC 6455, no extensions), pure: a browser's bytes in, messages out; server frames built.

Tornado reads a frame with three awaited reads (header, mask, payload). ss reads
whatever the socket has, once, and splits it here: a tab that pipelines ten
calls costs one read and one pass instead of thirty reads. No sockets are
involved, so every edge case (frames cut anywhere, fragments, bad frames) is
tested directly.

:class:`FrameReader` keeps the bytes of an incomplete frame and of a fragmented
message between feeds. A frame that breaks the protocol stops the reader: the
messages before it are still returned, and ``error`` says what happened.
"""

from __future__ import annotations

import struct
from typing import Callable

__all__ = ["FrameReader", "FrameError", "MessageTooBig", "text_frame", "close_frame", "unmask", "PING_FRAME",
           "TEXT", "BINARY", "CLOSE", "PING", "PONG"]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def unmask(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (one big-integer XOR: no loop per byte).

    The transport may hand :class:`FrameReader` a faster C version of the same function.
    """
    size = len(data)
    if not size:
        return b""
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(size, "little")


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame around ``payload`` (server to client).

    Built once per message so a broadcast writes the same bytes to every socket.
    """
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def frame_payload(frame: bytes) -> bytes:
    """The payload of a frame made by :func:`text_frame` (transports that do not speak WebSocket unwrap it)."""
    size = frame[1] & 0x7F
    return frame[2 + (2 if size == 126 else 8 if size == 127 else 0):]


def close_frame(code: int, reason: str = "") -> bytes:
    """A server close frame with ``code`` and a reason of at most 123 UTF-8 bytes."""
    payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
    return struct.pack("!BB", 0x88, len(payload)) + payload


PING_FRAME = b"\x89\x00"  # an empty WebSocket ping, built once


class FrameError(Exception):
    """The client broke the WebSocket protocol; the connection must end (close code 1002)."""

    code = 1002


class MessageTooBig(FrameError):
    """A message is over the size limit (close code 1009). Raised as soon as a header announces it."""

    code = 1009


class FrameReader:
    """Splits a client's byte stream into messages: ``feed(data)`` returns ``[(opcode, payload), ...]``.

    Text and binary messages come out whole (fragments joined, payloads unmasked);
    close, ping and pong frames come out as they arrive, also between fragments.
    """

    __slots__ = ("max_message_size", "error", "_partial", "_need", "_fragments", "_fragment_opcode", "_unmask")

    def __init__(self, max_message_size: int, unmask: Callable[[bytes, bytes], bytes] = unmask):
        self.max_message_size = max_message_size
        self._unmask = unmask
        self.error: FrameError | None = None
        self._partial = bytearray()             # the start of a frame not yet complete
        self._need = 0                          # bytes that frame needs in all, when its header is in
        self._fragments: bytearray | None = None  # a fragmented message so far
        self._fragment_opcode = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The messages completed by ``data``. After an error, the reader takes nothing more."""
        if self.error is not None:
            return []
        if self._partial:
            self._partial += data
            if len(self._partial) < self._need:
                return []  # a big frame arriving in pieces: gathered without re-parsing
            data = bytes(self._partial)
            self._partial = bytearray()
        messages: list[tuple[int, bytes]] = []
        try:
            end = self._split(data, messages)
        except FrameError as exc:
            self.error = exc
            return messages
        if end < len(data):
            self._partial += data[end:]
        return messages

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame or message."""
        return len(self._partial) + (len(self._fragments) if self._fragments is not None else 0)

    def _split(self, data: bytes, messages: list[tuple[int, bytes]]) -> int:
        """Append the complete frames' messages; return where the first incomplete frame starts."""
        pos, end, limit, _unmask = 0, len(data), self.max_message_size, self._unmask
        self._need = 0
        while end - pos >= 2:
            first, second = data[pos], data[pos + 1]
            if first & 0x70:
                raise FrameError("reserved bits set, but no extension was agreed")
            if not second & 0x80:
                raise FrameError("a client frame is not masked")
            opcode = first & 0x0F
            length = second & 0x7F
            head = pos + 2
            if length >= 126:
                if opcode & 0x8:
                    raise FrameError("a control frame is longer than 125 bytes")
                size = 2 if length == 126 else 8
                if end - head < size:
                    break
                length = int.from_bytes(data[head:head + size], "big")
                head += size
            so_far = len(self._fragments) if opcode == CONTINUATION and self._fragments is not None else 0
            if length + so_far > limit:
                raise MessageTooBig(f"a message of more than {limit} bytes")
            frame_end = head + 4 + length
            if frame_end > end:
                self._need = frame_end - pos
                break
            payload = _unmask(data[head:head + 4], data[head + 4:frame_end]) if length else b""
            pos = frame_end
            final = first & 0x80
            if opcode == TEXT or opcode == BINARY:
                if self._fragments is not None:
                    raise FrameError("a new message started before the fragmented one ended")
                if final:
                    messages.append((opcode, payload))
                else:
                    self._fragments, self._fragment_opcode = bytearray(payload), opcode
            elif opcode == CONTINUATION:
                if self._fragments is None:
                    raise FrameError("a continuation frame with no message to continue")
                self._fragments += payload
                if final:
                    messages.append((self._fragment_opcode, bytes(self._fragments)))
                    self._fragments = None
            elif opcode in (CLOSE, PING, PONG):
                if not final:
                    raise FrameError("a fragmented control frame")
                messages.append((opcode, payload))
            else:
                raise FrameError(f"unknown opcode {opcode:#x}")
        return pos
