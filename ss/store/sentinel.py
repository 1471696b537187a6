"""Redis behind Sentinel: ``redis.sentinel.master`` and ``redis.sentinel.addresses``, no single point of failure.

redis-py's asyncio Sentinel client asks the sentinels where the master is
before each new connection, and drops its connections when a sentinel names
another master. ss's pub/sub link (ss/store/redis_bus.py) does the same: each
time it reconnects it asks the sentinels first, so after a failover it
subscribes every topic again on the promoted replica. While the switch lasts
(the sentinels' ``down-after-milliseconds`` plus the election, a few seconds),
calls that need the store answer ``store_unavailable`` and the browser may retry
them; nothing is acknowledged that the master did not accept.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from .. import metrics
from ..errors import StartupError
from .base import PubSubBus, StoreUnavailable
from .instrumented import InstrumentedRedis
from .redis_store import RedisStore

__all__ = ["SentinelStore", "parse_addresses"]

log = logging.getLogger("ss.store")


def parse_addresses(addresses) -> list[tuple[str, int]]:
    """["10.0.0.1:26379", "sentinel-2"] -> [("10.0.0.1", 26379), ("sentinel-2", 26379)]; StartupError if unusable."""
    out = []
    for entry in addresses or ():
        text = str(entry).strip()
        host, sep, port = text.rpartition(":") if text.count(":") == 1 or text.startswith("[") else ("", "", "")
        if not sep:
            host, port = text, "26379"
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise StartupError(f"redis.sentinel.addresses: {entry!r} is not host:port (e.g. \"10.0.0.1:26379\")")
        out.append((host, int(port)))
    if not out:
        raise StartupError("redis.sentinel.addresses is empty: list the sentinels as \"host:port\" "
                         "(three or more, on separate machines)")
    return out


class SentinelStore(RedisStore):
    """A RedisStore whose master is found (and found again after a failover) through Sentinel."""

    def __init__(self, master: str, addresses, key_prefix: str = "", db: int = 0, password: str | None = None,
                 sentinel_password: str | None = None):
        self.master = master
        self.sentinels = parse_addresses(addresses)
        where = ",".join(f"{h}:{p}" for h, p in self.sentinels)
        RedisStore.__init__(self, f"redis-sentinel://{where}/{master}/{db}", key_prefix, client=False)
        self.description = f"Redis master {master!r} via Sentinel {where}"
        sentinel_kwargs: dict[str, Any] = {"socket_connect_timeout": 1, "socket_timeout": 1}
        if sentinel_password:
            sentinel_kwargs["password"] = sentinel_password
        self.sentinel = Sentinel(self.sentinels, sentinel_kwargs=sentinel_kwargs)
        # As RedisStore: fail fast during an outage (here: the switch to a new master).
        self._redis = self.sentinel.master_for(
            master, redis_class=InstrumentedRedis, db=db, password=password, socket_connect_timeout=1,
            socket_timeout=5, retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1), health_check_interval=30)
        self._master_address: tuple[str, int] | None = None

    async def locate(self) -> tuple[str, int]:
        """The master's address now, from the sentinels (logs and counts a change of master)."""
        host, port = await self.sentinel.discover_master(self.master)
        address = (str(host), int(port))
        if self._master_address is not None and address != self._master_address:
            log.warning("Redis master %r moved from %s:%s to %s:%s (Sentinel failover)", self.master,
                        *self._master_address, *address)
            metrics.store_reconnect("failover")
        self._master_address = address
        return address

    @property
    def bus(self) -> PubSubBus:
        if self._bus is None:
            from .redis_bus import RedisBus

            self._bus = RedisBus(self._redis, locate=self.locate)
        return self._bus

    async def connect(self) -> None:
        try:
            await self.locate()
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(
                f"Redis Sentinel could not give a master named {self.master!r} "
                f"({', '.join(f'{h}:{p}' for h, p in self.sentinels)}): {exc}. Check that the sentinels run and "
                "monitor that name (SENTINEL MONITOR), or fix redis.sentinel in config/app.py.") from None

    async def close(self) -> None:
        await RedisStore.close(self)
        for client in self.sentinel.sentinels:
            await client.aclose()
