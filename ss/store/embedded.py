"""The default store: fakeredis in this process. No server needed; data is lost on restart."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

import fakeredis

from .base import Handler, PubSubBus, Store

log = logging.getLogger("ss.store")

class LocalBus(PubSubBus):
    """Delivers published payloads straight to this process's handlers."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    async def subscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._handlers.setdefault(topic, [])
        if handler not in handlers:
            handlers.append(handler)

    async def unsubscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._handlers.get(topic)
        if handlers and handler in handlers:
            handlers.remove(handler)
            if not handlers:
                del self._handlers[topic]

    async def publish(self, topic: str, payload: bytes) -> None:
        for handler in list(self._handlers.get(topic, ())):
            try:
                result = handler(topic, payload)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("handler for %s failed", topic)

    def topics(self) -> list[str]:
        return list(self._handlers)

    async def close(self) -> None:
        self._handlers.clear()


class EmbeddedStore(Store):
    description = "embedded (in memory, this process only; data is lost on restart)"
    shared = False

    def __init__(self, key_prefix: str = ""):
        super().__init__(key_prefix)
        # The store owns its in-memory server: ss's own code, the app's ss.R and the console all
        # use this one client, and two apps in one process (tests) never see each other's data.
        self.server = fakeredis.FakeServer()
        self._redis = fakeredis.FakeAsyncRedis(server=self.server)
        # The same data through fakeredis's synchronous client: a pipeline of ss's own (sessions loaded
        # and created in one loop turn) runs in one go, without the asyncio client's queue and awaits
        # per command; nothing is waited for in this process anyway.
        self._direct = fakeredis.FakeRedis(server=self.server)
        self._bus = LocalBus()

    @property
    def redis(self):
        return self._redis

    @property
    def bus(self) -> LocalBus:
        return self._bus

    async def run_pipeline(self, fill: Callable[[Any], None]) -> list[Any]:
        pipe = self._direct.pipeline(transaction=False)
        fill(pipe)
        return pipe.execute(raise_on_error=False)

    async def connect(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._bus.close()
        await self._redis.aclose()
        self._direct.close()
