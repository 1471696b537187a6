"""Bounded pub/sub history, so a client that reconnects gets the messages it missed.

Every recoverable publish goes to a *stream*: ``broadcast``, ``user:<id>`` or
``channel:<name>`` (the topic without its ``ss:`` prefix). Each stream numbers
its messages with consecutive integer offsets; the event sent to browsers
carries ``"stream"`` and ``"offset"``, the browser remembers the last offset
per stream and, after a reconnect, sends ``{"type":"recover","streams":{...}}``.

Offsets start at ``now_in_ms * 1000`` when a stream is (re)created, so they only
ever grow, even after a stream's counter expired: a browser never mistakes a
new message for one it has already seen.

Two backends, chosen by the store:

- :class:`RedisHistory`: one Lua script per batch assigns the offset, keeps the
  message in a sorted set (score = offset, bounded by ``pubsub.history.size``,
  expiring ``pubsub.history.ttl`` seconds after the last publish) and PUBLISHes
  it, all atomically, so the order of offsets is the order on the wire on
  every instance.
- :class:`LocalHistory`: the same in this process, for the embedded store.

The event is JSON-encoded once per publish; the ``"stream"`` and ``"offset"``
keys are spliced onto its end (by Redis, or by bytes concatenation here).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Iterable

import orjson

__all__ = ["Outgoing", "RecoveryResult", "LocalHistory", "RedisHistory", "history_for", "splice"]


@dataclass(slots=True)
class Outgoing:
    """One message on its way to one topic. ``stream`` is None when it is not kept for recovery."""

    topic: str
    payload: bytes
    stream: str | None = None


@dataclass(slots=True)
class RecoveryResult:
    """What :meth:`read` found: the missed payloads in order, or why recovery is impossible."""

    payloads: list[bytes]
    failed: str | None = None      # None, "expired", "trimmed" or "unknown_offset"
    last_offset: int | None = None


def splice(payload: bytes, stream_json: bytes, offset: int) -> bytes:
    """``{"type":"event",...}`` + stream and offset keys (payload must end with ``}``)."""
    return b"%s,\"stream\":%s,\"offset\":%d}" % (payload[:-1], stream_json, offset)


def first_offset() -> int:
    """Where a new stream starts counting: always above the offsets of any earlier incarnation."""
    return int(time.time() * 1000) * 1000


def _judge(after: int, top: int | None, entries: list[tuple[int, bytes]]) -> RecoveryResult:
    """Decide from the stream's last offset and the kept entries newer than ``after``."""
    if top is None:
        return RecoveryResult([], "expired")
    if top == after:
        return RecoveryResult([], None, top)
    if top < after:
        return RecoveryResult([], "unknown_offset")
    if not entries:
        return RecoveryResult([], "expired")  # kept no longer than pubsub.history.ttl
    if len(entries) != top - after or entries[0][0] != after + 1:
        return RecoveryResult([], "trimmed")  # more were missed than pubsub.history.size keeps
    return RecoveryResult([payload for _, payload in entries], None, top)


class LocalHistory:
    """History for the embedded store: per-stream deques in this process."""

    def __init__(self, bus, ttl: float, size: int, meta_ttl: float):
        self.bus = bus
        self.ttl = float(ttl)
        self.size = int(size)
        self.meta_ttl = float(meta_ttl)
        # stream -> [last offset, time of last publish, deque of (offset, payload)]
        self._streams: dict[str, list] = {}

    def _stream(self, name: str, now: float) -> list:
        state = self._streams.get(name)
        if state is not None and now - state[1] > self.meta_ttl:
            state = None  # counter expired, as the Redis key would
        if state is None:
            state = self._streams[name] = [first_offset(), now, deque(maxlen=self.size)]
        elif now - state[1] > self.ttl:
            state[2].clear()  # history expired, counter kept
        return state

    async def send(self, batch: Iterable[Outgoing]) -> None:
        """Number, keep and deliver each message, in order."""
        now = time.monotonic()
        for item in batch:
            payload = item.payload
            if item.stream is not None:
                state = self._stream(item.stream, now)
                state[0] += 1
                state[1] = now
                payload = splice(payload, orjson.dumps(item.stream), state[0])
                state[2].append((state[0], payload))
            await self.bus.publish(item.topic, payload)

    async def read(self, stream: str, after: int) -> RecoveryResult:
        """The messages of ``stream`` after offset ``after``, or why they cannot be given."""
        now = time.monotonic()
        state = self._streams.get(stream)
        if state is None or now - state[1] > self.meta_ttl:
            return _judge(after, None, [])
        entries = [] if now - state[1] > self.ttl else [e for e in state[2] if e[0] > after]
        return _judge(after, state[0], entries)


