"""A redis.asyncio client that times its round trips and counts its failures (ss/metrics.py).

Each command (and each pipeline, as one round trip labelled ``PIPELINE`` or
``MULTI``) is observed in ``ss_store_command_duration_seconds{command}``; a
failure also counts in ``ss_store_errors_total{kind}`` (connection, timeout,
response). The command label is the command's name as the code wrote it, so it
is bounded by the code, never by user input. With metrics off, this costs one
flag test per command.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, TimeoutError as RedisTimeoutError

from .. import metrics

__all__ = ["InstrumentedRedis", "error_kind"]

_NAMES: dict = {}  # raw command name -> label, made once per name


def _label(name) -> str:
    label = _NAMES.get(name)
    if label is None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        label = text.split(" ", 1)[0].upper()[:32]
        if len(_NAMES) < 512:
            _NAMES[name] = label
    return label


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, (RedisTimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (RedisConnectionError, ConnectionError, OSError)):
        return "connection"
    return "response" if isinstance(exc, RedisError) else "other"


class InstrumentedPipeline(Pipeline):
    async def execute(self, raise_on_error: bool = True):
        if not metrics.enabled():
            return await super().execute(raise_on_error)
        started = time.perf_counter()
        try:
            return await super().execute(raise_on_error)
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):
                metrics.store_error(error_kind(exc))
            raise
        finally:
            metrics.store_command("MULTI" if self.is_transaction else "PIPELINE", time.perf_counter() - started)


class InstrumentedRedis(aioredis.Redis):
    async def execute_command(self, *args, **options):
        if not metrics.enabled():
            return await super().execute_command(*args, **options)
        started = time.perf_counter()
        try:
            return await super().execute_command(*args, **options)
        except (RedisError, OSError) as exc:
            metrics.store_error(error_kind(exc))
            raise
        finally:
            metrics.store_command(_label(args[0]) if args else "?", time.perf_counter() - started)

    def pipeline(self, transaction: bool = True, shard_hint=None) -> Pipeline:
        return InstrumentedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
