"""Outgoing frames are written once per loop tick, and wait (briefly) while the loop has other work ready."""

import asyncio
import time

import pytest

from ss.realtime.outbox import Flusher, send_frame_to_many

# uvloop keeps its ready callbacks where the flusher cannot see them: a burst must coalesce there too.
pytestmark = pytest.mark.both_loops


class FakeSocket:
    """What the flusher needs of a connection: an outbox and write_queued()."""

    def __init__(self):
        self.closed = False
        self.outbox = None
        self.writes: list[tuple[float, bytes]] = []

    def write_queued(self):
        frames, self.outbox = self.outbox, None
        self.writes.append((time.monotonic(), b"".join(frames)))

    def queue(self, flusher, frame):
        send_frame_to_many(flusher, (self,), frame)


async def test_an_idle_loop_writes_at_once():
    flusher, socket = Flusher(), FakeSocket()
    flusher.max_delay = 0.5
    queued_at = time.monotonic()
    socket.queue(flusher, b"a")
    socket.queue(flusher, b"b")
    assert socket.writes == []                      # nothing is written inside the tick that queued
    await asyncio.sleep(0.3)                        # nothing else to run: the next tick writes
    assert [data for _, data in socket.writes] == [b"ab"]
    assert socket.writes[0][0] - queued_at < 0.25   # did not wait for max_delay


async def test_a_burst_shares_one_write_while_the_loop_is_busy():
    flusher, sockets = Flusher(), [FakeSocket(), FakeSocket()]
    flusher.max_delay = 0.5                         # generous, so the burst (not the clock) ends the wait
    for i in range(20):                             # one message per loop turn, as a publishing task does
        for socket in sockets:
            socket.queue(flusher, b"%d," % i)
        await asyncio.sleep(0)
    assert all(socket.writes == [] for socket in sockets)
    await asyncio.sleep(0.01)                       # the loop goes idle: the write happens
    for socket in sockets:
        assert [data for _, data in socket.writes] == [b"".join(b"%d," % i for i in range(20))]


async def test_a_burst_whose_messages_take_several_turns_each_shares_a_write():
    # As ss.publish does: a message is handed to the store and delivered turns later, and the
    # publisher waits for that before its next one, so turns without a new frame come between
    # the frames of one burst. The first frame may go out alone (it may be the only one).
    flusher, socket = Flusher(), FakeSocket()
    flusher.max_delay = 0.5
    for i in range(20):
        socket.queue(flusher, b"%d," % i)
        for _ in range(3):                          # hand-over, delivery, the publisher's own await
            await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert b"".join(data for _, data in socket.writes) == b"".join(b"%d," % i for i in range(20))
    assert len(socket.writes) <= 2, [data for _, data in socket.writes]


async def test_the_wait_is_bounded_by_max_delay():
    flusher, socket = Flusher(), FakeSocket()
    flusher.max_delay = 0.02
    started = time.monotonic()
    socket.queue(flusher, b"first")
    while time.monotonic() - started < 0.2:         # a loop that always has something ready
        await asyncio.sleep(0)
    assert socket.writes, "the write waited past max_delay"
    written_at, data = socket.writes[0]
    assert data == b"first"
    assert written_at - started < 0.15


async def test_max_delay_zero_writes_every_tick():
    flusher, socket = Flusher(), FakeSocket()
    flusher.max_delay = 0
    for i in range(3):
        socket.queue(flusher, b"%d" % i)
        await asyncio.sleep(0)                      # this task is ready again, yet the write goes out
    assert [data for _, data in socket.writes] == [b"0", b"1", b"2"]
