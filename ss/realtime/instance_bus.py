"""Each instance's own bus topic: messages for one connection, and requests between instances.

Every instance subscribes to ``ss:instance:<name>``, where ``<name>`` is the
first part of the ids of its connections (``<name>.<counter>``, see
ss/realtime/registry.py). So anything addressed to a connection id reaches
the one instance that holds it, with one PUBLISH and no lookup:

- ``ss.publish.socket(connection_id, ...)`` puts a *direct* envelope there
  (ss/protocol/bus.py), delivered to that connection if it is still open;
- features that ask another instance to do something (e.g. run a call in a
  tab it holds and answer) send an instruction (``{"op": ...}``) with
  :meth:`InstanceBus.send` and register its handler with :meth:`InstanceBus.on`.

Sends go through the app's publish queue, so they keep their order with the
publishes made before them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import orjson

from ..protocol import bus

__all__ = ["InstanceBus"]

log = logging.getLogger("ss.pubsub")

Handler = Callable[[dict], Awaitable[None]]


class InstanceBus:
    """This instance's topic on the store's bus (``app.instance_bus``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.instance: str = app.connections.instance
        self.topic = self.topic_of(self.instance)
        self._handlers: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task] = set()
        self._started = False

    def topic_of(self, instance: str) -> str:
        return self.app.store.key("instance", instance)

    @staticmethod
    def instance_of(connection_id: str) -> str:
        """The instance that holds (or held) the connection with this id."""
        return bus.instance_of(connection_id)

    def is_local(self, connection_id: str) -> bool:
        return bus.instance_of(connection_id) == self.instance

    def on(self, op: str, handler: Handler) -> None:
        """Run ``await handler(message)`` for each instruction ``{"op": op, ...}`` sent to this instance."""
        self._handlers[op] = handler

    def send(self, instance: str, op: str, **fields: Any) -> Any:
        """Send ``{"op": op, **fields}`` to ``instance`` (JSON fields); returns the publish's awaitable."""
        return self.app.publish.send_raw(self.topic_of(instance), bus.control(op, **fields))

    async def start(self) -> None:
        await self.app.store.bus.subscribe(self.topic, self._deliver)
        self._started = True

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self.app.store.bus.unsubscribe(self.topic, self._deliver)
        for task in list(self._tasks):
            task.cancel()

    def _deliver(self, topic: str, payload: bytes) -> None:
        kind, ids, message = bus.split(payload)
        if kind == bus.DIRECT:
            connection = self.app.connections.get(ids[0])
            if connection is not None:
                self.app.router.send_to(connection, topic, message)
            return
        if kind != bus.CONTROL:
            log.warning("ignoring a message on %s that is neither for a connection nor an instruction", topic)
            return
        try:
            instruction = orjson.loads(message)
            handler = self._handlers[instruction["op"]]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring an instruction this instance does not know: %.200r", message)
            return
        task = asyncio.ensure_future(handler(instruction))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an instruction from another instance failed", exc_info=task.exception())
