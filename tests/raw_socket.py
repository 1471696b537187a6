"""A WebSocket opened by hand over asyncio streams, for frames the client libraries will not build."""

import asyncio


def client_frame(first: int, payload: bytes, masked: bool = True) -> bytes:
    """A client frame: ``first`` is the first byte (FIN, RSV, opcode), e.g. 0x81 for a final text frame."""
    size = len(payload)
    bit = 0x80 if masked else 0
    head = bytes([first, bit | size]) if size < 126 else bytes([first, bit | 126]) + size.to_bytes(2, "big")
    if not masked:
        return head + payload
    mask = b"\x01\x02\x03\x04"
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def open_raw_socket(port: int):
    """(reader, writer) of a socket upgraded at /_ss/socket; the 101 response is consumed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /_ss/socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head[:100]
    return reader, writer


async def read_until_closed(reader) -> bytes:
    """Everything the server sends until it closes the connection (5 s at most per read)."""
    received = b""
    while True:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            return received
        received += chunk


def split_server_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The payloads of the complete (unmasked) server frames in ``buffer``, and the rest."""
    payloads = []
    while len(buffer) >= 2:
        size, start = buffer[1] & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, start = int.from_bytes(buffer[2:4], "big"), 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, start = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < start + size:
            break
        payloads.append(buffer[start:start + size])
        buffer = buffer[start + size:]
    return payloads, buffer


async def pipelined_squares(reader, writer, count: int, method: str = "app.square") -> dict:
    """Send ``count`` calls of ``method`` (app.square) in one write; return {call id: result} once all replied."""
    import orjson

    writer.write(b"".join(client_frame(0x81, orjson.dumps({"type": "call", "id": i, "method": method,
                                                           "args": [i]})) for i in range(count)))
    replies: dict = {}
    buffer = b""
    while len(replies) < count:
        payloads, buffer = split_server_frames(buffer + await asyncio.wait_for(reader.read(65536), 5))
        for message in map(orjson.loads, payloads):
            if message.get("type") == "reply":
                replies[message["id"]] = message["result"]
    return replies
