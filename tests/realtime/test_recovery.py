"""Recovery's pieces on their own: _judge's verdicts, LocalHistory's numbering, expiry and caps, splice."""

from __future__ import annotations

import time
from types import SimpleNamespace

import orjson
import pytest

from ss.protocol import encode_event
from ss.realtime import recovery
from ss.realtime.recovery import LocalHistory, Outgoing, RecoveryResult, _judge, first_offset, splice

# ---- _judge: the verdict from the stream's last offset, the entries after ``after`` and the cut ----


def entries(*offsets: int) -> list[tuple[int, bytes]]:
    return [(offset, b"m%d" % offset) for offset in offsets]


@pytest.mark.parametrize("after, top, kept, cut, expected", [
    (10, None, [], None, RecoveryResult([], "expired")),                 # the stream is unknown (or forgotten)
    (10, 10, [], None, RecoveryResult([], None, 10)),                    # nothing missed
    (10, 10, [], 12, RecoveryResult([], None, 10)),                      # nothing missed, whatever was cut
    (12, 10, [], None, RecoveryResult([], "unknown_offset")),            # an offset never given out
    (10, 13, entries(11, 12, 13), None, RecoveryResult([b"m11", b"m12", b"m13"], None, 13)),
    (10, 13, entries(12, 13), 11, RecoveryResult([], "trimmed")),        # a cap dropped 11, which was missed
    (11, 13, entries(12, 13), 11, RecoveryResult([b"m12", b"m13"], None, 13)),  # dropped, but not missed
    (10, 13, [], None, RecoveryResult([], "expired")),                   # kept no longer than the ttl
    (10, 13, entries(12, 13), None, RecoveryResult([], "trimmed")),      # the first missed is not kept
    (10, 13, entries(11, 13), None, RecoveryResult([], "trimmed")),      # a hole in the middle
])
def test_judge(after, top, kept, cut, expected):
    assert _judge(after, top, kept, cut) == expected


# ---- splice ----

def test_splice_adds_stream_and_offset_to_the_end_of_the_event():
    payload = encode_event("news", {"a": [1, 2]})
    spliced = splice(payload, orjson.dumps("channel:room \"1\""), 1234567890123000)
    assert orjson.loads(spliced) == {**orjson.loads(payload), "stream": "channel:room \"1\"",
                                     "offset": 1234567890123000}
    assert spliced.startswith(payload[:-1])


# ---- LocalHistory ----

class Bus:
    """Records what the history publishes."""

    def __init__(self):
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes) -> None:
        self.published.append((topic, payload))


@pytest.fixture
def clock(monkeypatch):
    """The recovery module's clocks (only its own: asyncio keeps the real ones); ``clock.advance(s)``."""
    state = SimpleNamespace(offset=0.0)
    monotonic, wall = time.monotonic, time.time
    fake = SimpleNamespace(monotonic=lambda: monotonic() + state.offset, time=lambda: wall() + state.offset)
    monkeypatch.setattr(recovery, "time", fake)
    state.advance = lambda seconds: setattr(state, "offset", state.offset + seconds)
    return state


def history(bus=None, ttl=120, size=1000, meta_ttl=86400, **caps) -> LocalHistory:
    return LocalHistory(bus or Bus(), ttl, size, meta_ttl, **caps)


def message(text: str, stream: str | None = "channel:room", topic: str = "ss:channel:room") -> Outgoing:
    return Outgoing(topic, encode_event("news", text), stream)


def offsets(bus: Bus) -> list[int]:
    return [orjson.loads(payload)["offset"] for _, payload in bus.published]


async def test_messages_are_numbered_per_stream_consecutively_from_the_time(clock):
    bus = Bus()
    h = history(bus)
    before = first_offset()
    await h.send([message("a"), message("b"), message("x", "channel:lobby", "ss:channel:lobby"), message("c")])
    published = [orjson.loads(payload) for _, payload in bus.published]
    assert [p["data"] for p in published] == ["a", "b", "x", "c"]           # in order
    assert [p["stream"] for p in published] == ["channel:room"] * 2 + ["channel:lobby", "channel:room"]
    room = [p["offset"] for p in published if p["stream"] == "channel:room"]
    assert room[1] == room[0] + 1 and room[2] == room[0] + 2              # consecutive per stream
    assert all(offset > before for offset in offsets(bus))                 # above any earlier incarnation's
    assert [topic for topic, _ in bus.published] == ["ss:channel:room"] * 2 + ["ss:channel:lobby", "ss:channel:room"]


