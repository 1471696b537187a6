"""Presence per channel: ``await ss.presence.channel('room1')`` lists the users in it, on every instance.

Each signed-in socket subscribed to a channel is one entry in the sorted set
``ss:presence:<channel>``: the member is ``<user id as JSON>|<socket id>``, the
score the time the entry stops counting. Every instance pushes the deadlines
of its own sockets forward every ``presence.refresh_interval`` seconds, so the
sockets of an instance that dies drop out ``presence.timeout`` seconds later;
a socket that closes normally leaves at once.

With ``presence.events`` on, channel subscribers get ``presence:join`` and
``presence:leave`` events (``{"channel": name, "user_id": id}``) when a user's
first socket joins and last socket leaves. Each add/remove runs in a MULTI
transaction with a read of the entries left, so two instances never both
announce the same join or leave.

Presence with metadata (``connection.track``, ``ss.presence.list``, the
``presence_state`` / ``presence_diff`` messages) lives in ``tracker.py``; this
object hands those calls over and runs both refreshes in one pipelined round trip.
"""

from __future__ import annotations

import builtins
import itertools
import logging
import secrets
import time
from typing import Any

import orjson

from .. import protocol
from ..periodic import Periodic
from .tracker import PresenceError, PresenceTracker

__all__ = ["Presence", "PresenceError"]

log = logging.getLogger("ss.presence")


def _uid_of(member: bytes | str) -> Any:
    text = member.decode() if isinstance(member, bytes) else member
    return orjson.loads(text.rsplit("|", 1)[0])


