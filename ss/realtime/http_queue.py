"""Where the HTTP fallback keeps a connection's outgoing messages, so that any instance can answer its polls.

A connection carried over HTTP lives on the instance that accepted it (its
*owner*, which holds the :class:`~ss.realtime.connection.Connection`), but
its polls and POSTs may land on any instance (no sticky sessions). Between
them sits one of these queues:

* :class:`LocalQueues`: in this process (the embedded store: one process,
  so every request reaches the owner).
* :class:`SharedQueues`: in Redis. The owner appends payloads to a list
  (``ss:http:<id>:q``, its byte total in ``:n``) and PUBLISHes a wake-up on
  ``ss:http:<id>:wake``; a poll on any instance takes the whole list at once
  (a Lua script, so only the newest poll of a connection takes anything:
  ``:p`` numbers them). A POST on another instance is PUBLISHed to
  ``ss:http:<id>:in``, which only the owner subscribes to: a PUBLISH that
  reaches no one, or a poll that finds no subscriber there, means the owner
  is gone, and the client is told so (``connection_gone``) and reconnects.
  Each poll and POST refreshes ``:seen`` (expiring after
  ``limits.http_idle_timeout``); the owner closes a connection whose key
  expired, like a socket that stopped answering pings.

Both number the messages they give out, per connection, in the order given
(``:o`` in Redis: how many were given out so far). A POST that asks for the
replies ready by its answer (``?replies=1``) takes what is queued and says the
number of its first message, so the browser puts POST answers and polls back in
one order (docs/protocol.md, "The HTTP transport"); while it runs, the
connection's messages are *held* for it: queued, without waking a poll or
writing to a stream.

Both raise :class:`Gone` for a connection that is unknown or closed (with
the close code and reason for a while after a close) and :class:`BadSecret`
for a request without the connection's secret.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from typing import Any, Awaitable, Callable

from ..errors import SSError

__all__ = ["Gone", "BadSecret", "LocalQueues", "SharedQueues", "LINGER"]

#: Seconds a closed connection's close code stays readable (its client's next poll learns why).
LINGER = 60.0

Receiver = Callable[[bytes], Awaitable[None] | None]
#: Writes a numbered batch ``(number of the first, payloads)`` to a streamed poll; False: it cannot.
Sink = Callable[[int, list[bytes]], bool]


class Gone(SSError):
    """The connection is closed or unknown. ``close`` is ``(code, reason)`` when the server closed it."""

    def __init__(self, close: tuple[int, str] | None = None, owner_lost: bool = False):
        super().__init__("connection gone")
        self.close = close
        self.owner_lost = owner_lost


class BadSecret(SSError):
    """The request does not carry the connection's secret."""


class _Listener:
    """Wakes one poll when its connection has news (a message, a close, a newer poll).

    A future and a timer rather than ``wait_for(event.wait())``: no task per wait, and the
    poll resumes one loop turn after the wake-up (the round trip of a call over HTTP).
    """

    __slots__ = ("news", "_waiter")

    def __init__(self) -> None:
        self.news = False
        self._waiter: asyncio.Future | None = None

    def wake(self, *_: Any) -> None:
        self.news = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        if not self.news:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _settle, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        self.news = False


