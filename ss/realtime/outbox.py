"""Write batching: every connection's queued frames go out together, once per event-loop turn.

Replies and pub/sub frames are appended to a connection's ``outbox`` (a list
of pre-built frames); the first frame queued for a connection in a turn puts
it on the app's :class:`Flusher`, which writes every waiting connection at
the end of the turn. A fan-out to N connections therefore costs N list
appends and one write per connection, whatever the number of messages.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterable

from . import compat

__all__ = ["Flusher", "QUIET_TURNS", "send_frame_to_many"]


def send_frame_to_many(flusher: "Flusher", connections: Iterable[Any], frame: bytes) -> None:
    """Queue one pre-built frame for each open connection of ``connections`` (one, or a topic's members).

    The per-connection cost of a fan-out is an append here and one write at the
    end of the turn; only the first connection queued in a turn schedules that write.
    """
    flusher.sends += 1  # what the flusher watches on a loop that does not show its ready callbacks
    queued = None
    for connection in connections:
        if connection.closed:
            continue
        outbox = connection.outbox
        if outbox is None:
            connection.outbox = [frame]
            if queued is None:
                queued = flusher.queue()
            queued.append(connection)
        else:
            outbox.append(frame)


#: On a loop that hides its ready callbacks (uvloop): the turns without a new frame a write
#: waits through while a burst is on. Measured on the fan-out bench (bench/README.md).
QUIET_TURNS = 8


class Flusher:
    """Writes every connection's queued frames once per event-loop turn (one per app).

    While the loop has other callbacks ready to run (a burst of publishes, more
    calls to answer), the write waits for them, at most ``max_delay`` seconds:
    their frames join the same write, so a burst costs each connection one system
    call instead of one per message. An idle loop writes at once.

    asyncio's loop shows its ready callbacks; uvloop's does not
    (``compat.loop_has_ready_callbacks`` answers None). There the flusher watches its
    own sends instead: it looks one turn later and waits while turns bring new
    frames. A published message takes a few turns to arrive (hand-over to the
    store, delivery, the publisher's own await), so a write that starts within
    ``max_delay`` of the last one (a burst is on) also waits through up to
    ``QUIET_TURNS`` turns without a new frame. A lone message on such a loop is
    written a turn later than on asyncio's, which costs microseconds. A reply to a
    call is not delayed on either loop: it is written at once when nothing else is
    pending (``Connection._answer``).
    """

    def __init__(self, max_delay: float = 0.001) -> None:
        self._connections: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._since = 0.0
        self.sends = 0           # send_frame_to_many calls so far (they may add frames without queue())
        self._sends_seen = -1    # sends at the flusher's last look; -1: no look yet this round
        self._quiet = 0          # turns without a new frame since the last look that saw one
        self._patience = 0       # such turns this write waits through: QUIET_TURNS during a burst
        self._written = -1.0     # when the last write ended (monotonic)
        self.max_delay = max(0.0, max_delay)

    def queue(self) -> list[Any]:
        """The connections to write at the end of this turn (append to it); schedules the write."""
        if not self._connections or self._loop is not asyncio.get_running_loop():
            # (A different loop means the previous one ended before flushing: start afresh.)
            self._connections = []
            loop = self._loop = asyncio.get_running_loop()
            self._since = now = time.monotonic()
            self._sends_seen = -1
            self._quiet = 0
            self._patience = QUIET_TURNS if now - self._written < self.max_delay else 0
            loop.call_soon(self._flush)
        return self._connections

    def _busy(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Will more frames come soon? Asked once per turn while a write waits."""
        ready = compat.loop_has_ready_callbacks(loop)
        if ready is not None:
            return ready
        if self.sends != self._sends_seen:  # new frames since the last look (or the first look): wait a turn
            self._sends_seen, self._quiet = self.sends, 0
            return True
        self._quiet += 1
        return self._quiet <= self._patience

    def _flush(self) -> None:
        loop = self._loop
        assert loop is not None  # set by queue(), which scheduled this
        if self.max_delay > 0 and self._busy(loop) and time.monotonic() - self._since < self.max_delay:
            loop.call_soon(self._flush)  # after what is ready now: their frames go in the same writes
            return
        connections, self._connections = self._connections, []
        for connection in connections:
            connection.write_queued()
        self._written = time.monotonic()