class Presence:
    """``ss.presence``: who is in a channel, across instances."""

    def __init__(self, app: Any) -> None:
        config = app.config.presence
        self.app = app
        self.store = app.store
        self.enabled = config.enabled
        self.events = config.events
        self.timeout = config.timeout
        self.refresh_interval = config.refresh_interval
        self._instance = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._socket_ids: dict[Any, str] = {}
        # connection -> {channel: member}: this instance's entries, refreshed by the loop
        self._entries: dict[Any, dict[str, str]] = {}
        self.tracker = PresenceTracker(app, self.timeout)
        self._refresher = Periodic("presence refresh", self.refresh_interval, self.refresh)

    def _key(self, channel: str) -> str:
        return self.store.key("presence", channel)

    def __repr__(self) -> str:
        return (f"<ss.presence: await ss.presence.channel(name), await ss.presence.list(name); "
                f"events {'on' if self.events else 'off'}>")

    async def channel(self, name: str) -> list:
        """The ids of the users with a socket in channel ``name``, each once (the order means nothing)."""
        raw = await self.store.redis.zrangebyscore(self._key(name), time.time(), "+inf")
        return list(dict.fromkeys(_uid_of(member) for member in raw))

    async def list(self, channel: str) -> dict[Any, builtins.list[dict]]:
        """``{user_id: [meta, ...]}``: one meta per connection tracking itself in ``channel``, on every instance.

        User ids come back as they were set (a number stays a number); each meta carries the
        ``connection_id`` of the connection that tracks it.
        """
        return await self.tracker.listing(channel)

    def _check_enabled(self) -> None:
        if not self.enabled:
            raise PresenceError("presence is off in this app's config: set presence.enabled = True to track")

    async def track(self, connection, channel: str, meta: dict) -> None:
        """``connection`` (signed in, subscribed to ``channel``) is present there with ``meta`` (see Connection.track)."""
        self._check_enabled()
        await self.tracker.track(connection, channel, meta)

    async def update(self, connection, channel: str, meta: dict) -> None:
        self._check_enabled()
        await self.tracker.update(connection, channel, meta)

    async def untrack(self, connection, channel: str) -> None:
        await self.tracker.untrack(connection, channel)

    async def send_state(self, connection, channel: str) -> None:
        """Answer a browser's ``{"type":"presence","channel":...}`` with the channel's state."""
        if not self.enabled:
            connection.send(protocol.encode_presence_refused(
                channel, "presence_off", "presence is off in this app's config (presence.enabled)"))
            return
        await self.tracker.send_state(connection, channel)

    def tracked_connections(self) -> int:
        return self.tracker.tracked_connections()

    async def join(self, connection, channel: str, user_id: Any) -> None:
        """``connection`` (signed in as ``user_id``) is in ``channel``."""
        if not self.enabled or user_id is None:
            return
        socket_id = self._socket_ids.setdefault(connection, f"{self._instance}.{next(self._ids)}")
        prefix = orjson.dumps(user_id, default=str).decode() + "|"
        member = prefix + socket_id
        entries = self._entries.setdefault(connection, {})
        old = entries.get(channel)
        if old == member:
            return
        if old is not None:
            await self.leave(connection, channel)
            entries = self._entries.setdefault(connection, {})
        entries[channel] = member
        key, now = self._key(channel), time.time()
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: now + self.timeout})
            pipe.expire(key, int(self.timeout * 2) + 1)
            pipe.zrangebyscore(key, now, "+inf")
            _, _, live = await pipe.execute()
        if self.events and not any(m.decode().startswith(prefix) for m in live if m.decode() != member):
            await self._announce(channel, "presence:join", user_id)

    async def leave(self, connection, channel: str) -> None:
        """``connection`` left ``channel`` (unsubscribe, logout): it is no longer listed nor tracked there."""
        await self.tracker.untrack(connection, channel)
        entries = self._entries.get(connection)
        member = entries.pop(channel, None) if entries else None
        if entries is not None and not entries:
            del self._entries[connection]
        if member is not None:
            await self._remove(channel, [member])

    async def leave_all(self, connection) -> None:
        """The socket closed (or signed out): out of every channel, untracked everywhere."""
        self._socket_ids.pop(connection, None)
        await self.tracker.untrack_all(connection)
        for channel in list(self._entries.get(connection, {})):
            await self.leave(connection, channel)

    async def _remove(self, channel: str, members: builtins.list[str]) -> None:
        key, now = self._key(channel), time.time()
        async with self.store.redis.pipeline(transaction=True) as pipe:
            for member in members:
                pipe.zrem(key, member)
            pipe.zrangebyscore(key, now, "+inf")
            *removed, live = await pipe.execute()
        if not self.events:
            return
        live_uids = {m.decode().rsplit("|", 1)[0] for m in live}
        gone = dict.fromkeys(m.rsplit("|", 1)[0] for m, n in zip(members, removed) if n)
        for uid_json in gone:
            if uid_json not in live_uids:
                await self._announce(channel, "presence:leave", orjson.loads(uid_json))

    async def _announce(self, channel: str, event: str, user_id: Any) -> None:
        await self.app.publish.channel(channel, event, {"channel": channel, "user_id": user_id})

    async def refresh(self) -> None:
        """Push this instance's deadlines forward and sweep out entries that ran out (dead instances).

        One pipelined round trip for both sets (the user ids and the tracked metas); more
        only when something expired or was swept while this instance stalled.
        """
        by_channel: dict[str, builtins.list[str]] = {}
        for entries in self._entries.values():
            for channel, member in entries.items():
                by_channel.setdefault(channel, []).append(member)
        now = time.time()
        redis = self.store.redis
        async with redis.pipeline(transaction=False) as pipe:
            for channel, members in by_channel.items():
                key = self._key(channel)
                pipe.zadd(key, dict.fromkeys(members, now + self.timeout))
                pipe.expire(key, int(self.timeout * 2) + 1)
                pipe.zrangebyscore(key, "-inf", f"({now}")
            plan = self.tracker.queue_refresh(pipe, now)
            if not by_channel and not plan:
                return
            results = await pipe.execute()
        ours = 3 * len(by_channel)
        for channel, expired in zip(by_channel, results[2:ours:3]):
            if expired:
                await self._remove(channel, [m.decode() for m in expired])
        await self.tracker.refreshed(plan, results[ours:])

    def start(self) -> None:
        if self.enabled:
            self._refresher.start()

    async def close(self) -> None:
        await self._refresher.close()
