"""One connection, everyone but the sender, and kicking a user: publish.socket, exclude=, users.disconnect.

Both stores (the Redis one runs the history script, which must keep the
exclusion off the stored message), through real sockets.
"""

import asyncio

import pytest

from ss.realtime.publish import PublishError
from pubsub_helpers import no_event

EXTRA = '''
import ss

class Actions(ss.Actions):
    def me(self):
        return self.connection.id

    async def to_socket(self, connection_id, event, data):
        await ss.publish.socket(connection_id, event, data)

    async def to_room_but_me(self, name, event, data):
        await ss.publish.channel(name, event, data, exclude=self.connection)

    async def to_all_but(self, ids, event, data):
        await ss.publish.broadcast(event, data, exclude=ids)

    async def to_user_but_me(self, uid, event, data):
        await ss.publish.user(uid, event, data, exclude=self.connection.id)

    async def to_users_but_me(self, uids, event, data):
        await ss.publish.users(uids, event, data, exclude=[self.connection])

    async def kick(self, uid, reason):
        await ss.users.disconnect(uid, reason=reason)

    def bad(self, kind):
        calls = {
            "socket_id": lambda: ss.publish.socket(5, "x", 1),
            "socket_event": lambda: ss.publish.socket("a.1", "", 1),
            "exclude_type": lambda: ss.publish.broadcast("x", 1, exclude=5),
            "exclude_item": lambda: ss.publish.channel("r", "x", 1, exclude=["a.1", {}]),
            "exclude_space": lambda: ss.publish.broadcast("x", 1, exclude="a b"),
            "disconnect_user": lambda: ss.users.disconnect(None),
            "disconnect_reason": lambda: ss.users.disconnect("u", reason=7),
        }
        try:
            calls[kind]()
        except ValueError as exc:
            return str(exc)
        return None
'''


@pytest.fixture
def targeting_root(pubsub_root):
    (pubsub_root / "app" / "server" / "targets.py").write_text(EXTRA)
    return pubsub_root


async def no_event_named(client, name, timeout: float = 0.3) -> None:
    """Nothing called ``name`` arrives within ``timeout`` (presence events may)."""
    try:
        while True:
            message = await client.next_event(timeout=timeout)
            assert message["event"] != name, f"unexpected event {message!r}"
    except asyncio.TimeoutError:
        return


async def login(client, uid):
    await client.call("app.login", uid)
    assert (await client.next_message())["type"] == "session"


async def test_publish_socket_reaches_that_connection_only(start_app, targeting_root):
    async with start_app(root=targeting_root) as app:
        async with app.client() as a, app.client(cookie=None) as b:
            a2 = await app.client(cookie=a.cookie).connect()   # another tab of a's browser: not it
            target = await a.call("targets.me")
            assert target == a.connection_id
            await b.call("targets.to_socket", target, "direct", {"n": 1})
            message = await a.next_event("direct")
            assert message["data"] == {"n": 1} and "stream" not in message   # not kept for recovery
            await no_event(a2)
            await no_event(b)
            # an id no instance has: nothing happens, nothing fails
            await b.call("targets.to_socket", target.rsplit(".", 1)[0] + ".fffff", "direct", 2)
            await b.call("targets.to_socket", "nosuchinstance.1", "direct", 3)
            await no_event(a)
            await a2.close()


async def test_exclude_skips_the_sender_on_every_kind_of_publish(start_app, targeting_root):
    async with start_app(root=targeting_root) as app:
        async with app.client() as sender, app.client() as other, app.client() as third:
            for client in (sender, other, third):
                await client.call("app.subscribe", "room1")
            await sender.call("targets.to_room_but_me", "room1", "said", "hi")
            for client in (other, third):
                message = await client.next_event("said")
                assert message["data"] == "hi" and message["channel"] == "room1"
                assert message["stream"] == "channel:room1" and isinstance(message["offset"], int)
            await no_event(sender)

            await sender.call("targets.to_all_but", [sender.connection_id, other.connection_id], "all", 1)
            assert (await third.next_event("all"))["data"] == 1
            await no_event(sender)
            await no_event(other)

            # a string id alone works too, and a connection of another user is unaffected
            await login(sender, "u1")
            tab2 = await app.client(cookie=sender.cookie).connect()
            await sender.call("targets.to_user_but_me", "u1", "mine", 2)
            assert (await tab2.next_event("mine"))["data"] == 2
            await sender.call("targets.to_users_but_me", ["u1"], "mine", 3)
            assert (await tab2.next_event("mine"))["data"] == 3
            await no_event_named(sender, "mine")
            await tab2.close()


async def test_an_excluded_message_is_still_kept_whole_for_recovery(start_app, targeting_root):
    async with start_app(root=targeting_root) as app:
        async with app.client() as sender, app.client() as other:
            for client in (sender, other):
                await client.call("app.subscribe", "room1")
            await sender.call("targets.to_room_but_me", "room1", "said", "first")
            first = await other.next_event("said")
            history = await app.app.publish.history.read("channel:room1", first["offset"] - 1)
            assert history.failed is None
            assert [p.startswith(b'{"type":"event"') for p in history.payloads] == [True]


async def test_users_disconnect_closes_every_tab_of_that_user_with_a_reason(start_app, targeting_root):
    async with start_app(root=targeting_root) as app:
        async with app.client() as ann, app.client() as bob:
            await login(ann, "ann")
            ann2 = await app.client(cookie=ann.cookie).connect()
            await login(bob, "bob")
            await bob.call("targets.kick", "ann", "banned for spam")
            for tab in (ann, ann2):
                code, reason = await asyncio.wait_for(tab.closed, 5)
                assert (code, reason) == (4002, "banned for spam")
            assert await bob.call("app.whoami") == "bob"   # the others stay
            # the kicked browser may come back on its own say-so (SS.reconnect()): a new socket opens
            again = await app.client(cookie=ann.cookie).connect()
            assert await again.call("app.whoami") == "ann"
            await again.close()


async def test_bad_arguments_are_refused_with_a_clear_message(start_app, targeting_root):
    async with start_app(root=targeting_root) as app:
        async with app.client() as a:
            assert "connection id" in await a.call("targets.bad", "socket_id")
            assert "event must be" in await a.call("targets.bad", "socket_event")
            for kind in ("exclude_type", "exclude_item", "exclude_space"):
                assert "exclude" in await a.call("targets.bad", kind)
            assert "user id" in await a.call("targets.bad", "disconnect_user")
            assert "reason" in await a.call("targets.bad", "disconnect_reason")


def test_publish_error_is_a_value_error():
    assert issubclass(PublishError, ValueError)
