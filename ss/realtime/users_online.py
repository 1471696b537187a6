"""Users online: ``await ss.users.online.now()`` lists the user ids seen recently, on every instance.

One sorted set, ``ss:users:online``, maps each user id (JSON, so 7 and "7"
stay apart) to the time it was last seen: set on login, on socket open and on
every browser heartbeat (``client.heartbeat_interval``). Users not seen for
``users.online.mins_until_offline`` minutes are not listed, and a purge every
``users.online.update_interval`` seconds deletes them. ZADD, ZREM and
ZREMRANGEBYSCORE are each atomic, so any number of instances can heartbeat and
purge at once without fighting. Logout removes the user at once.

(The module is not called ``users.py``: a submodule of that name would shadow
the runtime attribute ``ss.users``.)
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import orjson

from ..periodic import Periodic

__all__ = ["Users", "UsersOnline"]

log = logging.getLogger("ss.users")


class UsersOnline:
    """``ss.users.online``: who is online across all instances sharing the store."""

    def __init__(self, store, config):
        online = config.users.online
        self.store = store
        self.enabled = bool(online.enabled)
        self.window = float(online.mins_until_offline) * 60
        self.interval = float(online.update_interval)
        self.key = store.key("users", "online")
        self._purger = Periodic("users online purge", self.interval, self.purge)

    def __repr__(self) -> str:
        return f"<ss.users.online: await ss.users.online.now(); {'on' if self.enabled else 'off'}>"

    async def now(self, cb: Callable[[list], Any] | None = None) -> list:
        """The ids of users seen within ``mins_until_offline`` (oldest first); ``cb(ids)`` too, seed style."""
        raw = await self.store.redis.zrangebyscore(self.key, time.time() - self.window, "+inf")
        ids = [orjson.loads(member) for member in raw]
        if cb is not None:
            cb(ids)
        return ids

    async def seen(self, user_id: Any) -> None:
        """Mark ``user_id`` online now (login, socket open, heartbeat)."""
        if self.enabled and user_id is not None:
            await self.store.redis.zadd(self.key, {orjson.dumps(user_id, default=str): time.time()})

    async def remove(self, user_id: Any) -> None:
        """``user_id`` logged out: off the list at once."""
        if self.enabled and user_id is not None:
            await self.store.redis.zrem(self.key, orjson.dumps(user_id, default=str))

    async def purge(self) -> int:
        """Delete users not seen within the window; returns how many went."""
        return await self.store.redis.zremrangebyscore(self.key, "-inf", f"({time.time() - self.window}")

    def start(self) -> None:
        if self.enabled:
            self._purger.start()

    async def close(self) -> None:
        await self._purger.close()


class Users:
    """``ss.users``: ``ss.users.online.now()``."""

    def __init__(self, store, config):
        self.online = UsersOnline(store, config)

    def __repr__(self) -> str:
        return "<ss.users: ss.users.online.now()>"
