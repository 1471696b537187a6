"""The WebSocket frame reader, without sockets: frames cut anywhere, fragments, control frames, bad frames."""

import os
import re
import struct

import pytest

from ss.protocol.frames import BINARY, CLOSE, PING, PONG, TEXT, FrameReader


def frame(opcode, payload=b"", fin=True, mask=b"\x1f\x8b\x00\xff", rsv=0, masked=True, length=None):
    """A client frame as a browser sends it."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    bit = 0x80 if masked else 0
    if size < 126:
        head = struct.pack("!BB", first, bit | size)
    elif size <= 0xFFFF:
        head = struct.pack("!BBH", first, bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, bit | 127, size)
    if not masked:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def text(s):
    return frame(TEXT, s.encode())


def test_one_frame_one_message():
    assert FrameReader(1 << 20).feed(text('{"type":"call"}')) == [(TEXT, b'{"type":"call"}')]


def test_many_frames_in_one_read():
    stream = b"".join(text(f"m{i}") for i in range(10))
    assert FrameReader(1 << 20).feed(stream) == [(TEXT, f"m{i}".encode()) for i in range(10)]


def test_every_cut_of_a_stream_gives_the_same_messages():
    medium, big = os.urandom(300), os.urandom(70_000)        # 16-bit and 64-bit length forms
    stream = text("a") + frame(BINARY, medium) + frame(PING, b"p") + frame(BINARY, big) + frame(TEXT, b"")
    expected = [(TEXT, b"a"), (BINARY, medium), (PING, b"p"), (BINARY, big), (TEXT, b"")]
    for cut in list(range(0, 400)) + list(range(len(stream) - 50, len(stream) + 1)):
        reader = FrameReader(1 << 20)
        assert reader.feed(stream[:cut]) + reader.feed(stream[cut:]) == expected, cut
        assert reader.buffered == 0
    reader = FrameReader(1 << 20)
    assert [m for i in range(len(stream[:2000])) for m in reader.feed(stream[i:i + 1])] == expected[:3]


def test_a_big_frame_arriving_in_pieces_is_gathered():
    payload = os.urandom(200_000)
    stream, reader, got = frame(BINARY, payload), FrameReader(1 << 20), []
    for i in range(0, len(stream), 4096):
        got += reader.feed(stream[i:i + 4096])
        if i + 4096 < len(stream):
            assert got == [] and reader.buffered == i + 4096
    assert got == [(BINARY, payload)]


def test_fragments_are_joined_and_control_frames_pass_between_them():
    stream = (frame(TEXT, b"hel", fin=False) + frame(PING, b"1") + frame(0, b"lo ", fin=False)
              + frame(PONG, b"2") + frame(0, b"world") + frame(CLOSE, struct.pack("!H", 1000)))
    assert FrameReader(1 << 20).feed(stream) == [(PING, b"1"), (PONG, b"2"), (TEXT, b"hello world"),
                                                 (CLOSE, b"\x03\xe8")]


BAD = [
    ("unmasked", frame(TEXT, b"x", masked=False), "not masked"),
    ("reserved bit", frame(TEXT, b"x", rsv=0x40), "reserved bits"),
    ("long control frame", frame(PING, b"x" * 126), "longer than 125"),
    ("fragmented control frame", frame(PING, b"x", fin=False), "fragmented control"),
    ("lone continuation", frame(0, b"x"), "nothing|no message to continue"),
    ("new message inside a fragmented one", frame(TEXT, b"a", fin=False) + text("b"), "before the fragmented"),
    ("unknown opcode", frame(0x3, b"x"), "unknown opcode"),
]


@pytest.mark.parametrize("name,bad,reason", BAD, ids=[b[0] for b in BAD])
def test_a_bad_frame_stops_the_reader_after_the_good_ones(name, bad, reason):
    reader = FrameReader(1 << 20)
    assert reader.feed(text("before") + bad + text("after")) == [(TEXT, b"before")]
    assert reader.error is not None and reader.error.code == 1002
    assert re.search(reason, str(reader.error))
    assert reader.feed(text("later")) == []


def test_a_too_big_message_is_refused_from_its_header():
    reader = FrameReader(1000)
    head = frame(BINARY, length=5000)[:2 + 2 + 4]                  # header and mask only: no payload yet
    assert reader.feed(text("ok") + head) == [(TEXT, b"ok")]
    assert reader.error.code == 1009


def test_fragments_count_towards_the_limit():
    reader = FrameReader(1000)
    assert reader.feed(frame(TEXT, b"a" * 600, fin=False)) == []
    assert reader.error is None
    assert reader.feed(frame(0, b"b" * 600)) == []
    assert reader.error.code == 1009
    assert FrameReader(1000).feed(frame(TEXT, b"a" * 1000)) == [(TEXT, b"a" * 1000)]   # the limit itself is fine