async def test_a_message_without_a_stream_is_published_as_it_is_and_not_kept(clock):
    bus = Bus()
    h = history(bus)
    plain = message("plain", stream=None)
    await h.send([plain])
    assert bus.published == [("ss:channel:room", plain.payload)]
    assert (await h.read("channel:room", 0)).failed == "expired"          # nothing was numbered


async def test_read_gives_what_was_missed_after_an_offset(clock):
    bus = Bus()
    h = history(bus)
    await h.send([message(text) for text in "abcd"])
    first, *_, last = offsets(bus)
    result = await h.read("channel:room", first + 1)
    assert result.failed is None and result.last_offset == last
    assert [orjson.loads(p)["data"] for p in result.payloads] == ["c", "d"]
    assert result.payloads == [payload for _, payload in bus.published[2:]]   # the very bytes sent
    assert await h.read("channel:room", last) == RecoveryResult([], None, last)
    assert (await h.read("channel:room", last + 1)).failed == "unknown_offset"
    assert (await h.read("channel:other", 5)).failed == "expired"


async def test_history_expires_after_the_ttl_but_the_counter_is_kept(clock):
    bus = Bus()
    h = history(bus, ttl=10, meta_ttl=100)
    await h.send([message("a"), message("b")])
    first, last = offsets(bus)
    clock.advance(11)
    assert (await h.read("channel:room", first)).failed == "expired"
    assert await h.read("channel:room", last) == RecoveryResult([], None, last)   # nothing was missed
    await h.send([message("c")])
    assert offsets(bus)[-1] == last + 1                                    # the numbering goes on
    assert (await h.read("channel:room", first)).failed == "trimmed"         # "b" is gone for good: not all kept
    assert [orjson.loads(p)["data"] for p in (await h.read("channel:room", last)).payloads] == ["c"]


async def test_a_forgotten_stream_starts_again_above_its_old_offsets(clock):
    bus = Bus()
    h = history(bus, ttl=10, meta_ttl=100)
    await h.send([message("a")])
    old = offsets(bus)[-1]
    clock.advance(101)
    assert (await h.read("channel:room", old)).failed == "expired"          # the counter is gone too
    await h.send([message("b")])
    new = offsets(bus)[-1]
    assert new > old                                                       # never mistaken for a seen one
    assert (await h.read("channel:room", old)).failed == "trimmed"          # a gap, never a silent success
    assert (await h.read("channel:room", new - 1)).payloads == [bus.published[-1][1]]


async def test_the_size_cap_trims_the_oldest(clock):
    bus = Bus()
    h = history(bus, size=3)
    await h.send([message(text) for text in "abcde"])
    all_offsets = offsets(bus)
    # Kept: c, d, e. Missing from b on is still fine; from a on, b was dropped.
    kept = await h.read("channel:room", all_offsets[1])
    assert [orjson.loads(p)["data"] for p in kept.payloads] == ["c", "d", "e"]
    assert (await h.read("channel:room", all_offsets[0])).failed == "trimmed"


async def test_the_byte_cap_per_stream_trims_the_oldest(clock):
    bus = Bus()
    one = len(splice(message("x" * 100).payload, orjson.dumps("channel:room"), first_offset()))
    h = history(bus, max_bytes=one * 2 + 10)                                 # room for two such messages
    await h.send([message(c * 100) for c in "abc"])
    a, b, c = offsets(bus)
    assert (await h.read("channel:room", a - 1)).failed == "trimmed"         # "a" was missed and dropped
    kept = await h.read("channel:room", a)
    assert [orjson.loads(p)["data"][0] for p in kept.payloads] == ["b", "c"]
    assert kept.last_offset == c


async def test_the_total_byte_cap_drops_the_oldest_message_of_any_stream(clock):
    bus = Bus()
    one = len(splice(message("x" * 100).payload, orjson.dumps("channel:room"), first_offset()))
    h = history(bus, max_total_bytes=one * 3 + 10)                           # room for three, all streams together
    await h.send([message("a" * 100),
                  message("b" * 100, "channel:lobby", "ss:channel:lobby"),
                  message("c" * 100),
                  message("d" * 100, "channel:lobby", "ss:channel:lobby")])  # "a" has to go
    room_a, lobby_b, room_c, lobby_d = offsets(bus)
    assert (await h.read("channel:room", room_a - 1)).failed == "trimmed"
    room = await h.read("channel:room", room_a)
    assert [orjson.loads(p)["data"][0] for p in room.payloads] == ["c"]
    lobby = await h.read("channel:lobby", lobby_b - 1)
    assert [orjson.loads(p)["data"][0] for p in lobby.payloads] == ["b", "d"]
