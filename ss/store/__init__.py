"""Stores: where sessions, users online and pub/sub live. ``open_store(config)`` picks one."""

from __future__ import annotations

from .base import STORE_ERRORS, OutageLog, PubSubBus, Store, StoreUnavailable
from .embedded import EmbeddedStore

__all__ = ["Store", "PubSubBus", "StoreUnavailable", "STORE_ERRORS", "OutageLog", "EmbeddedStore", "open_store", "redis_url"]


def redis_url(redis_config) -> str:
    """The URL for config.redis: its ``url`` if set, else built from host/port/db_index/password."""
    if redis_config.url:
        return redis_config.url
    auth = f":{redis_config.password}@" if redis_config.password else ""
    return f"redis://{auth}{redis_config.host}:{redis_config.port}/{redis_config.db_index}"


def open_store(config) -> Store:
    """The store config asks for: Redis when ``redis.enabled`` (or $SS_REDIS_URL), else embedded."""
    prefix = config.redis.key_prefix
    sentinel = config.redis.get("sentinel") or {}
    if config.redis.enabled and sentinel.get("master"):
        from .sentinel import SentinelStore

        return SentinelStore(str(sentinel["master"]), list(sentinel.get("addresses") or []), prefix,
                             db=int(config.redis.db_index), password=config.redis.password,
                             sentinel_password=sentinel.get("password"))
    if config.redis.enabled:
        from .redis_store import RedisStore

        return RedisStore(redis_url(config.redis), prefix)
    return EmbeddedStore(prefix)
