"""Presence with metadata (connection.track / update / untrack, ss.presence.list, the presence messages), both stores."""

import asyncio
import time

import orjson
import pytest

from ss.realtime.presence import PresenceError
from ss.testing import CallFailed
from pubsub_helpers import eventually

SERVER = '''
import asyncio
import ss

class Actions(ss.Actions):
    async def login(self, uid):
        await self.session.set_user_id(uid)
        return True

    def logout(self, cb):
        self.session.user.logout(cb)

    def subscribe(self, name):
        self.session.channel.subscribe(name)
        return True

    def unsubscribe(self, name):
        self.session.channel.unsubscribe(name)
        return True

    async def track(self, name, meta):
        await self.connection.track(name, meta)
        return self.connection.id

    async def update(self, name, meta):
        await self.connection.update(name, meta)
        return True

    async def untrack(self, name):
        await self.connection.untrack(name)
        return True

    async def close_then_track(self, name, meta):
        self.connection.close(1000, "bye")
        await asyncio.sleep(0.2)                 # its close hooks ran meanwhile
        await self.connection.track(name, meta)

    async def list(self, name):
        return {repr(uid): metas for uid, metas in (await ss.presence.list(name)).items()}

    async def who(self, name):
        return await ss.presence.channel(name)
'''


@pytest.fixture
def presence_root(make_app):
    return make_app({"app/server/app.py": SERVER})


@pytest.fixture
def start(start_app, presence_root):
    return lambda overrides=None: start_app(overrides, root=presence_root)


async def member(app, uid, channel="room", meta=None):
    """A client signed in as ``uid``, subscribed to ``channel`` and tracking ``meta`` there (None: not tracking)."""
    client = await app.client().connect()
    await client.call("app.login", uid)
    assert (await client.next_message())["type"] == "session"
    await client.call("app.subscribe", channel)
    if meta is not None:
        client.cid = await client.call("app.track", channel, meta)
    return client


async def next_of(client, kind, timeout=5):
    """The next message of type ``kind`` (others skipped)."""
    while True:
        message = await client.next_message(timeout=timeout)
        if message["type"] == kind:
            return message


async def state_of(client, channel="room"):
    await client.send({"type": "presence", "channel": channel})
    return await next_of(client, "presence_state")


async def test_track_lists_metas_per_user_with_connection_ids(start):
    async with start() as app:
        ann1 = await member(app, "ann", meta={"status": "idle"})
        ann2 = await member(app, "ann", meta={"status": "typing"})
        bob = await member(app, 7, meta={"name": "Bob"})
        try:
            listed = await ann1.call("app.list", "room")
            assert sorted(listed) == ["'ann'", "7"]        # user ids as stored: 7 stays a number
            assert sorted(listed["'ann'"], key=lambda m: m["status"]) == [
                {"status": "idle", "connection_id": ann1.cid}, {"status": "typing", "connection_id": ann2.cid}]
            assert listed["7"] == [{"name": "Bob", "connection_id": bob.cid}]
            assert sorted(map(str, await ann1.call("app.who", "room"))) == ["7", "ann"]  # the old API still works
            state = await state_of(bob)
            assert set(state["state"]) == {"ann", "7"}    # JSON keys on the wire: strings
            assert state["channel"] == "room" and isinstance(state["version"], int)
            assert {m["connection_id"] for m in state["state"]["ann"]} == {ann1.cid, ann2.cid}
        finally:
            for client in (ann1, ann2, bob):
                await client.close()


