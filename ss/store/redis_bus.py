"""Pub/sub over Redis: one connection per instance, topics subscribed on demand.

The reader task survives Redis restarts: it logs the outage once, retries with
capped exponential backoff, and redis-py re-subscribes every topic when the
connection comes back.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from .base import STORE_ERRORS, Handler, OutageLog, PubSubBus

log = logging.getLogger("ss.pubsub")


class RedisBus(PubSubBus):
    def __init__(self, redis, max_backoff: float = 5.0):
        self._redis = redis
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._handlers: dict[str, list[Handler]] = {}
        self._reader: asyncio.Task | None = None
        self._has_topics = asyncio.Event()
        self._max_backoff = max_backoff
        self._lock = asyncio.Lock()
        self._outage = OutageLog()
        self.connected = True

    async def subscribe(self, topic: str, handler: Handler) -> None:
        async with self._lock:
            handlers = self._handlers.setdefault(topic, [])
            if handler in handlers:
                return
            handlers.append(handler)
            if len(handlers) == 1:
                self._has_topics.set()
                try:
                    await self._pubsub.subscribe(topic)
                except STORE_ERRORS as exc:
                    # Redis is down: keep the topic; _resync subscribes it when Redis is back.
                    self._outage.report("Redis pub/sub", exc)
                    self.connected = False
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="ss-redis-bus")

    async def unsubscribe(self, topic: str, handler: Handler) -> None:
        async with self._lock:
            handlers = self._handlers.get(topic)
            if not handlers or handler not in handlers:
                return
            handlers.remove(handler)
            if not handlers:
                del self._handlers[topic]
                try:
                    await self._pubsub.unsubscribe(topic)
                except (RedisError, OSError):
                    pass  # gone with the connection; not re-subscribed since it left self._handlers
                if not self._handlers:
                    self._has_topics.clear()

    async def publish(self, topic: str, payload: bytes) -> None:
        await self._redis.publish(topic, payload)

    async def _read(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._has_topics.wait()
                message = await self._pubsub.get_message(timeout=1.0)
                if not self.connected:
                    await self._resync()
                    log.warning("Redis pub/sub connection is back; subscriptions restored")
                    self.connected = True
                backoff = 0.1
                if message is None or message.get("type") != "message":
                    continue
                topic = message["channel"]
                topic = topic.decode() if isinstance(topic, bytes) else topic
                await self._deliver(topic, message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.error("Redis pub/sub connection lost (%s); retrying with backoff up to %.0fs",
                              exc, self._max_backoff)
                    self.connected = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _resync(self) -> None:
        """Subscribe topics whose SUBSCRIBE failed during the outage (redis-py restores only the others)."""
        known = {t.decode() if isinstance(t, bytes) else t for t in self._pubsub.channels}
        missing = [topic for topic in self._handlers if topic not in known]
        if missing:
            await self._pubsub.subscribe(*missing)

    async def _deliver(self, topic: str, payload: bytes) -> None:
        for handler in list(self._handlers.get(topic, ())):
            try:
                result = handler(topic, payload)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("handler for %s failed", topic)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        self._handlers.clear()
        await self._pubsub.aclose()
