"""The Redis store: sessions, users online and pub/sub shared by every instance on one Redis."""

from __future__ import annotations

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .base import PubSubBus, Store, StoreUnavailable
from .instrumented import InstrumentedRedis


class RedisStore(Store):
    shared = True

    def __init__(self, url: str, key_prefix: str = "", client: bool = True):
        super().__init__(key_prefix)
        self.url = url
        self.description = url
        self._bus: PubSubBus | None = None
        if not client:  # a subclass makes its own (ss/store/sentinel.py)
            return
        # Fail fast during an outage (one quick retry, 1 s to connect) so calls that need the
        # store get a clear error at once instead of stalling; the pub/sub reader keeps retrying.
        self._redis = InstrumentedRedis.from_url(url, socket_connect_timeout=1, socket_timeout=5,
                                              retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
                                              health_check_interval=30)

    @property
    def redis(self):
        return self._redis

    @property
    def bus(self) -> PubSubBus:
        if self._bus is None:
            from .redis_bus import RedisBus

            self._bus = RedisBus(self._redis)
        return self._bus

    @property
    def pubsub_connected(self) -> bool:
        return self._bus is None or bool(getattr(self._bus, "connected", True))

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
