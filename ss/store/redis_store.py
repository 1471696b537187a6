"""The Redis store: sessions, users online and pub/sub shared by every instance on one Redis."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .base import PubSubBus, Store, StoreUnavailable


class RedisStore(Store):
    shared = True

    def __init__(self, url: str, key_prefix: str = ""):
        super().__init__(key_prefix)
        self.url = url
        self.description = url
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=3, health_check_interval=30)
        self._bus: PubSubBus | None = None

    @property
    def redis(self):
        return self._redis

    @property
    def bus(self) -> PubSubBus:
        if self._bus is None:
            from .redis_bus import RedisBus

            self._bus = RedisBus(self._redis)
        return self._bus

    async def connect(self) -> None:
        try:
            await self._redis.ping()
        except (RedisConnectionError, OSError, RedisError) as exc:
            raise StoreUnavailable(
                f"Redis is configured but does not answer at {self.url} ({exc}). "
                "Start redis-server, fix config.redis / $SS_REDIS_URL, or turn redis.enabled off "
                "to use the embedded store.") from None

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.close()
        await self._redis.aclose()
