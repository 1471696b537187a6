"""ss.publish.* to every target, channel membership and re-subscription, on both stores."""

import asyncio
import uuid

import pytest

from ss.realtime.publish import PublishError
from pubsub_helpers import eventually, no_event


async def login(client, uid):
    """Sign ``client`` in; follow the rotated session id like the browser does."""
    new_id = await client.call("app.login", uid)
    message = await client.next_message()
    assert message["type"] == "session" and "session_id" not in message   # the id is the cookie's secret
    assert client.session_id == new_id                                    # the client fetched the new cookie
    return new_id


async def test_broadcast_reaches_every_socket(start_app):
    async with start_app() as app:
        async with app.client() as a, app.client() as b:
            await a.call("app.to_all", "flash", {"type": "notice", "n": 1})
            for client in (a, b):
                message = await client.next_event("flash")
                assert message["data"] == {"type": "notice", "n": 1}
                assert message["stream"] == "broadcast" and isinstance(message["offset"], int)


async def test_user_reaches_all_and_only_that_users_sockets(start_app):
    async with start_app() as app:
        async with app.client() as a1, app.client() as b, app.client() as anon:
            await login(a1, 7)
            a2 = await app.client(cookie=a1.cookie).connect()  # a second tab of the same session
            await login(b, "bob")
            await b.call("app.to_user", 7, "newMessage", "Wow this is cool!")
            for client in (a1, a2):
                message = await client.next_event("newMessage")
                assert message["data"] == "Wow this is cool!" and message["stream"] == "user:7"
            await no_event(b)
            await no_event(anon)
            await a1.call("app.to_users", [7, "bob"], "many", [1, 2])
            assert (await b.next_event("many"))["data"] == [1, 2]
            assert (await a2.next_event("many"))["stream"] == "user:7"
            await a2.close()


async def test_channels_subscribe_unsubscribe_and_publish(start_app):
    async with start_app() as app:
        async with app.client() as kid, app.client() as fan, app.client() as other:
            assert await kid.call("app.subscribe", ["disney", "kids"]) == ["disney", "kids"]
            assert await fan.call("app.subscribe", "disney") == ["disney"]
            assert await fan.call("app.subscribe", "disney") == ["disney"]  # no duplicates
            await other.call("app.to_channel", ["disney", "kids"], "newMessage",
                             {"from": "mickymouse", "message": "Has anyone seen Tom?"})
            got = [await kid.next_event("newMessage"), await kid.next_event("newMessage")]
            assert sorted(m["channel"] for m in got) == ["disney", "kids"]
            assert (await fan.next_event("newMessage"))["channel"] == "disney"
            await no_event(fan)
            await no_event(other)
            assert await kid.call("app.unsubscribe", "disney") == ["kids"]
            await other.call("app.to_channel", "disney", "later", 1)
            assert (await fan.next_event("later"))["stream"] == "channel:disney"
            await no_event(kid)
            assert await kid.call("app.channels") == ["kids"]


async def test_channel_membership_survives_reconnect(start_app):
    async with start_app() as app:
        first = await app.client().connect()
        await first.call("app.subscribe", ["room1", "room2"])
        cookie = first.cookie
        await first.close()
        async with app.client(cookie=cookie) as again, app.client() as sender:
            assert again.session_id == first.session_id
            assert await again.call("app.channels") == ["room1", "room2"]
            await sender.call("app.to_channel", "room2", "hello", "again")
            assert (await again.next_event("hello"))["data"] == "again"


async def test_resubscribed_on_another_instance(pubsub_root, redis_url, tmp_path):
    """Two servers on one Redis: a session that moves from A to B is in its channels on B."""
    from ss.testing import running_app

    overrides = {"redis": {"enabled": True, "url": redis_url, "key_prefix": f"t-{uuid.uuid4().hex[:8]}:"}}
    async with running_app(pubsub_root, "test", overrides) as a, running_app(pubsub_root, "test", overrides) as b:
        on_a = await a.client().connect()
        await on_a.call("app.subscribe", "room1")
        await on_a.close()
        async with b.client(cookie=on_a.cookie) as on_b, a.client() as sender:
            assert on_b.session_id == on_a.session_id
            await sender.call("app.to_channel", "room1", "moved", True)
            assert (await on_b.next_event("moved"))["channel"] == "room1"


async def test_fire_and_forget_publishes_keep_their_order(start_app):
    async with start_app() as app:
        async with app.client() as client:
            await client.call("app.burst", 50)
            seen = [(await client.next_event("seq"))["data"] for _ in range(50)]
            assert seen == list(range(50))


async def test_publish_from_a_worker_thread(start_app):
    async with start_app() as app:
        async with app.client() as client:
            assert await client.call("app.from_thread", "threaded") is True
            assert (await client.next_event("threaded"))["data"] == "thread"


async def test_argument_errors_say_what_is_wrong(start_app):
    async with start_app() as app:
        async with app.client() as client:
            assert "event must be a non-empty string" in await client.call("app.bad", "event")
            assert "data must be given" in await client.call("app.bad", "data")
            assert "user id must be" in await client.call("app.bad", "user")
            assert "user_ids must be a list" in await client.call("app.bad", "users")
            assert "channel must be" in await client.call("app.bad", "channel")
            assert "non-empty strings" in await client.call("app.bad", "channels")
        with pytest.raises(PublishError):
            app.app.publish.broadcast("x")


async def test_disconnect_listener_runs_once(start_app):
    async with start_app() as app:
        async with app.client() as watcher:
            leaving = await app.client().connect()
            await login(leaving, "u1")
            await leaving.call("app.watch_disconnect", "bye")
            await leaving.close()
            message = await watcher.next_event("gone")
            assert message["data"] == {"tag": "bye", "user": "u1"}
            await no_event(watcher, 0.5)


async def test_logout_in_a_disconnect_listener_is_saved(start_app):
    async with start_app() as app:
        client = await app.client().connect()
        await login(client, "u2")
        await client.call("app.logout_on_disconnect")
        await client.close()
        session_id = client.cookie.split("=", 1)[1]
        await eventually(lambda: _signed_out(app, session_id))


async def _signed_out(app, session_id):
    session = await app.app.sessions.load(session_id)
    return session is not None and session.user_id is None


def test_publish_from_server_code_and_before_start(pubsub_root, store_overrides):
    """Start-up code publishes before the event loop runs; server code publishes outside actions."""
    from ss.app import App
    from ss.serving import Server
    from ss.testing import RunningApp

    app = App.load(pubsub_root, "test", store_overrides)
    assert app.publish.broadcast("early", 1) is None  # no loop yet: queued until the app starts

    async def main():
        import ss

        early = asyncio.get_running_loop().create_future()
        await app.store.bus.subscribe(app.store.key("broadcast"), lambda topic, payload: early.set_result(payload))
        server = Server(app, port=0, host="127.0.0.1")
        await server.start(with_assets=False)
        try:
            assert b'"event":"early"' in await asyncio.wait_for(early, 5)
            async with RunningApp(app, server).client() as client:
                await ss.publish.broadcast("late", 2)
                assert (await client.next_event("late"))["data"] == 2
        finally:
            await server.stop()

    asyncio.run(main())