def _settle(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Entry:
    __slots__ = ("secret", "items", "size", "listeners", "seen", "close", "poll", "sink", "given", "held")

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.items: deque[bytes] = deque()
        self.size = 0
        self.listeners: set[_Listener] = set()
        self.seen = time.monotonic()
        self.close: tuple[int, str] | None = None
        self.poll = 0
        self.sink: Sink | None = None  # the newest poll's stream, written to directly
        self.given = 0  # messages given out so far (to polls, streams and POST answers): the next one's number
        self.held = 0   # POSTs waiting to answer with the messages: meanwhile no poll is woken

    def wake(self) -> None:
        for listener in self.listeners:
            listener.wake()


class LocalQueues:
    """The queues of the connections of this process, in memory (the embedded store)."""

    shared = False

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    async def register(self, cid: str, secret: str, receiver: Receiver, ttl: float) -> None:
        self._entries[cid] = _Entry(secret)

    def _entry(self, cid: str, secret: str) -> _Entry:
        entry = self._entries.get(cid)
        if entry is None:
            raise Gone()
        if not secrets.compare_digest(entry.secret.encode(), secret.encode()):
            raise BadSecret()
        return entry

    async def check(self, cid: str, secret: str) -> None:
        entry = self._entry(cid, secret)
        entry.seen = time.monotonic()
        if entry.close is not None and not entry.items:
            raise Gone(entry.close)

    def push_now(self, cid: str, payloads: list[bytes]) -> int:
        """Queue payloads at once (in memory there is nothing to wait for); the bytes now queued."""
        entry = self._entries.get(cid)
        if entry is None or entry.close is not None:
            return 0
        if entry.held:
            entry.items.extend(payloads)  # for the answer of the POST that holds them
            entry.size += sum(map(len, payloads))
            return entry.size
        sink = entry.sink
        if sink is not None and not entry.items:
            if sink(entry.given, payloads):
                entry.given += len(payloads)
                return 0  # written to the open stream at once, like a socket write
            entry.sink = None
        entry.items.extend(payloads)
        entry.size += sum(map(len, payloads))
        entry.wake()
        return entry.size

    def hold(self, cid: str) -> None:
        """A POST will answer with the messages: queue them for it, wake no poll."""
        entry = self._entries.get(cid)
        if entry is not None:
            entry.held += 1

    def release(self, cid: str) -> None:
        """End a hold (after :meth:`take_all`, or a POST that failed: then a poll takes what waits)."""
        entry = self._entries.get(cid)
        if entry is not None:
            entry.held -= 1
            if entry.items and not entry.held:
                entry.wake()

    def take_all(self, cid: str) -> tuple[int, list[bytes]]:
        """For a POST's answer: everything queued, ``(number of the first message, messages)``."""
        entry = self._entries.get(cid)
        if entry is None:
            return 0, []
        first = entry.given
        items = list(entry.items)
        entry.items.clear()
        entry.size = 0
        entry.given += len(items)
        return first, items

    def attach(self, cid: str, poll: int, sink: Sink) -> None:
        """While poll ``poll`` streams, new payloads go straight to ``sink`` (False: it cannot take them)."""
        entry = self._entries.get(cid)
        if entry is not None and entry.poll == poll and entry.close is None:
            entry.sink = sink

    def detach(self, cid: str, sink: Sink) -> None:
        entry = self._entries.get(cid)
        if entry is not None and entry.sink is sink:
            entry.sink = None

    async def push(self, cid: str, payloads: list[bytes], ttl: float) -> int:
        return self.push_now(cid, payloads)

    async def start_poll(self, cid: str) -> int:
        entry = self._entries.get(cid)
        if entry is None:
            raise Gone()
        entry.poll += 1
        entry.sink = None
        entry.seen = time.monotonic()
        entry.wake()  # an older poll of this connection ends: only the newest one takes messages
        return entry.poll

    async def listen(self, cid: str) -> _Listener:
        listener = _Listener()
        entry = self._entries.get(cid)
        if entry is not None:
            entry.listeners.add(listener)
        return listener

    async def unlisten(self, cid: str, listener: _Listener) -> None:
        entry = self._entries.get(cid)
        if entry is not None:
            entry.listeners.discard(listener)

    async def take(self, cid: str, poll: int) -> tuple[int, list[bytes]] | None:
        """Everything queued, ``(number of the first, messages)``; None when a newer poll took over
        (or the connection is forgotten)."""
        entry = self._entries.get(cid)
        if entry is None or entry.poll != poll:
            return None
        return self.take_all(cid)

    async def ended(self, cid: str) -> Gone | None:
        entry = self._entries.get(cid)
        if entry is None:
            return Gone()
        return Gone(entry.close) if entry.close is not None else None

    async def touch(self, cid: str, ttl: float) -> None:
        entry = self._entries.get(cid)
        if entry is not None:
            entry.seen = time.monotonic()

    async def idle(self, cids: list[str], timeout: float) -> list[str]:
        """Those of ``cids`` that nobody polled or posted to for ``timeout`` seconds."""
        limit = time.monotonic() - timeout
        return [cid for cid in cids if cid in self._entries and self._entries[cid].seen < limit]

    async def refresh(self, cids: list[str], ttl: float) -> None:
        pass

    async def closed(self, cid: str, code: int, reason: str) -> None:
        entry = self._entries.get(cid)
        if entry is None:
            return
        entry.close = (code, reason)
        entry.sink = None
        entry.wake()
        asyncio.get_running_loop().call_later(LINGER, self._entries.pop, cid, None)

    async def forward(self, cid: str, body: bytes) -> bool:
        return False  # one process: the owner is here, or the connection is gone

    async def close(self) -> None:
        self._entries.clear()


# Both scripts below empty a connection's queue the same way (take the list, subtract its bytes) and
# number what they take (count it in `given`); they return the number of the first, then the messages.
_DRAIN = """
local function drain(list, bytes)
  local items = redis.call('LRANGE', list, 0, -1)
  if #items > 0 then
    redis.call('DEL', list)
    local n = 0
    for i = 1, #items do n = n + #items[i] end
    redis.call('DECRBY', bytes, n)
  end
  return items
end
local function numbered(items, given)
  local first
  if #items > 0 then first = redis.call('INCRBY', given, #items) - #items
  else first = tonumber(redis.call('GET', given) or '0') end
  table.insert(items, 1, first)
  return items
end
"""

# For a poll. KEYS: list, bytes, poll number, given; ARGV: the poll's number. false: a newer poll took over.
_TAKE = _DRAIN + """
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return false end
return numbered(drain(KEYS[1], KEYS[2]), KEYS[4])
"""

# For a POST's answer. KEYS: list, bytes, given; ARGV: the payloads held back for it (after the list's).
_TAKE_ALL = _DRAIN + """
local items = drain(KEYS[1], KEYS[2])
for i = 1, #ARGV do items[#items + 1] = ARGV[i] end
return numbered(items, KEYS[3])
"""


class SharedQueues:
    """The queues in Redis, so that every instance sharing it can answer any connection's requests."""

    shared = True

    def __init__(self, store: Any) -> None:
        self.store = store
        self.redis = store.redis
        self._take = self.redis.register_script(_TAKE)
        self._take_all = self.redis.register_script(_TAKE_ALL)
        self._receivers: dict[str, Callable[[str, bytes], Awaitable[None]]] = {}  # cid -> its bus handler

    def _key(self, cid: str, *part: str) -> str:
        return self.store.key("http", cid, *part)

    async def register(self, cid: str, secret: str, receiver: Receiver, ttl: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(cid), "secret", secret)
            pipe.expire(self._key(cid), int(ttl * 2) + 1)
            pipe.set(self._key(cid, "seen"), 1, ex=int(ttl) + 1)
            pipe.set(self._key(cid, "p"), 0, ex=int(ttl * 2) + 1)
            pipe.set(self._key(cid, "o"), 0, ex=int(ttl * 2) + 1)
            await pipe.execute()

        async def deliver(topic: str, body: bytes) -> None:
            result = receiver(body)
            if asyncio.iscoroutine(result):
                await result

        self._receivers[cid] = deliver
        await self.store.bus.subscribe(self._key(cid, "in"), deliver)

    async def check(self, cid: str, secret: str) -> None:
        stored, code, reason = await self.redis.hmget(self._key(cid), "secret", "code", "reason")
        if stored is None:
            raise Gone()
        if not secrets.compare_digest(stored, secret.encode()):
            raise BadSecret()
        if code is not None and not await self.redis.exists(self._key(cid, "q")):
            raise Gone((int(code), reason.decode("utf-8", "replace")))

    async def push(self, cid: str, payloads: list[bytes], ttl: float) -> int:
        queue, size = self._key(cid, "q"), self._key(cid, "n")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(queue, *payloads)
            pipe.incrby(size, sum(map(len, payloads)))
            pipe.expire(queue, int(ttl * 2) + 1)
            pipe.expire(size, int(ttl * 2) + 1)
            pipe.publish(self._key(cid, "wake"), b"")
            results = await pipe.execute()
        return int(results[1])

    async def start_poll(self, cid: str) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._key(cid, "p"))
            pipe.publish(self._key(cid, "wake"), b"")  # an older poll ends: only the newest takes messages
            number, _ = await pipe.execute()
        return int(number)

    async def listen(self, cid: str) -> _Listener:
        listener = _Listener()
        await self.store.bus.subscribe(self._key(cid, "wake"), listener.wake)
        return listener

    async def unlisten(self, cid: str, listener: _Listener) -> None:
        await self.store.bus.unsubscribe(self._key(cid, "wake"), listener.wake)

    async def take(self, cid: str, poll: int) -> tuple[int, list[bytes]] | None:
        result = await self._take(keys=[self._key(cid, "q"), self._key(cid, "n"), self._key(cid, "p"),
                                        self._key(cid, "o")], args=[poll])
        return None if result is None else (int(result[0]), list(result[1:]))

    async def take_all(self, cid: str, held: list[bytes]) -> tuple[int, list[bytes]]:
        """For a POST's answer: everything queued, then ``held``; ``(number of the first, messages)``."""
        result = await self._take_all(keys=[self._key(cid, "q"), self._key(cid, "n"), self._key(cid, "o")],
                                      args=held)
        return int(result[0]), list(result[1:])

    async def ended(self, cid: str) -> Gone | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._key(cid), "secret", "code", "reason")
            pipe.pubsub_numsub(self._key(cid, "in"))
            (secret, code, reason), subscribers = await pipe.execute()
        if secret is None:
            return Gone()
        if code is not None:
            return Gone((int(code), reason.decode("utf-8", "replace")))
        if not subscribers or int(subscribers[0][1]) == 0:
            return Gone(owner_lost=True)  # the instance holding the connection died
        return None

    async def touch(self, cid: str, ttl: float) -> None:
        await self.redis.set(self._key(cid, "seen"), 1, ex=int(ttl) + 1)

    async def idle(self, cids: list[str], timeout: float) -> list[str]:
        if not cids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in cids:
                pipe.exists(self._key(cid, "seen"))
            alive = await pipe.execute()
        return [cid for cid, here in zip(cids, alive) if not here]

    async def refresh(self, cids: list[str], ttl: float) -> None:
        """The owner keeps its connections' records from expiring (they expire if it dies)."""
        if not cids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in cids:
                pipe.expire(self._key(cid), int(ttl * 2) + 1)
                pipe.expire(self._key(cid, "p"), int(ttl * 2) + 1)
                pipe.expire(self._key(cid, "o"), int(ttl * 2) + 1)
            await pipe.execute()

    async def closed(self, cid: str, code: int, reason: str) -> None:
        receiver = self._receivers.pop(cid, None)
        if receiver is not None:
            await self.store.bus.unsubscribe(self._key(cid, "in"), receiver)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(cid), mapping={"code": code, "reason": reason})
            for key in (self._key(cid), self._key(cid, "q"), self._key(cid, "n"), self._key(cid, "p"),
                        self._key(cid, "o")):
                pipe.expire(key, int(LINGER))
            pipe.publish(self._key(cid, "wake"), b"")
            await pipe.execute()

    async def forward(self, cid: str, body: bytes) -> bool:
        """Hand a POST's messages to the owner; False when no instance holds the connection."""
        return int(await self.redis.publish(self._key(cid, "in"), body)) > 0

    async def close(self) -> None:
        for cid, receiver in list(self._receivers.items()):
            await self.store.bus.unsubscribe(self._key(cid, "in"), receiver)
        self._receivers.clear()
