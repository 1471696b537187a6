"""Issue: pub/sub history was bounded by count, not bytes (1200 messages of 256 KiB to one
channel kept 255 MiB). Both backends cap bytes per stream and in total, and a stream cut
by either cap still answers "trimmed" to a client recovering past the cut."""

from __future__ import annotations

import uuid

import pytest

from ss.realtime.recovery import LocalHistory, Outgoing, history_for
from ss.settings import load_config
from ss.store.embedded import EmbeddedStore
from ss.store.redis_store import RedisStore

BIG = 256 * 1024


def event(size: int, tag: int = 0) -> bytes:
    return b'{"type":"event","event":"e","data":"%d%s"}' % (tag, b"x" * size)


@pytest.fixture(params=["embedded", "redis"])
async def make_history(request):
    stores = []

    async def make(history: dict | None = None):
        overrides = {"pubsub": {"history": history}} if history else None
        config = load_config(None, "production", overrides)
        if request.param == "embedded":
            store = EmbeddedStore()
        else:
            store = RedisStore(request.getfixturevalue("redis_url"), key_prefix=f"caps-{uuid.uuid4().hex[:8]}:")
        await store.connect()
        stores.append(store)
        return history_for(store, config), store

    yield make
    for store in stores:
        if store.shared:
            keys = [k async for k in store.redis.scan_iter(store.key_prefix + "*")]
            if keys:
                await store.redis.delete(*keys)
        await store.close()


async def kept_bytes(history, store) -> int:
    """Bytes of message payloads the history holds, all streams together."""
    if isinstance(history, LocalHistory):
        return sum(len(p) for state in history._streams.values() for _, p in state.entries)
    total = 0
    async for key in store.redis.scan_iter(store.key("history", "*")):
        if (await store.redis.type(key)) in (b"zset", "zset"):
            total += sum(len(m) for m in await store.redis.zrange(key, 0, -1))
    return total


async def publish(history, stream: str, count: int, size: int) -> None:
    for start in range(0, count, 20):
        await history.send([Outgoing("ss:topic", event(size, i), stream) for i in range(start, min(count, start + 20))])


async def top_offset(history, stream: str) -> int:
    return (await history.read(stream, 0)).last_offset or (await history.read(stream, 10**18)).last_offset


async def test_pubsub_history_is_bounded_by_count_not_bytes(make_history):
    history, store = await make_history()
    await publish(history, "channel:flood", 200, BIG)  # 50 MiB published
    kept = await kept_bytes(history, store)
    assert 0 < kept <= 8 << 20, f"{kept / (1 << 20):.1f} MiB kept for one stream"
    # the newest messages are still there, in order; a client from before the cut is told so
    first = (await history.read("channel:flood", 0))
    assert first.failed == "trimmed"
    newest = await history.read("channel:flood", 10**18)
    assert newest.failed == "unknown_offset"


async def test_trimmed_by_bytes_recovers_the_newest_and_reports_the_cut(make_history):
    history, store = await make_history({"max_bytes": 10 * 1024})
    await publish(history, "user:7", 1, 10)
    start = (await history.read("user:7", 0)).payloads or None
    assert start is None  # offset 0 is before the stream: nothing to give
    base = await _offset_of_first(history, store, "user:7")
    await publish(history, "user:7", 20, 1000)  # 20 KB into a 10 KB stream
    recent = await history.read("user:7", base + 15)
    assert recent.failed is None and len(recent.payloads) == 5
    assert [p.rsplit(b'"offset":', 1)[1] for p in recent.payloads] == [b"%d}" % (base + i) for i in range(16, 21)]
    cut = await history.read("user:7", base)
    assert cut.failed == "trimmed"


async def test_message_bigger_than_the_stream_cap_reports_trimmed_not_expired(make_history):
    history, store = await make_history({"max_bytes": 4096})
    await publish(history, "channel:c", 1, 10)
    base = await _offset_of_first(history, store, "channel:c")
    await publish(history, "channel:c", 1, 8192)  # alone over the cap: not kept
    assert (await history.read("channel:c", base)).failed == "trimmed"
    assert (await history.read("channel:c", base + 1)).failed is None  # nothing missed


async def test_total_cap_across_streams(make_history):
    history, store = await make_history({"max_bytes": 1 << 20, "max_total_bytes": 2 << 20})
    offsets = {}
    for n in range(8):  # 8 streams of 512 KiB each: 4 MiB into a 2 MiB total
        stream = f"channel:room{n}"
        await publish(history, stream, 1, 10)
        offsets[stream] = await _offset_of_first(history, store, stream)
        await publish(history, stream, 4, 128 * 1024)
    kept = await kept_bytes(history, store)
    assert kept <= 2 << 20, kept
    assert (await history.read("channel:room0", offsets["channel:room0"])).failed == "trimmed"  # oldest went first
    newest = await history.read("channel:room7", offsets["channel:room7"])
    assert newest.failed is None and len(newest.payloads) == 4


async def _offset_of_first(history, store, stream: str) -> int:
    """The offset of the stream's only message so far."""
    if isinstance(history, LocalHistory):
        return history._streams[stream].top
    return int(await store.redis.get(store.key("offset", stream)))
