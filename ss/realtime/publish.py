"""Publishing events to browsers: ``ss.publish.broadcast / user / users / channel / socket``.

A publish encodes the event message once and puts those bytes on the store's
bus under a topic (``ss:broadcast``, ``ss:user:<id>``, ``ss:channel:<name>``).
Every instance subscribed to the topic frames the bytes once and appends the
same frame to each of its matching sockets, so a broadcast costs one encode
per publish and one buffer append per socket.

Publishes go through one queue per process, drained by one task in batches
(one Redis round trip per batch), so messages leave in the order they were
published even when nobody awaits them. With ``pubsub.history`` on (the
default), user, channel and broadcast messages are also numbered and kept
for recovery (see ``ss.recovery``).

Broadcast is recoverable too: the extra cost is per publish (one Lua call in
Redis instead of a PUBLISH, one deque append in process), never per socket,
so fan-out stays one frame per message per instance. Apps that broadcast at
very high rates and do not need recovery can set
``pubsub.history.broadcast = False``.

``exclude=`` (a connection, its id, or a list of them) puts a short header
before the message on the bus (ss/protocol/bus.py); each instance looks up
only the excluded ids among its own connections, so the exclusion costs
nothing per other socket and the message is still encoded once. ``socket()``
sends to the bus topic of the instance that holds the connection (its id
starts with that instance's name).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import deque
from typing import Any, Iterable

from .. import metrics, protocol
from ..protocol import bus
from .recovery import Outgoing, history_for
from ..errors import PublishError

__all__ = ["Publisher", "PublishError"]

log = logging.getLogger("ss.pubsub")

_MISSING = object()


def _check_event(event: Any, data: Any) -> None:
    if not isinstance(event, str) or not event:
        raise PublishError("event must be a non-empty string, e.g. ss.publish.broadcast('newMessage', data)")
    if data is _MISSING:
        raise PublishError(f"data must be given for event {event!r} (pass None for an event without data)")


def check_user_id(user_id: Any) -> str:
    if user_id is None or isinstance(user_id, (dict, list, tuple, set, bool)) or user_id == "":
        raise PublishError(f"user id must be a string or a number, not {user_id!r}")
    return str(user_id)


def _connection_id(value: Any, what: str) -> str:
    connection_id = getattr(value, "id", value)  # a Connection, or its id
    if not bus.valid_connection_id(connection_id):
        raise PublishError(f"{what} must be a connection (self.connection) or a connection id "
                           f"(self.connection.id), not {value!r}")
    return connection_id


def _exclusion(exclude: Any) -> bytes:
    """The bus header for ``exclude=`` (b"" for None)."""
    if exclude is None:
        return b""
    items = list(exclude) if isinstance(exclude, (list, tuple, set, frozenset)) else [exclude]
    ids = dict.fromkeys(_connection_id(item, "exclude") for item in items)
    return bus.exclusion_header(ids) if ids else b""


def _channel_names(names: Any) -> list[str]:
    if isinstance(names, str):
        names = [names]
    elif isinstance(names, (list, tuple, set)):
        names = list(dict.fromkeys(names))
    else:
        raise PublishError("channel must be a channel name or a list of names, e.g. publish.channel('room1', ...)")
    if not names or not all(isinstance(n, str) and n for n in names):
        raise PublishError("channel names must be non-empty strings")
    return names


class _PlainSender:
    """Sends without history: onto the bus, or one pipelined round trip per batch with Redis."""

    def __init__(self, store):
        self.store = store

    async def send(self, batch: Iterable[Outgoing]) -> None:
        if not self.store.shared:
            for item in batch:
                await self.store.bus.publish(item.topic, item.prefix + item.payload if item.prefix else item.payload)
            return
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for item in batch:
                pipe.publish(item.topic, item.prefix + item.payload if item.prefix else item.payload)
            await pipe.execute()


class Publisher:
    """``ss.publish``: send events to everyone, one user, some users or channels, from any instance.

    Every method validates its arguments at once (PublishError) and returns an
    awaitable that completes when the message has left this process; plain
    ``def`` actions may ignore it. From another thread (``@ss.in_thread``) it
    returns a ``concurrent.futures.Future``. Called before the event loop runs
    (start-up code), the message is queued and sent when the app starts.
    """

    def __init__(self, store: Any, config: Any = None) -> None:
        self.store = store
        self._prefix_len = len(store.key(""))
        self.history = history_for(store, config) if config is not None else None
        self._sender = self.history or _PlainSender(store)
        self._keep_broadcast = config.pubsub.history.broadcast if config is not None else False
        self._queue: deque[tuple[list[Outgoing], asyncio.Future | None]] = deque()
        self._drainer: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return ("<ss.publish: .broadcast(event, data) .user(id, ...) .users([ids], ...) .channel(names, ...) "
                ".socket(connection_id, ...); exclude=self.connection>")

    def stream_of(self, topic: str) -> str:
        """``ss:channel:room1`` -> ``channel:room1``: the name browsers use for recovery."""
        return topic[self._prefix_len:]

    def recoverable(self, stream: str) -> bool:
        """True when messages of ``stream`` are numbered and kept (see ``pubsub.history``)."""
        return self.history is not None and (stream != "broadcast" or self._keep_broadcast)

    def _outgoing(self, topic: str, payload: bytes, keep: bool = True, prefix: bytes = b"") -> Outgoing:
        stream = self.stream_of(topic) if keep and self.history is not None else None
        return Outgoing(topic, payload, stream, prefix)

    def broadcast(self, event: str, data: Any = _MISSING, *,
                  exclude: Any = None) -> "asyncio.Future | concurrent.futures.Future | None":
        """Send ``event`` with ``data`` to every connected browser on every instance
        (but the connections in ``exclude``: a connection, an id or a list of them)."""
        _check_event(event, data)
        prefix = _exclusion(exclude)
        metrics.published("broadcast")
        return self._submit([self._outgoing(self.store.key("broadcast"), protocol.encode_event(event, data),
                                            self._keep_broadcast, prefix)])

    def user(self, user_id: Any, event: str, data: Any = _MISSING, *,
             exclude: Any = None) -> "asyncio.Future | concurrent.futures.Future | None":
        """Send to every socket signed in as ``user_id``, whichever instance it is on."""
        uid = check_user_id(user_id)
        _check_event(event, data)
        prefix = _exclusion(exclude)
        metrics.published("user")
        return self._submit([self._outgoing(self.store.key("user", uid), protocol.encode_event(event, data),
                                            prefix=prefix)])

    def users(self, user_ids: Iterable[Any], event: str, data: Any = _MISSING, *,
              exclude: Any = None) -> "asyncio.Future | concurrent.futures.Future | None":
        """Send to each of ``user_ids`` (the message is encoded once)."""
        if isinstance(user_ids, (str, bytes, dict)) or not isinstance(user_ids, Iterable):
            raise PublishError("user_ids must be a list of user ids, e.g. publish.users([1, 2], 'event', data)")
        uids = list(dict.fromkeys(check_user_id(u) for u in user_ids))
        _check_event(event, data)
        prefix = _exclusion(exclude)
        payload = protocol.encode_event(event, data)
        metrics.published("user", len(uids))
        return self._submit([self._outgoing(self.store.key("user", uid), payload, prefix=prefix) for uid in uids])

    def channel(self, names: str | Iterable[str], event: str, data: Any = _MISSING, *,
                exclude: Any = None) -> "asyncio.Future | concurrent.futures.Future | None":
        """Send to every socket subscribed to the channel ``names`` (a name or a list of names)."""
        names = _channel_names(names)
        _check_event(event, data)
        prefix = _exclusion(exclude)
        metrics.published("channel", len(names))
        return self._submit([self._outgoing(self.store.key("channel", name),
                                            protocol.encode_event(event, data, channel=name), prefix=prefix)
                             for name in names])

    def socket(self, connection_id: Any, event: str,
               data: Any = _MISSING) -> "asyncio.Future | concurrent.futures.Future | None":
        """Send to one connection (one browser tab), whichever instance holds it.

        ``connection_id`` is ``self.connection.id`` of an action (or the connection itself).
        Not kept for recovery: a tab that reconnects is a new connection with a new id.
        An id no instance holds any more is not an error: nobody gets the message.
        """
        target = _connection_id(connection_id, "the connection id")
        _check_event(event, data)
        metrics.published("socket")
        topic = self.store.key("instance", bus.instance_of(target))
        return self._submit([Outgoing(topic, protocol.encode_event(event, data), None, bus.direct(target, b""))])

    channels = channel

    def send_raw(self, topic: str, payload: bytes) -> "asyncio.Future | concurrent.futures.Future | None":
        """Put ``payload`` on ``topic`` as it is, in order with the publishes before it (see ss/protocol/bus.py)."""
        return self._submit([Outgoing(topic, payload)])

    def _submit(self, items: list[Outgoing]) -> "asyncio.Future | concurrent.futures.Future | None":
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is not None and self._loop.is_running():
                # Another thread (an @ss.in_thread action): hand over to the app's loop.
                return asyncio.run_coroutine_threadsafe(self._submit_on_loop(items), self._loop)
            self._queue.append((items, None))  # start-up code: sent by start()
            return None
        self._loop = loop
        future = loop.create_future()
        self._queue.append((items, future))
        self._kick(loop)
        return future

    async def _submit_on_loop(self, items: list[Outgoing]) -> None:
        future = self._submit(items)
        assert isinstance(future, asyncio.Future)  # on the loop, _submit queues and returns the loop's future
        await future

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain(), name="ss-publish")

    def start(self) -> None:
        """Send what was published before the event loop ran."""
        self._loop = asyncio.get_running_loop()
        if self._queue:
            self._kick(asyncio.get_running_loop())

    async def flush(self) -> None:
        """Wait until everything published so far has been sent."""
        while self._drainer is not None and not self._drainer.done():
            await asyncio.shield(self._drainer)

    async def _drain(self) -> None:
        while self._queue:
            batch = list(self._queue)
            self._queue.clear()
            try:
                await self._sender.send([item for items, _ in batch for item in items])
            except Exception as exc:  # the store is down: tell every waiting publisher
                log.error("publish failed: %s: %s", type(exc).__name__, exc)
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_result(None)