async def test_join_update_untrack_and_close_reach_members_as_diffs(start):
    async with start() as app:
        watcher = await member(app, "watcher")           # subscribed, not tracking
        ann = await member(app, "ann", meta={"status": "idle"})
        joined = await next_of(watcher, "presence_diff")
        assert joined["channel"] == "room" and joined["leaves"] == {}
        assert joined["joins"] == {"ann": [{"status": "idle", "connection_id": ann.cid}]}

        await ann.call("app.update", "room", {"status": "typing"})
        updated = await next_of(watcher, "presence_diff")
        assert updated["leaves"] == {"ann": [{"status": "idle", "connection_id": ann.cid}]}
        assert updated["joins"] == {"ann": [{"status": "typing", "connection_id": ann.cid}]}
        assert updated["version"] > joined["version"]

        await ann.call("app.untrack", "room")
        left = await next_of(watcher, "presence_diff")
        assert left["joins"] == {} and left["leaves"] == {"ann": [{"status": "typing", "connection_id": ann.cid}]}
        assert await watcher.call("app.list", "room") == {}

        await ann.call("app.track", "room", {"status": "back"})
        await next_of(watcher, "presence_diff")
        await ann.close()                                # a closing connection leaves at once
        gone = await next_of(watcher, "presence_diff")
        assert gone["leaves"] == {"ann": [{"status": "back", "connection_id": ann.cid}]}
        assert await watcher.call("app.list", "room") == {}
        store = app.app.store
        assert await store.redis.ttl(store.key("tracked_meta", "room")) > 0   # its version lasts a while, not for ever
        await watcher.close()


async def test_unsubscribe_and_sign_out_untrack(start):
    async with start() as app:
        watcher = await member(app, "watcher")
        ann = await member(app, "ann", meta={"n": 1})
        await next_of(watcher, "presence_diff")
        await ann.call("app.unsubscribe", "room")
        assert (await next_of(watcher, "presence_diff"))["leaves"] == {"ann": [{"n": 1, "connection_id": ann.cid}]}
        await ann.call("app.subscribe", "room")
        await ann.call("app.track", "room", {"n": 2})
        await next_of(watcher, "presence_diff")
        await ann.call("app.logout")
        assert (await next_of(watcher, "presence_diff"))["leaves"] == {"ann": [{"n": 2, "connection_id": ann.cid}]}
        assert await watcher.call("app.list", "room") == {}
        for client in (watcher, ann):
            await client.close()


async def test_tracking_needs_a_signed_in_subscribed_connection_and_a_small_object(start):
    async with start() as app:
        async with app.client() as anonymous:
            await anonymous.call("app.subscribe", "room")
            with pytest.raises(CallFailed) as failed:
                await anonymous.call("app.track", "room", {"a": 1})
            assert "sign in" in failed.value.error["message"]
        ann = await member(app, "ann")
        try:
            with pytest.raises(CallFailed) as failed:
                await ann.call("app.track", "elsewhere", {"a": 1})
            assert "subscribe" in failed.value.error["message"]
            with pytest.raises(CallFailed) as failed:
                await ann.call("app.track", "room", ["not", "an", "object"])
            assert "JSON object" in failed.value.error["message"]
            with pytest.raises(CallFailed) as failed:
                await ann.call("app.track", "room", {"big": "x" * 5000})
            assert "4096" in failed.value.error["message"]
            with pytest.raises(CallFailed) as failed:
                await ann.call("app.update", "room", {"a": 1})
            assert "track" in failed.value.error["message"]
            assert await ann.call("app.list", "room") == {}
        finally:
            await ann.close()


async def test_presence_error_is_a_value_error():
    assert issubclass(PresenceError, ValueError)


async def test_state_needs_a_subscription(start):
    async with start() as app:
        ann = await member(app, "ann", meta={"a": 1})
        try:
            refused = await state_of(ann, "elsewhere")
            assert "state" not in refused and refused["error"]["code"] == "not_subscribed"
            assert "subscribe" in refused["error"]["message"]
            await ann.send({"type": "presence", "channel": 5})
            bad = await next_of(ann, "error")
            assert bad["error"]["code"] == "bad_message"
        finally:
            await ann.close()


async def test_state_of_many_members_is_one_message(start):
    async with start() as app:
        clients = [await member(app, f"u{i}", meta={"i": i}) for i in range(30)]
        try:
            watcher = clients[0]
            state = await state_of(watcher)
            assert len(state["state"]) == 30 and state["state"]["u29"] == [{"i": 29, "connection_id": clients[29].cid}]
        finally:
            for client in clients:
                await client.close()


