"""Pub/sub over Redis: one connection per instance, topics subscribed on demand.

The subscriber speaks RESP on a plain asyncio stream and parses with
hiredis, many messages per read: redis-py's PubSub costs about 100 µs of
Python per message received (a timeout context, a health check and a retry
wrapper each time), which capped an instance near 10k messages/s. Commands
that are not pub/sub still go through redis-py.

``subscribe`` returns once Redis has confirmed the subscription, so a message
published after a socket joined a topic reaches it. The reader survives Redis
restarts: it logs the outage once, retries with capped exponential backoff,
subscribes every topic again when Redis is back, and PINGs an idle
connection so a dead one is noticed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.exceptions import RedisError

from .. import metrics
from ..periodic import cancel_and_wait
from .base import Handler, OutageLog, PubSubBus

log = logging.getLogger("ss.pubsub")

CONFIRM_TIMEOUT = 3.0   # seconds subscribe() waits for Redis before going on (the topic stays wanted)
IDLE_PING = 30.0        # seconds of silence before the reader PINGs; no answer within as long = reconnect


def command(*parts: bytes | str) -> bytes:
    """One RESP command (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisBus(PubSubBus):
    def __init__(self, redis, max_backoff: float = 5.0, locate=None):
        self._redis = redis
        self._locate = locate  # async () -> (host, port) of the master, asked at each connect (Sentinel)
        self._handlers: dict[str, list[Handler]] = {}
        self._names: dict[bytes, str] = {}                  # raw topic -> str, decoded once
        self._confirmations: dict[str, asyncio.Future] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._up = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._max_backoff = max_backoff
        self._outage = OutageLog()
        self.connected = True

    async def subscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._handlers.setdefault(topic, [])
        if handler in handlers:
            return
        handlers.append(handler)
        if len(handlers) > 1:
            return
        self._names[topic.encode()] = topic
        if self._up.is_set():
            self._send_subscribe([topic])
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ss-redis-bus")
        try:
            await asyncio.wait_for(self._confirmed(topic), CONFIRM_TIMEOUT)
        except asyncio.TimeoutError:
            pass  # Redis is down: the topic stays wanted and is subscribed when Redis is back

    async def _confirmed(self, topic: str) -> None:
        await self._up.wait()
        future = self._confirmations.get(topic)
        if future is not None:
            await asyncio.shield(future)

    async def unsubscribe(self, topic: str, handler: Handler) -> None:
        handlers = self._handlers.get(topic)
        if not handlers or handler not in handlers:
            return
        handlers.remove(handler)
        if handlers:
            return
        del self._handlers[topic]
        self._names.pop(topic.encode(), None)
        self._confirmations.pop(topic, None)
        if self._up.is_set() and self._writer is not None:
            self._writer.write(command(b"UNSUBSCRIBE", topic))

    async def publish(self, topic: str, payload: bytes) -> None:
        await self._redis.publish(topic, payload)

    def _send_subscribe(self, topics: list[str]) -> None:
        loop = asyncio.get_running_loop()
        for topic in topics:
            if topic not in self._confirmations or self._confirmations[topic].done():
                self._confirmations[topic] = loop.create_future()
        assert self._writer is not None
        self._writer.write(command(b"SUBSCRIBE", *topics))

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect and authenticate the way the redis-py client of this store does."""
        pool = self._redis.connection_pool
        kwargs = pool.connection_kwargs
        timeout = kwargs.get("socket_connect_timeout") or 5
        if issubclass(pool.connection_class, UnixDomainSocketConnection):
            opening = asyncio.open_unix_connection(kwargs["path"])
        else:
            context = None
            if issubclass(pool.connection_class, SSLConnection):
                context = ssl_module.create_default_context(cafile=kwargs.get("ssl_ca_certs"))
                if kwargs.get("ssl_cert_reqs") in ("none", ssl_module.CERT_NONE):
                    context.check_hostname = False
                    context.verify_mode = ssl_module.CERT_NONE
                if kwargs.get("ssl_certfile"):
                    context.load_cert_chain(kwargs["ssl_certfile"], kwargs.get("ssl_keyfile"))
            host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
            if self._locate is not None:
                host, port = await asyncio.wait_for(self._locate(), timeout)
            opening = asyncio.open_connection(host, port, ssl=context)
        reader, writer = await asyncio.wait_for(opening, timeout)
        password = kwargs.get("password")
        if password:
            username = kwargs.get("username")
            writer.write(command(b"AUTH", *([username] if username else []), password))
            reply = hiredis.Reader()
            while (answer := reply.gets()) is False:
                data = await asyncio.wait_for(reader.read(1024), timeout)
                if not data:
                    raise ConnectionError("Redis closed the connection during AUTH")
                reply.feed(data)
            if isinstance(answer, hiredis.ReplyError):
                writer.close()
                raise ConnectionError(f"Redis refused the pub/sub login: {answer}")
        return reader, writer

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            writer = None
            try:
                reader, writer = await self._open()
                self._writer = writer
                # No await between these lines: a topic added meanwhile is either in this
                # SUBSCRIBE or sent by subscribe() itself once _up is set.
                if self._handlers:
                    self._send_subscribe(list(self._handlers))
                self._up.set()
                if not self.connected:
                    log.warning("Redis pub/sub connection is back; %d topics subscribed again", len(self._handlers))
                    metrics.store_reconnect("pubsub")
                    self.connected = True
                backoff = 0.1
                await self._read(reader, writer)
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionError, asyncio.TimeoutError, hiredis.ProtocolError, RedisError) as exc:
                self._up.clear()
                self._writer = None
                if writer is not None:
                    writer.close()
                if self.connected:
                    self._outage.report("Redis pub/sub", exc)
                    log.error("Redis pub/sub connection lost (%s: %s); retrying with backoff up to %.0fs",
                              type(exc).__name__, exc, self._max_backoff)
                    self.connected = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader()
        pinged = False
        while True:
            try:
                # asyncio.timeout, not wait_for: no task per read, and on Python 3.11 wait_for
                # returned the data instead of a cancellation that came in the same turn (the
                # reader then read on, and one cancel never stopped it).
                async with asyncio.timeout(IDLE_PING):
                    data = await reader.read(1 << 16)
            except TimeoutError:
                if pinged:
                    raise ConnectionError(f"Redis did not answer a PING within {IDLE_PING:.0f}s") from None
                writer.write(command(b"PING"))
                pinged = True
                continue
            if not data:
                raise ConnectionError("Redis closed the pub/sub connection")
            pinged = False
            parser.feed(data)
            while (reply := parser.gets()) is not False:
                if type(reply) is list and len(reply) == 3:
                    kind = reply[0]
                    if kind == b"message":
                        topic = self._names.get(reply[1])
                        if topic is not None:
                            await self._deliver(topic, reply[2])
                    elif kind == b"subscribe":
                        future = self._confirmations.get(reply[1].decode())
                        if future is not None and not future.done():
                            future.set_result(None)
                elif isinstance(reply, hiredis.ReplyError):
                    log.error("Redis refused a pub/sub command: %s", reply)

    async def _deliver(self, topic: str, payload: bytes) -> None:
        for handler in list(self._handlers.get(topic, ())):
            try:
                result = handler(topic, payload)
                if result is not None and asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("handler for %s failed", topic)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)  # the reader's wait_for can swallow one cancel (3.11)
            self._task = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._up.clear()
        self._handlers.clear()