# KEYS: per message its counter and history keys. ARGV: ttl, size, meta_ttl, then per message
# topic, stream (JSON), payload. string.format keeps big offsets out of Lua's %.14g notation.
_PUBLISH_LUA = """
local ttl, size, meta_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start = nil
for i = 1, #KEYS / 2 do
  local counter, hist = KEYS[2 * i - 1], KEYS[2 * i]
  local topic, stream, body = ARGV[3 * i + 1], ARGV[3 * i + 2], ARGV[3 * i + 3]
  if redis.call('EXISTS', counter) == 0 then
    if not start then
      local t = redis.call('TIME')
      start = string.format('%.0f', (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) * 1000)
    end
    redis.call('SET', counter, start)
  end
  local offset = string.format('%.0f', redis.call('INCR', counter))
  redis.call('EXPIRE', counter, meta_ttl)
  local message = string.sub(body, 1, -2) .. ',"stream":' .. stream .. ',"offset":' .. offset .. '}'
  redis.call('ZADD', hist, offset, message)
  redis.call('ZREMRANGEBYRANK', hist, 0, -size - 1)
  redis.call('EXPIRE', hist, ttl)
  redis.call('PUBLISH', topic, message)
end
return 1
"""


class RedisHistory:
    """History in Redis, shared by every instance; also does the PUBLISH (see module docstring)."""

    def __init__(self, store, ttl: float, size: int, meta_ttl: float):
        self.store = store
        self.ttl = max(1, int(ttl))
        self.size = max(1, int(size))
        self.meta_ttl = max(self.ttl, int(meta_ttl))
        self._script = store.redis.register_script(_PUBLISH_LUA)

    def _keys(self, stream: str) -> tuple[str, str]:
        return self.store.key("offset", stream), self.store.key("history", stream)

    async def send(self, batch: Iterable[Outgoing]) -> None:
        """Send a batch in one round trip: the script for recoverable messages, PUBLISH for the rest."""
        redis = self.store.redis
        async with redis.pipeline(transaction=False) as pipe:
            keys: list[str] = []
            args: list = [self.ttl, self.size, self.meta_ttl]
            for item in batch:
                if item.stream is None:
                    if keys:  # flush the script run so far, keeping the order of the batch
                        await self._script(keys=keys, args=args, client=pipe)
                        keys, args = [], [self.ttl, self.size, self.meta_ttl]
                    pipe.publish(item.topic, item.payload)
                else:
                    keys.extend(self._keys(item.stream))
                    args.extend((item.topic, orjson.dumps(item.stream), item.payload))
            if keys:
                await self._script(keys=keys, args=args, client=pipe)
            await pipe.execute()

    async def read(self, stream: str, after: int) -> RecoveryResult:
        counter, hist = self._keys(stream)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.get(counter)
            pipe.zrangebyscore(hist, f"({after}", "+inf", withscores=True)
            top, entries = await pipe.execute()
        return _judge(after, int(top) if top is not None else None,
                      [(int(score), payload) for payload, score in entries])


def history_for(store, config):
    """The history backend for ``store``, or None when ``pubsub.history`` is turned off."""
    history = config.pubsub.history
    if not history.get("enabled", True) or not history.get("ttl") or not history.get("size"):
        return None
    if store.shared:
        return RedisHistory(store, history.ttl, history.size, history.get("meta_ttl", 86400))
    return LocalHistory(store.bus, history.ttl, history.size, history.get("meta_ttl", 86400))