async def test_entries_of_a_dead_instance_are_swept_and_announced(start):
    """Entries nobody refreshes (their instance died) leave after presence.timeout, with a leave diff."""
    async with start() as app:
        watcher = await member(app, "watcher", meta={"me": True})   # this instance tracks in the room: it sweeps it
        await next_of(watcher, "presence_diff")
        store = app.app.store
        ghost = '"ghost"|dead.1'
        meta = {"name": "Ghost", "connection_id": "dead.1"}
        async with store.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(store.key("tracked", "room"), {ghost: time.time() + 2})
            pipe.hset(store.key("tracked_meta", "room"), ghost, orjson.dumps(meta))
            await pipe.execute()
        assert (await watcher.call("app.list", "room"))["'ghost'"] == [meta]
        left = await next_of(watcher, "presence_diff", timeout=30)
        assert left["leaves"] == {"ghost": [meta]} and left["joins"] == {}
        assert "'ghost'" not in await watcher.call("app.list", "room")
        assert await store.redis.hget(store.key("tracked_meta", "room"), ghost) is None
        await watcher.close()


async def test_an_entry_swept_while_its_instance_stalled_comes_back(start):
    """An instance paused longer than presence.timeout finds its entries swept: its next refresh puts them back."""
    async with start() as app:
        watcher = await member(app, "watcher")
        ann = await member(app, "ann", meta={"a": 1})
        await next_of(watcher, "presence_diff")
        store = app.app.store
        await store.redis.zrem(store.key("tracked", "room"), f'"ann"|{ann.cid}')  # as another instance's sweep would
        back = await next_of(watcher, "presence_diff", timeout=10)
        assert back["joins"] == {"ann": [{"a": 1, "connection_id": ann.cid}]}
        await eventually(lambda: _listed(watcher, "'ann'"))
        for client in (watcher, ann):
            await client.close()


async def _listed(client, uid):
    return uid in await client.call("app.list", "room")


async def test_connections_that_never_track_cost_nothing(start):
    async with start() as app:
        async with app.client() as client:
            await client.call("app.login", "x")
            await client.call("app.subscribe", "room")
            assert app.app.presence.tracked_connections() == 0


async def test_an_instance_that_only_serves_states_sweeps_too(start):
    """Watchers on an instance with no tracked connection still see a dead instance's members leave."""
    async with start() as app:
        watcher = await member(app, "watcher")
        store = app.app.store
        ghost = '"ghost"|dead.2'
        meta = {"connection_id": "dead.2"}
        async with store.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(store.key("tracked", "room"), {ghost: time.time() + 1})
            pipe.hset(store.key("tracked_meta", "room"), ghost, orjson.dumps(meta))
            await pipe.execute()
        assert (await state_of(watcher))["state"] == {"ghost": [meta]}
        left = await next_of(watcher, "presence_diff", timeout=30)
        assert left["leaves"] == {"ghost": [meta]}
        await watcher.close()


async def test_a_closing_connection_leaves_every_channel_it_tracks(start):
    async with start() as app:
        watcher = await member(app, "watcher")
        await watcher.call("app.subscribe", "hall")
        ann = await member(app, "ann", meta={"where": "room"})
        await ann.call("app.subscribe", "hall")
        await ann.call("app.track", "hall", {"where": "hall"})
        await next_of(watcher, "presence_diff")
        await next_of(watcher, "presence_diff")
        assert app.app.presence.tracked_connections() == 1
        await ann.close()
        gone = [await next_of(watcher, "presence_diff") for _ in range(2)]
        assert sorted((d["channel"], d["leaves"]["ann"][0]["where"]) for d in gone) == [("hall", "hall"),
                                                                                         ("room", "room")]
        await eventually(lambda: app.app.presence.tracked_connections() == 0)
        await watcher.close()


async def test_tracking_after_the_close_does_nothing(start):
    async with start() as app:
        ann = await member(app, "ann")
        watcher = await member(app, "watcher")
        with pytest.raises(ConnectionError):
            await ann.call("app.close_then_track", "room", {"late": True})
        await asyncio.sleep(0.5)
        assert app.app.presence.tracked_connections() == 0
        assert await watcher.call("app.list", "room") == {}
        await watcher.close()
