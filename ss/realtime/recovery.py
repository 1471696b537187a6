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
  message in a sorted set (score = offset, bounded by ``pubsub.history.size``
  messages and ``max_bytes``, all streams together by ``max_total_bytes``,
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

# The presets' pubsub.history.max_bytes and max_total_bytes, for callers without a config.
DEFAULT_MAX_BYTES = 4 << 20
DEFAULT_MAX_TOTAL_BYTES = 64 << 20


@dataclass(slots=True)
class Outgoing:
    """One message on its way to one topic. ``stream`` is None when it is not kept for recovery.

    ``prefix`` (see ss/protocol/bus.py) goes on the bus before the message and is never kept:
    a replay sends the message as every browser gets it.
    """

    topic: str
    payload: bytes
    stream: str | None = None
    prefix: bytes = b""


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


def _judge(after: int, top: int | None, entries: list[tuple[int, bytes]], cut: int | None = None) -> RecoveryResult:
    """Decide from the stream's last offset, the kept entries newer than ``after`` and the
    highest offset a cap has dropped (``cut``, None when none was)."""
    if top is None:
        return RecoveryResult([], "expired")
    if top == after:
        return RecoveryResult([], None, top)
    if top < after:
        return RecoveryResult([], "unknown_offset")
    if cut is not None and after < cut:
        return RecoveryResult([], "trimmed")  # a missed message was dropped by a size or byte cap
    if not entries:
        return RecoveryResult([], "expired")  # kept no longer than pubsub.history.ttl
    if len(entries) != top - after or entries[0][0] != after + 1:
        return RecoveryResult([], "trimmed")  # more were missed than pubsub.history.size keeps
    return RecoveryResult([payload for _, payload in entries], None, top)


class _Stream:
    """One stream of the embedded history."""

    __slots__ = ("top", "last", "entries", "bytes", "cut")

    def __init__(self, top: int, now: float):
        self.top = top               # the last offset given out
        self.last = now              # time of the last publish
        self.entries: deque[tuple[int, bytes]] = deque()
        self.bytes = 0               # payload bytes in entries
        self.cut: int | None = None  # the highest offset a cap dropped


class LocalHistory:
    """History for the embedded store: per-stream deques in this process.

    Bounded three ways, like RedisHistory: ``size`` messages and ``max_bytes`` per
    stream, ``max_total_bytes`` for all streams together (oldest message first).
    """

    def __init__(self, bus, ttl: float, size: int, meta_ttl: float,
                 max_bytes: int = DEFAULT_MAX_BYTES, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES):
        self.bus = bus
        self.ttl = float(ttl)
        self.size = int(size)
        self.meta_ttl = float(meta_ttl)
        self.max_bytes = int(max_bytes)
        self.max_total_bytes = int(max_total_bytes)
        self._streams: dict[str, _Stream] = {}
        # Every kept message in publish order, for the total cap; entries a per-stream cap or
        # expiry already removed stay until skipped or compacted away (see _compact).
        self._order: deque[tuple[_Stream, int]] = deque()
        self._total = 0   # payload bytes kept, all streams
        self._live = 0    # messages kept, all streams
        self._swept = time.monotonic()

    def _stream(self, name: str, now: float) -> _Stream:
        state = self._streams.get(name)
        if state is not None and now - state.last > self.meta_ttl:
            self._forget(state)  # counter expired, as the Redis key would
            state = None
        if state is None:
            state = self._streams[name] = _Stream(first_offset(), now)
        elif now - state.last > self.ttl:
            self._forget(state)  # history expired, counter kept
        return state

    def _forget(self, state: _Stream) -> None:
        self._total -= state.bytes
        self._live -= len(state.entries)
        state.entries.clear()
        state.bytes = 0
        state.cut = None  # what expired reports "expired", as in Redis

    def _drop_oldest(self, state: _Stream) -> None:
        offset, payload = state.entries.popleft()
        state.bytes -= len(payload)
        self._total -= len(payload)
        self._live -= 1
        state.cut = offset

    def _keep(self, state: _Stream, offset: int, payload: bytes) -> None:
        state.entries.append((offset, payload))
        state.bytes += len(payload)
        self._total += len(payload)
        self._live += 1
        self._order.append((state, offset))
        while state.entries and (len(state.entries) > self.size or state.bytes > self.max_bytes):
            self._drop_oldest(state)
        while self._total > self.max_total_bytes and self._order:
            oldest, at = self._order.popleft()
            if oldest.entries and oldest.entries[0][0] == at:
                self._drop_oldest(oldest)
        if len(self._order) > 2 * self._live + 1024:
            self._compact()

    def _compact(self) -> None:
        """Drop the publish-order entries of messages no longer kept, so _order stays
        proportional to what is kept rather than to everything ever published."""
        self._order = deque((s, at) for s, at in self._order if s.entries and s.entries[0][0] <= at)

    def _sweep(self, now: float) -> None:
        """Free streams nobody published to for a while; without this, every user and
        channel ever published to would keep its entry for the life of the process."""
        if now - self._swept < min(self.ttl, 60.0):
            return
        self._swept = now
        for name, state in list(self._streams.items()):
            if now - state.last > self.meta_ttl:
                self._forget(state)
                del self._streams[name]
            elif now - state.last > self.ttl and state.entries:
                self._forget(state)
        self._compact()

    async def send(self, batch: Iterable[Outgoing]) -> None:
        """Number, keep and deliver each message, in order."""
        now = time.monotonic()
        self._sweep(now)
        for item in batch:
            payload = item.payload
            if item.stream is not None:
                state = self._stream(item.stream, now)
                state.top += 1
                state.last = now
                payload = splice(payload, orjson.dumps(item.stream), state.top)
                self._keep(state, state.top, payload)
            await self.bus.publish(item.topic, item.prefix + payload if item.prefix else payload)

    async def read(self, stream: str, after: int) -> RecoveryResult:
        """The messages of ``stream`` after offset ``after``, or why they cannot be given."""
        now = time.monotonic()
        state = self._streams.get(stream)
        if state is None or now - state.last > self.meta_ttl:
            return _judge(after, None, [])
        if now - state.last > self.ttl:
            self._forget(state)
        return _judge(after, state.top, [e for e in state.entries if e[0] > after], state.cut)


# KEYS: the totals hash (bytes, seq) and the publish-order index of every stream, then per
# message its counter, history and meta (bytes, cut) keys. ARGV: ttl, size, meta_ttl,
# max_bytes, max_total_bytes, the history and meta key prefixes, then per message topic,
# stream, stream (JSON), payload, and the bus prefix published before it but never kept.
# An index member is "<offset> <bytes> <stream>"; the total
# cap pops the oldest. string.format keeps big offsets out of Lua's %.14g notation.
_PUBLISH_LUA = """
local ttl, size, meta_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max_bytes, max_total = tonumber(ARGV[4]), tonumber(ARGV[5])
local hist_prefix, meta_prefix = ARGV[6], ARGV[7]
local totals, index = KEYS[1], KEYS[2]
local n = (#KEYS - 2) / 3
-- Per message only what cannot wait: its offset, its entry, its index entry, the PUBLISH.
-- Counts, byte totals, trims and expiries are done once per stream and once per batch.
local total = tonumber(redis.call('HGET', totals, 'bytes') or '0')
local first_seq = tonumber(redis.call('HINCRBY', totals, 'seq', n)) - n
local streams, order, start = {}, {}, nil

local function state_of(stream, counter, hist, meta)
  local s = streams[stream]
  if s then return s end
  if redis.call('EXISTS', hist) == 0 then
    redis.call('HDEL', meta, 'bytes')  -- its history expired: so did what it counted
  end
  if redis.call('EXISTS', counter) == 0 then
    if not start then
      local t = redis.call('TIME')
      start = string.format('%.0f', (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) * 1000)
    end
    redis.call('SET', counter, start)
  end
  s = {counter = counter, hist = hist, meta = meta, count = redis.call('ZCARD', hist),
       bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0'), cut = nil}
  streams[stream] = s
  order[#order + 1] = stream
  return s
end

local function drop_oldest(s, stream, count)
  local old = redis.call('ZRANGE', s.hist, 0, count - 1, 'WITHSCORES')
  if #old == 0 then return end
  redis.call('ZREMRANGEBYRANK', s.hist, 0, count - 1)
  local members = {}
  for j = 1, #old, 2 do
    local len = #old[j]
    local offset = string.format('%.0f', tonumber(old[j + 1]))
    s.count, s.bytes, total = s.count - 1, s.bytes - len, total - len
    s.cut = offset  -- ascending: the last one dropped is the highest
    members[#members + 1] = offset .. ' ' .. len .. ' ' .. stream
    if #members == 500 then
      redis.call('ZREM', index, unpack(members))
      members = {}
    end
  end
  if #members > 0 then redis.call('ZREM', index, unpack(members)) end
end

for i = 1, n do
  local counter, hist, meta = KEYS[3 * i], KEYS[3 * i + 1], KEYS[3 * i + 2]
  local a = 7 + 5 * (i - 1)
  local topic, stream, stream_json, body = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local s = state_of(stream, counter, hist, meta)
  local offset = string.format('%.0f', redis.call('INCR', counter))
  local message = string.sub(body, 1, -2) .. ',"stream":' .. stream_json .. ',"offset":' .. offset .. '}'
  local len = #message
  redis.call('ZADD', hist, offset, message)
  redis.call('ZADD', index, first_seq + i, offset .. ' ' .. len .. ' ' .. stream)
  s.count, s.bytes, total = s.count + 1, s.bytes + len, total + len
  redis.call('PUBLISH', topic, ARGV[a + 5] .. message)
end

for _, stream in ipairs(order) do
  local s = streams[stream]
  if s.count > size then drop_oldest(s, stream, s.count - size) end
  while s.count > 0 and s.bytes > max_bytes do
    -- over the byte cap: drop about as many as the excess holds at this stream's mean size
    local mean = math.max(1, math.floor(s.bytes / s.count))
    drop_oldest(s, stream, math.max(1, math.floor((s.bytes - max_bytes) / mean)))
  end
  if s.cut then
    redis.call('HSET', s.meta, 'bytes', s.bytes, 'cut', s.cut)
  else
    redis.call('HSET', s.meta, 'bytes', s.bytes)
  end
  redis.call('EXPIRE', s.counter, meta_ttl)
  redis.call('EXPIRE', s.hist, ttl)
  redis.call('EXPIRE', s.meta, ttl)
end

-- The total cap: the oldest messages of every stream go first (the index is in publish order).
while total > max_total do
  local popped = redis.call('ZPOPMIN', index)
  if #popped == 0 then
    total = 0
    break
  end
  local offset, len, stream = string.match(popped[1], '^(%d+) (%d+) (.*)$')
  local hist, meta = hist_prefix .. stream, meta_prefix .. stream
  -- 0 removed: that stream's history expired; its bytes only leave the total now
  if redis.call('ZREMRANGEBYSCORE', hist, offset, offset) > 0 then
    redis.call('HINCRBY', meta, 'bytes', -tonumber(len))
    if tonumber(offset) > tonumber(redis.call('HGET', meta, 'cut') or '0') then
      redis.call('HSET', meta, 'cut', offset)
    end
  end
  total = total - tonumber(len)
end
redis.call('HSET', totals, 'bytes', total)
redis.call('EXPIRE', totals, ttl)
redis.call('EXPIRE', index, ttl)
return 1
"""


class RedisHistory:
    """History in Redis, shared by every instance; also does the PUBLISH (see module docstring)."""

    def __init__(self, store, ttl: float, size: int, meta_ttl: float,
                 max_bytes: int = DEFAULT_MAX_BYTES, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES):
        self.store = store
        self.ttl = max(1, int(ttl))
        self.size = max(1, int(size))
        self.meta_ttl = max(self.ttl, int(meta_ttl))
        self.max_bytes = max(0, int(max_bytes))
        self.max_total_bytes = max(0, int(max_total_bytes))
        self._script = store.redis.register_script(_PUBLISH_LUA)
        self._global_keys = [store.key("history_totals"), store.key("history_index")]

    def _keys(self, stream: str) -> tuple[str, str, str]:
        return self.store.key("offset", stream), self.store.key("history", stream), self.store.key("history_meta", stream)

    def _args(self) -> list:
        return [self.ttl, self.size, self.meta_ttl, self.max_bytes, self.max_total_bytes,
                self.store.key("history", ""), self.store.key("history_meta", "")]

    async def send(self, batch: Iterable[Outgoing]) -> None:
        """Send a batch in one round trip: the script for recoverable messages, PUBLISH for the rest."""
        redis = self.store.redis
        async with redis.pipeline(transaction=False) as pipe:
            keys: list[str] = list(self._global_keys)
            args: list = self._args()
            for item in batch:
                if item.stream is None:
                    if len(keys) > 2:  # flush the script run so far, keeping the order of the batch
                        await self._script(keys=keys, args=args, client=pipe)
                        keys, args = list(self._global_keys), self._args()
                    pipe.publish(item.topic, item.prefix + item.payload if item.prefix else item.payload)
                else:
                    keys.extend(self._keys(item.stream))
                    args.extend((item.topic, item.stream, orjson.dumps(item.stream), item.payload, item.prefix))
            if len(keys) > 2:
                await self._script(keys=keys, args=args, client=pipe)
            await pipe.execute()

    async def read(self, stream: str, after: int) -> RecoveryResult:
        counter, hist, meta = self._keys(stream)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.get(counter)
            pipe.zrangebyscore(hist, f"({after}", "+inf", withscores=True)
            pipe.hget(meta, "cut")
            top, entries, cut = await pipe.execute()
        return _judge(after, int(top) if top is not None else None,
                      [(int(score), payload) for payload, score in entries], int(cut) if cut is not None else None)


def history_for(store, config):
    """The history backend for ``store``, or None when ``pubsub.history`` is turned off."""
    history = config.pubsub.history
    if not history.enabled or not history.ttl or not history.size:
        return None
    caps = (history.max_bytes, history.max_total_bytes)
    if store.shared:
        return RedisHistory(store, history.ttl, history.size, history.meta_ttl, *caps)
    return LocalHistory(store.bus, history.ttl, history.size, history.meta_ttl, *caps)
