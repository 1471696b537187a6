"""Users online and channel presence, with short intervals, on both stores."""

import asyncio
import time

from pubsub_helpers import eventually, no_event


async def test_users_online_login_heartbeat_purge_logout(start_app):
    # window 3 s, purge every 0.2 s (see FAST in conftest)
    async with start_app() as app:
        online = app.app.users.online
        async with app.client() as alive, app.client() as quiet, app.client() as leaver:
            await alive.call("app.login", 1)
            await quiet.call("app.login", "two")
            await leaver.call("app.login", 3)
            assert sorted(map(str, await alive.call("app.online"))) == ["1", "3", "two"]
            assert set(map(str, await online.now())) == {"1", "3", "two"}
            await leaver.call("app.logout")
            assert 3 not in await online.now()  # logout: gone at once

            async def beat():
                while True:
                    await alive.send({"type": "heartbeat"})
                    await asyncio.sleep(0.25)

            # only `alive` sends heartbeats; `quiet` drops out after the window. `alive` was seen
            # last at its login, before `quiet`'s: without its heartbeats it would be gone first.
            beating = asyncio.create_task(beat())
            try:
                await eventually(lambda: _is(online.now(), [1]), timeout=30)
                # the purge deletes "two" from the sorted set, not just hides it
                await eventually(lambda: _is(app.app.store.redis.zrange(online.key, 0, -1), [b"1"]), timeout=30)
            finally:
                beating.cancel()


async def test_users_online_can_be_turned_off(start_app):
    async with start_app({"users": {"online": {"enabled": False}}}) as app:
        async with app.client() as client:
            await client.call("app.login", 5)
            assert await client.call("app.online") == []


async def test_users_online_accepts_a_callback(start_app):
    async with start_app() as app:
        async with app.client() as client:
            await client.call("app.login", "cb")
            got = []
            assert await app.app.users.online.now(got.append) == ["cb"]
            assert got == [["cb"]]


async def test_presence_lists_users_and_sends_join_leave_events(start_app):
    async with start_app() as app:
        async with app.client() as watcher, app.client() as ann1, app.client() as bob:
            await watcher.call("app.subscribe", "room")  # anonymous: listens, is not listed
            await ann1.call("app.login", "ann")
            await ann1.call("app.subscribe", "room")
            joined = await watcher.next_event("presence:join")
            assert joined["data"] == {"channel": "room", "user_id": "ann"} and joined["channel"] == "room"
            ann2 = await app.client(cookie=f"ss_session={await _session_of(ann1)}").connect()  # second tab
            assert await ann2.call("app.whoami") == "ann"
            await no_event(watcher)  # ann was already there: no second join
            await bob.call("app.login", 9)
            await bob.call("app.subscribe", ["room", "other"])
            assert (await watcher.next_event("presence:join"))["data"]["user_id"] == 9
            assert sorted(map(str, await watcher.call("app.presence", "room"))) == ["9", "ann"]
            assert await watcher.call("app.presence", "other") == [9]
            await ann1.close()
            await no_event(watcher)  # ann's other tab is still in the room
            assert sorted(map(str, await watcher.call("app.presence", "room"))) == ["9", "ann"]
            await ann2.close()
            left = await watcher.next_event("presence:leave")
            assert left["data"] == {"channel": "room", "user_id": "ann"}
            assert await watcher.call("app.presence", "room") == [9]
            await bob.call("app.unsubscribe", "room")
            assert (await watcher.next_event("presence:leave"))["data"]["user_id"] == 9
            assert await watcher.call("app.presence", "room") == []
            assert await watcher.call("app.presence", "other") == [9]
            await bob.call("app.logout")
            assert await watcher.call("app.presence", "other") == []


async def _session_of(client):
    message = await client.next_message()
    assert message["type"] == "session"
    return client.session_id


async def test_presence_entries_of_a_silent_instance_expire(start_app):
    """Entries nobody refreshes (their instance died) stop counting after presence.timeout."""
    async with start_app() as app:
        presence = app.app.presence
        async with app.client() as client:
            await client.call("app.login", "live")
            await client.call("app.subscribe", "room")
            # an entry written by an instance that then died
            key = app.app.store.key("presence", "room")
            await app.app.store.redis.zadd(key, {'"ghost"|dead.1': time.time() + 2})
            assert sorted(await presence.channel("room")) == ["ghost", "live"]
            await eventually(lambda: _is(presence.channel("room"), ["live"]), timeout=30)
            # the refresh of the live instance swept it out, and told the room
            left = await client.next_event("presence:leave", timeout=30)
            assert left["data"]["user_id"] == "ghost"
            assert await app.app.store.redis.zscore(key, '"ghost"|dead.1') is None


async def _is(awaitable, expected):
    return await awaitable == expected
