"""Which of this process's connections each pub/sub topic reaches; delivers bus payloads to them.

A payload from the bus is framed once and the same frame is queued for every
member connection (see ss/realtime/outbox.py). A payload in an envelope
(ss/protocol/bus.py) either skips some connections (``exclude=``) or tells the
members to close (``ss.users.disconnect``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from .. import metrics
from ..protocol import bus
from ..protocol.frames import text_frame
from .outbox import send_frame_to_many

__all__ = ["LocalRouter"]

log = logging.getLogger("ss.pubsub")


class LocalRouter:
    """Which of this process's sockets each topic reaches; delivers bus payloads to them.

    A socket that reconnects and will ask for missed messages is *held*: its
    live messages are kept aside until the replay is sent, so it sees every
    stream in offset order (see :meth:`hold`, :meth:`release`).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.store = app.store
        self.broadcast_topic = self.store.key("broadcast")
        self._members: dict[str, set] = {}
        # Per socket, the topics it is in: a tuple (most sockets have one or two), which
        # costs an idle socket a fifth of what a set would.
        self._topics: dict[Any, tuple[str, ...]] = {}
        self._held: dict[Any, list[tuple[str, bytes]]] = {}
        self._hold_timers: dict[Any, asyncio.TimerHandle] = {}
        self._kinds: dict[str, str] = {}  # topic -> user / channel / broadcast, for metrics

    async def start(self) -> None:
        self.app.publish.start()

    def _deliver(self, topic: str, payload: bytes) -> None:
        members = self._members.get(topic)
        if not members:
            return
        if payload[0] != 0x7B:  # not "{": an envelope
            self._deliver_envelope(topic, members, payload)
            return
        self._fan_out(topic, members, payload)

    def _deliver_envelope(self, topic: str, members: set, payload: bytes) -> None:
        kind, ids, message = bus.split(payload)
        if kind == bus.CONTROL:
            self._control(topic, members, message)
            return
        if kind != bus.EXCLUDE:
            log.warning("ignoring a bus message on %s of unknown kind %r", topic, payload[:1])
            return
        lookup = self.app.connections.get
        excluded = [c for c in map(lookup, ids) if c is not None and c in members]
        # Out of the set for the length of one synchronous fan-out: the others cost nothing more.
        members.difference_update(excluded)
        try:
            self._fan_out(topic, members, message)
        finally:
            members.update(excluded)

    def _control(self, topic: str, members: set, message: bytes) -> None:
        try:
            instruction = orjson.loads(message)
            op = instruction["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            op = None
        if op != "close":
            log.warning("ignoring an instruction on %s this instance does not know: %.200r", topic, message)
            return
        for connection in list(members):
            connection.close(int(instruction["code"]), str(instruction.get("reason", "")))

    def send_to(self, connection, topic: str, payload: bytes) -> None:
        """One message for one connection (``ss.publish.socket``); kept aside while it is held."""
        held = self._held.get(connection)
        if held is None:
            connection.send(payload)
        else:
            held.append((topic, payload))

    def _fan_out(self, topic: str, members: set, payload: bytes) -> None:
        if not members:
            return
        if metrics.enabled():
            metrics.delivered(self._kind(topic), len(members))
        frame = text_frame(payload)
        if not self._held:
            send_frame_to_many(self.app.flusher, members, frame)  # queues only: nothing here changes the members
            return
        for connection in list(members):
            held = self._held.get(connection)
            if held is None:
                connection.send_frame(frame)
            else:
                held.append((topic, payload))

    def _kind(self, topic: str) -> str:
        kind = self._kinds.get(topic)
        if kind is None:
            if len(self._kinds) > 10000:
                self._kinds.clear()
            kind = self._kinds[topic] = metrics.pubsub_kind(self.app.publish.stream_of(topic))
        return kind

    async def join(self, topic: str, connection) -> None:
        """Route ``topic`` to ``connection``; subscribes upstream for the first local member."""
        members = self._members.get(topic)
        if members is None:
            members = self._members[topic] = set()
            members.add(connection)
            self._add_topic(connection, topic)
            try:
                await self.store.bus.subscribe(topic, self._deliver)
            except BaseException:
                self._forget(topic, connection)
                raise
            return
        members.add(connection)
        self._add_topic(connection, topic)

    def _add_topic(self, connection, topic: str) -> None:
        topics = self._topics.get(connection, ())
        if topic not in topics:
            self._topics[connection] = topics + (topic,)

    def _forget(self, topic: str, connection) -> bool:
        """Drop the membership; True when ``topic`` has no local member left."""
        topics = self._topics.get(connection)
        if topics is not None and topic in topics:
            rest = tuple(t for t in topics if t != topic)
            if rest:
                self._topics[connection] = rest
            else:
                del self._topics[connection]
        members = self._members.get(topic)
        if members is None:
            return False
        members.discard(connection)
        if members:
            return False
        del self._members[topic]
        return True

    async def leave(self, topic: str, connection) -> None:
        if self._forget(topic, connection):
            await self.store.bus.unsubscribe(topic, self._deliver)

    async def leave_all(self, connection) -> None:
        """The socket closed: drop all its topics (and anything held for it)."""
        self._drop_hold(connection)
        for topic in list(self._topics.get(connection, ())):
            await self.leave(topic, connection)

    def topics_of(self, connection) -> list[str]:
        return list(self._topics.get(connection, ()))

    def members(self, topic: str) -> set:
        """This process's sockets subscribed to ``topic`` (a copy)."""
        return set(self._members.get(topic, ()))

    def hold(self, connection, timeout: float) -> None:
        """Keep ``connection``'s live messages aside until :meth:`release` (or ``timeout`` seconds)."""
        if connection in self._held:
            return
        self._held[connection] = []
        loop = asyncio.get_running_loop()
        self._hold_timers[connection] = loop.call_later(timeout, self.release, connection, {})

    def is_held(self, connection) -> bool:
        return connection in self._held

    def _drop_hold(self, connection) -> list[tuple[str, bytes]] | None:
        timer = self._hold_timers.pop(connection, None)
        if timer is not None:
            timer.cancel()
        return self._held.pop(connection, None)

    def release(self, connection, seen: dict[str, int]) -> None:
        """Send what was held, skipping messages of streams already replayed up to ``seen[stream]``."""
        held = self._drop_hold(connection)
        for topic, payload in held or ():
            stream = self.app.publish.stream_of(topic)
            if stream in seen:
                offset = orjson.loads(payload).get("offset")
                if isinstance(offset, int) and offset <= seen[stream]:
                    continue
            connection.send(payload)
