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

from ..errors import CLOSE_DISCONNECTED
from ..periodic import Periodic
from ..protocol import bus
from .publish import PublishError, check_user_id

__all__ = ["Users", "UsersOnline"]

log = logging.getLogger("ss.users")

MAX_CLOSE_REASON = 123  # bytes: what a WebSocket close frame can carry


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
    """``ss.users``: ``ss.users.online.now()``, ``ss.users.disconnect(user_id, reason=...)``."""

    def __init__(self, store, config, publish=None):
        self.online = UsersOnline(store, config)
        self._store = store
        self._publish = publish

    def __repr__(self) -> str:
        return "<ss.users: ss.users.online.now(), ss.users.disconnect(user_id, reason=...)>"

    def disconnect(self, user_id: Any, reason: str = "disconnected by the server") -> Any:
        """Close every connection of ``user_id``, on every instance, with close code 4002 and ``reason``.

        The browser emits ``disconnect`` on ``SS.events`` with the reason and does not
        reconnect on its own (``SS.reconnect()`` does). The session stays signed in: to keep
        the user out, also refuse them in your authentication. ``reason`` is cut to 123 bytes
        (the limit of a WebSocket close). Returns an awaitable, like ``ss.publish``.
        """
        uid = check_user_id(user_id)
        if not isinstance(reason, str):
            raise PublishError(f"reason must be a string, e.g. ss.users.disconnect(uid, reason='banned'), "
                               f"not {reason!r}")
        reason = reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")
        if self._publish is None:
            raise RuntimeError("ss.users.disconnect needs a running app")
        return self._publish.send_raw(self._store.key("user", uid),
                                      bus.control("close", code=CLOSE_DISCONNECTED, reason=reason))
