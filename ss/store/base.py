"""The one small interface every store backend implements.

A store gives ss (and the app, as ``ss.R``) a redis.asyncio client and a
pub/sub bus. Backends differ only in where the data lives: in this process
(embedded) or in a Redis server shared by many processes.
"""

from __future__ import annotations

import abc
import logging
import time
from typing import Any, Awaitable, Callable

import redis.exceptions
from ..errors import StartupError

log = logging.getLogger("ss.store")

#: What a store raises when it cannot be reached (fakeredis and redis-py raise the same ones).
STORE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError)

Handler = Callable[[str, bytes], Awaitable[None] | None]


class StoreUnavailable(StartupError):
    """The store cannot be reached; the message says where it was looked for and what to do."""


class OutageLog:
    """Logs a store outage once per ``window`` seconds, not once per failed operation."""

    def __init__(self, window: float = 30.0):
        self.window = window
        self._last = float("-inf")

    def report(self, where: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last >= self.window:
            self._last = now
            log.error("the store (%s) is not answering: %s: %s (logged once per %.0fs while it lasts)",
                      where, type(exc).__name__, exc, self.window)


class PubSubBus(abc.ABC):
    """Topic-based messaging between server instances.

    Handlers are called with ``(topic, payload)`` for every message published to
    a topic they subscribed to, on any instance sharing the store. A backend
    subscribes to a topic upstream when its first local handler arrives and
    drops it when its last one leaves, so an instance only receives the traffic
    its own sockets need.
    """

    @abc.abstractmethod
    async def subscribe(self, topic: str, handler: Handler) -> None: ...

    @abc.abstractmethod
    async def unsubscribe(self, topic: str, handler: Handler) -> None: ...

    @abc.abstractmethod
    async def publish(self, topic: str, payload: bytes) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


class Store(abc.ABC):
    """A redis.asyncio client (``redis``), a pub/sub bus (``bus``), a key prefix (``key``) and
    :meth:`run_pipeline` for ss's own batches of commands."""

    #: One line for the start-up banner, e.g. "redis://127.0.0.1:6379/0".
    description: str = ""
    #: True when several processes can share this store (needed for --workers > 1).
    shared: bool = False

    def __init__(self, key_prefix: str = ""):
        self.key_prefix = key_prefix

    def key(self, *parts: str) -> str:
        """An internal key: ``<key_prefix>ss:<parts joined by ':'>``."""
        return self.key_prefix + "ss:" + ":".join(parts)

    @property
    @abc.abstractmethod
    def redis(self): ...

    @property
    @abc.abstractmethod
    def bus(self) -> PubSubBus: ...

    async def run_pipeline(self, fill: Callable[[Any], None]) -> list[Any]:
        """Run the commands ``fill(pipe)`` queues on a non-transactional pipeline (one round trip);
        their results in order, a command that failed as its exception. Raises what the pipeline
        raised (the store not answering)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            fill(pipe)
            return await pipe.execute(raise_on_error=False)

    @property
    def pubsub_connected(self) -> bool:
        """False while the pub/sub link to other instances is down (the readiness probe says so)."""
        return True

    @abc.abstractmethod
    async def connect(self) -> None:
        """Check the store answers; raise StoreUnavailable with what to do if not."""

    @abc.abstractmethod
    async def close(self) -> None: ...
