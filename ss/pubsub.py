"""Publishing events to browsers: ``ss.publish.broadcast / user / users / channel``.

A publish encodes the event message once and puts those bytes on the store's
bus under a topic (``ss:broadcast``, ``ss:user:<id>``, ``ss:channel:<name>``).
Every instance subscribed to the topic frames the bytes once and appends the
same frame to each of its matching sockets, so a broadcast costs one encode
per publish and one buffer append per socket.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from . import protocol
from .transport import text_frame

__all__ = ["Publisher", "LocalRouter", "PublishError"]

log = logging.getLogger("ss.pubsub")


class PublishError(ValueError):
    """A publish call with bad arguments (the message says which)."""


def _check_event(event: Any, data: Any) -> None:
    if not isinstance(event, str) or not event:
        raise PublishError("event must be a non-empty string, e.g. publish.broadcast('newMessage', data)")
    if data is _MISSING:
        raise PublishError(f"data must be given for event {event!r} (use None for no data)")


_MISSING = object()


class LocalRouter:
    """Which of this process's sockets each topic reaches; delivers bus payloads to them."""

    def __init__(self, app):
        self.app = app
        self.store = app.store
        self.broadcast_topic = self.store.key("broadcast")
        self._members: dict[str, set] = {}

    async def start(self) -> None:
        await self.store.bus.subscribe(self.broadcast_topic, self._deliver_broadcast)

    def _deliver_broadcast(self, topic: str, payload: bytes) -> None:
        frame = text_frame(payload)
        for connection in list(self.app.connections):
            connection.send_frame(frame)

    def _deliver(self, topic: str, payload: bytes) -> None:
        members = self._members.get(topic)
        if members:
            frame = text_frame(payload)
            for connection in list(members):
                connection.send_frame(frame)

    async def join(self, topic: str, connection) -> None:
        """Route ``topic`` to ``connection``; subscribes upstream for the first local member."""
        members = self._members.get(topic)
        if members is None:
            members = self._members[topic] = set()
            await self.store.bus.subscribe(topic, self._deliver)
        members.add(connection)

    async def leave(self, topic: str, connection) -> None:
        members = self._members.get(topic)
        if members is None:
            return
        members.discard(connection)
        if not members:
            del self._members[topic]
            await self.store.bus.unsubscribe(topic, self._deliver)

    def topics_of(self, connection) -> list[str]:
        return [t for t, members in self._members.items() if connection in members]


class Publisher:
    """``ss.publish``: send events to everyone, one user, some users or channels, from any instance."""

    def __init__(self, store):
        self.store = store

    async def broadcast(self, event: str, data: Any = _MISSING) -> None:
        """Send ``event`` with ``data`` to every connected browser on every instance."""
        _check_event(event, data)
        await self.store.bus.publish(self.store.key("broadcast"), protocol.encode_event(event, data))

    async def user(self, user_id: Any, event: str, data: Any = _MISSING) -> None:
        """Send to every socket signed in as ``user_id``, whichever instance it is on."""
        _check_event(event, data)
        if user_id is None:
            raise PublishError("user_id must be given")
        await self.store.bus.publish(self.store.key("user", str(user_id)), protocol.encode_event(event, data))

    async def users(self, user_ids: Iterable[Any], event: str, data: Any = _MISSING) -> None:
        """Send to each of ``user_ids`` (the message is encoded once)."""
        _check_event(event, data)
        if isinstance(user_ids, (str, bytes)) or not isinstance(user_ids, Iterable):
            raise PublishError("user_ids must be a list of user ids")
        payload = protocol.encode_event(event, data)
        for user_id in user_ids:
            await self.store.bus.publish(self.store.key("user", str(user_id)), payload)

    async def channel(self, names: str | Iterable[str], event: str, data: Any = _MISSING) -> None:
        """Send to every socket subscribed to the channel ``names`` (a name or a list of names)."""
        _check_event(event, data)
        if isinstance(names, str):
            names = [names]
        names = list(names)
        if not names or not all(isinstance(n, str) for n in names):
            raise PublishError("channel names must be a string or a list of strings")
        for name in names:
            await self.store.bus.publish(self.store.key("channel", name),
                                         protocol.encode_event(event, data, channel=name))

    channels = channel
