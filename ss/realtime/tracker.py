"""Presence with metadata: ``connection.track / update / untrack``, ``ss.presence.list``, the presence messages.

A signed-in connection subscribed to a channel may *track* itself there with a
small JSON object (its meta: a name, a status). Each tracked connection is one
entry, stored per channel beside today's presence set (which is untouched):

- ``ss:tracked:<channel>``: a sorted set of ``<user id as JSON>|<connection id>``,
  scored with the time the entry stops counting;
- ``ss:tracked_meta:<channel>``: a hash of the same members to their meta as
  JSON (with ``connection_id`` added), plus the field ``#version``: a counter
  bumped by every change, in the same MULTI transaction as the change. It
  starts from the clock (milliseconds x 1000) when the hash is new, so a version
  is never issued twice for a channel even after its keys expired.

Every change is published to the channel's subscribers as one
``presence_diff`` message (not kept for recovery: a browser that reconnects
asks for the whole state again), and a connection asks for the whole state
with ``{"type": "presence"}`` (answered with one ``presence_state`` message).
See docs/protocol.md, "Presence".

The instance that tracks a connection pushes its deadline forward on every
presence refresh, in the refresh's one pipelined round trip; the same round
trip finds expired entries (a dead instance's) of every channel this instance
tracks in or serves states for, and those are swept (an optimistic WATCH /
MULTI transaction, so an entry refreshed meanwhile stays) and their leaves
announced. An instance that stalled longer than ``presence.timeout`` finds its
refreshed entries short (``ZADD XX CH``) and writes them back (a join again).

Connections that never track cost nothing: what this instance tracks lives in
one dict here, keyed by connection.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from redis.exceptions import WatchError

from .. import protocol
from ..errors import PresenceError

__all__ = ["PresenceError", "PresenceTracker", "MAX_META_BYTES"]

log = logging.getLogger("ss.presence")

#: the largest meta (as JSON, with its connection_id) a connection may track with
MAX_META_BYTES = 4096
VERSION = "#version"  # never a member: members always hold a "|"
_SWEEP_ATTEMPTS = 5


def _uid_json(member: str) -> str:
    return member.rsplit("|", 1)[0]


def _wire_uid(uid_json: str) -> str:
    """The user id as a key of the wire's JSON objects: a string id as is, any other id as its JSON."""
    uid = orjson.loads(uid_json)
    return uid if isinstance(uid, str) else uid_json


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PresenceTracker:
    """The tracked connections of this instance, and everything read and written about tracked presence."""

    def __init__(self, app: Any, timeout: float) -> None:
        self.app = app
        self.store = app.store
        self.timeout = timeout
        # connection -> {channel: (member, meta JSON)}: only connections that track are here
        self._tracked: dict[Any, dict[str, tuple[str, bytes]]] = {}
        # channels a local connection asked the state of: swept by this instance too, while it has members there
        self._watched: set[str] = set()
        self._ttl = int(timeout * 2) + 1  # seconds the keys of a channel outlive its last refresh

    def _keys(self, channel: str) -> tuple[str, str]:
        return self.store.key("tracked", channel), self.store.key("tracked_meta", channel)

    def tracked_connections(self) -> int:
        """How many of this instance's connections track something (tests, metrics)."""
        return len(self._tracked)

    # ---- the server API ----

    def _entry(self, connection: Any, channel: str, meta: Any) -> tuple[str, bytes]:
        user_id = connection.session.user_id
        if user_id is None:
            raise PresenceError("presence needs a signed-in connection: sign in first "
                                "(await self.session.set_user_id(uid)), then track")
        if not isinstance(channel, str) or not channel:
            raise PresenceError(f"channel must be a non-empty string, not {channel!r}")
        if channel not in connection.session.channels:
            raise PresenceError(f"this connection is not in channel {channel!r}: subscribe first "
                                f"(self.session.channel.subscribe({channel!r})), then track")
        if not isinstance(meta, dict):
            raise PresenceError(f"meta must be a JSON object (a dict such as {{'name': 'Ann'}}), "
                                f"not {type(meta).__name__}")
        try:
            meta_json = protocol.encode({**meta, "connection_id": connection.id})
        except TypeError as exc:
            raise PresenceError(f"meta cannot be sent as JSON: {exc}") from None
        if len(meta_json) > MAX_META_BYTES:
            raise PresenceError(f"meta is {len(meta_json)} bytes as JSON, over the {MAX_META_BYTES}-byte limit: "
                                "keep presence meta small (a name, a status) and fetch the rest with a call")
        uid_json = orjson.dumps(user_id, default=str).decode()
        return f"{uid_json}|{connection.id}", meta_json

    async def track(self, connection: Any, channel: str, meta: Any) -> None:
        """``connection`` is in ``channel`` with ``meta`` (tracking it again replaces its meta, as update does).

        Nothing happens once the connection is closed: its close already untracked it everywhere.
        """
        entry = self._entry(connection, channel, meta)
        if connection.closed:
            return
        entries = self._tracked.setdefault(connection, {})
        old = entries.get(channel)
        entries[channel] = entry
        await self._put(connection, channel, entry, old[1] if old is not None else None)

    async def update(self, connection: Any, channel: str, meta: Any) -> None:
        """Replace the meta ``connection`` tracks in ``channel`` with (members see a leave and a join of it)."""
        old = self._tracked.get(connection, {}).get(channel)
        if connection.closed:
            return
        if old is None:
            raise PresenceError(f"this connection does not track presence in {channel!r}: "
                                f"call track({channel!r}, meta) first")
        entry = self._entry(connection, channel, meta)
        self._tracked[connection][channel] = entry
        await self._put(connection, channel, entry, old[1])

    async def untrack(self, connection: Any, channel: str) -> None:
        """``connection`` is no longer present in ``channel`` (nothing happens when it was not tracked there)."""
        entries = self._tracked.get(connection)
        entry = entries.pop(channel, None) if entries else None
        if entries is not None and not entries:
            del self._tracked[connection]
        if entry is not None:
            await self._remove({channel: [entry]})

    async def untrack_all(self, connection: Any) -> None:
        """The connection closed (or signed out): out of every channel at once, in one transaction."""
        entries = self._tracked.pop(connection, None)
        if entries:
            await self._remove({channel: [entry] for channel, entry in entries.items()})

    async def listing(self, channel: str) -> dict[Any, list[dict]]:
        """``{user_id: [meta, ...]}``: one meta per connection tracked in ``channel``, on every instance."""
        raw, _ = await self._read(channel)
        listed: dict[Any, list[dict]] = {}
        for uid_json, metas in raw.items():
            listed.setdefault(orjson.loads(uid_json), []).extend(orjson.loads(m) for m in metas)
        return listed

    async def send_state(self, connection: Any, channel: str) -> None:
        """Answer a ``{"type":"presence"}`` request: the whole state of ``channel``, in one message."""
        if self.store.key("channel", channel) not in self.app.router.topics_of(connection):
            connection.send(protocol.encode_presence_refused(
                channel, "not_subscribed", f"this connection is not in channel {channel!r}: subscribe to it "
                                           "(a server action calling self.session.channel.subscribe) first"))
            return
        self._watched.add(channel)
        raw, version = await self._read(channel)
        state: dict[str, list] = {}
        for uid_json, metas in raw.items():
            state.setdefault(_wire_uid(uid_json), []).extend(orjson.loads(m) for m in metas)
        connection.send(protocol.encode_presence_state(channel, state, version))

    # ---- reading and writing the store ----

    async def _read(self, channel: str) -> tuple[dict[str, list[bytes]], int]:
        """{user id JSON: [meta JSON, ...]} of the live entries, and the channel's version."""
        key, meta_key = self._keys(channel)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.zrangebyscore(key, time.time(), "+inf")
            pipe.hgetall(meta_key)
            live, metas = await pipe.execute()
        metas = {_text(k): v for k, v in metas.items()}
        raw: dict[str, list[bytes]] = {}
        for member in map(_text, live):
            meta = metas.get(member)
            if meta is not None:
                raw.setdefault(_uid_json(member), []).append(meta)
        return raw, int(metas.get(VERSION, 0))

    def _bump(self, pipe: Any, meta_key: str) -> None:
        """Queue the version bump of a change: three commands, the second's result is the new version.

        The expiry is set again so that a hash made here (its keys expired meanwhile) is not kept for ever.
        """
        pipe.hsetnx(meta_key, VERSION, int(time.time() * 1000) * 1000)
        pipe.hincrby(meta_key, VERSION, 1)
        pipe.expire(meta_key, self._ttl)

    async def _put(self, connection: Any, channel: str, entry: tuple[str, bytes], old_meta: bytes | None) -> None:
        """Write ``entry`` and announce it, then make sure the store still says what this instance holds."""
        member, meta_json = entry
        key, meta_key = self._keys(channel)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            self._bump(pipe, meta_key)
            pipe.hset(meta_key, member, meta_json)
            pipe.zadd(key, {member: time.time() + self.timeout})
            pipe.expire(key, self._ttl)
            _, version, _, _, added, _ = await pipe.execute()
        if added or old_meta != meta_json:
            # Still there (not swept meanwhile): its old meta leaves in the same diff as the new one joins.
            leaves = {member: old_meta} if not added and old_meta is not None else {}
            await self._announce(channel, {member: meta_json}, leaves, version)
        current = self._tracked.get(connection, {}).get(channel)
        if current is None:
            # Untracked (or closed) while this write was on its way: its removal may have run first.
            await self._remove({channel: [entry]})
        elif current != entry:
            await self._put(connection, channel, current, meta_json)  # a later update that may have run first

    async def _remove(self, entries: dict[str, list[tuple[str, bytes]]]) -> None:
        """Remove these (member, meta) entries, per channel, in one transaction; announce the ones that were there."""
        channels = list(entries)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            for channel in channels:
                key, meta_key = self._keys(channel)
                for member, _ in entries[channel]:
                    pipe.zrem(key, member)
                pipe.hdel(meta_key, *(member for member, _ in entries[channel]))
                self._bump(pipe, meta_key)
            results = await pipe.execute()
        at = 0
        for channel in channels:
            count = len(entries[channel])
            removed, version = results[at:at + count], results[at + count + 2]
            at += count + 4
            leaves = {member: meta for (member, meta), n in zip(entries[channel], removed) if n}
            if leaves:
                await self._announce(channel, {}, leaves, version)

    async def _announce(self, channel: str, joins: dict[str, bytes], leaves: dict[str, bytes], version: int) -> None:
        def by_user(entries: dict[str, bytes]) -> dict[str, list]:
            grouped: dict[str, list] = {}
            for member, meta in entries.items():
                grouped.setdefault(_wire_uid(_uid_json(member)), []).append(orjson.loads(meta))
            return grouped

        # On the channel's topic, in order with its events; not kept for recovery (no stream): a browser
        # that reconnects asks for the whole state instead.
        payload = protocol.encode_presence_diff(channel, by_user(joins), by_user(leaves), version)
        await self.app.publish.send_raw(self.store.key("channel", channel), payload)

    # ---- the periodic refresh (one pipelined round trip, shared with ss.presence's own) ----

    def queue_refresh(self, pipe: Any, now: float) -> list[tuple[str, int]]:
        """Queue this instance's deadline pushes and the expiry scans; returns what to hand to :meth:`refreshed`."""
        by_channel: dict[str, dict[str, bytes]] = {}
        for entries in self._tracked.values():
            for channel, (member, _) in entries.items():
                by_channel.setdefault(channel, {})[member] = b""
        self._watched = {c for c in self._watched if self.app.router.members(self.store.key("channel", c))}
        plan = []
        ttl = self._ttl
        for channel in by_channel.keys() | self._watched:
            key, meta_key = self._keys(channel)
            members = by_channel.get(channel)
            if members:
                pipe.zadd(key, dict.fromkeys(members, now + self.timeout), xx=True, ch=True)
                pipe.expire(key, ttl)
                pipe.expire(meta_key, ttl)
            pipe.zrangebyscore(key, "-inf", f"({now}")
            plan.append((channel, len(members or ())))
        return plan

    async def refreshed(self, plan: list[tuple[str, int]], results: list) -> None:
        """Sweep what expired, write back what another instance swept of ours (the refresh's second half)."""
        at = 0
        for channel, tracked in plan:
            pushed = results[at] if tracked else 0  # ZADD XX CH: how many of ours were still there
            expired = results[at + 3 if tracked else at]
            at += 4 if tracked else 1
            if expired:
                await self._sweep(channel)
            if pushed < tracked:
                await self._restore(channel)

    async def _sweep(self, channel: str) -> None:
        """Remove the expired entries of ``channel`` (those of a dead instance) and announce their leaves."""
        key, meta_key = self._keys(channel)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            for _ in range(_SWEEP_ATTEMPTS):
                try:
                    await pipe.watch(key, meta_key)
                    expired = [_text(m) for m in await pipe.zrangebyscore(key, "-inf", f"({time.time()}")]
                    if not expired:
                        await pipe.reset()
                        return
                    metas = await pipe.hmget(meta_key, expired)
                    pipe.multi()
                    pipe.zrem(key, *expired)
                    pipe.hdel(meta_key, *expired)
                    self._bump(pipe, meta_key)
                    *_, version, _ = await pipe.execute()
                except WatchError:
                    continue  # refreshed or changed meanwhile: look again
                leaves = {m: meta for m, meta in zip(expired, metas) if meta is not None}
                if leaves:
                    await self._announce(channel, {}, leaves, version)
                return

    async def _restore(self, channel: str) -> None:
        """Some of this instance's entries in ``channel`` were swept (it stalled): write them back."""
        for connection, entries in list(self._tracked.items()):
            entry = entries.get(channel)
            if entry is not None:
                await self._put(connection, channel, entry, entry[1])
