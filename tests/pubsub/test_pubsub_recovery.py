"""Message recovery: a client that reconnects gets exactly what it missed, in order, or is told it cannot."""

from ss.testing import Client
from pubsub_helpers import eventually, no_event

QUIET = {"presence": {"events": False}}  # only the messages under test


async def signed_in(app, uid: str, channel: str):
    client = await app.client().connect()
    await client.call("app.login", uid)
    assert (await client.next_message())["type"] == "session"   # the client now holds the new cookie
    await client.call("app.subscribe", channel)
    return client


async def saw_one_and_left(app, sender, uid: str, channel: str):
    """A user in ``channel`` receives event "c" (data 0), then disconnects: (their closed client, that event)."""
    away = await signed_in(app, uid, channel)
    await sender.call("app.to_channel", channel, "c", 0)
    first = await away.next_event("c")
    await away.close()
    return away, first


async def test_reconnect_recovers_missed_messages_in_order(start_app):
    async with start_app(QUIET) as app:
        async with app.client() as sender:
            away = await signed_in(app, "amy", "room")
            # one message per stream teaches the client its offsets
            await sender.call("app.to_user", "amy", "u", 0)
            await sender.call("app.to_channel", "room", "c", 0)
            await sender.call("app.to_all", "b", 0)
            offsets = {}
            for name in ("u", "c", "b"):
                message = await away.next_event(name)
                offsets[message["stream"]] = message["offset"]
            assert set(offsets) == {"user:amy", "channel:room", "broadcast"}
            await away.close()

            for i in range(1, 4):  # published while the client is away
                await sender.call("app.to_user", "amy", "u", i)
                await sender.call("app.to_channel", "room", "c", i)
                await sender.call("app.to_all", "b", i)

            back = await Client(app.socket_url + "?recover=1", away.cookie).connect()
            # a live message published before the client asked to recover is held back, not sent first
            await sender.call("app.to_channel", "room", "c", 4)
            await back.send({"type": "recover", "streams": offsets})
            got: dict[str, list] = {"u": [], "c": [], "b": []}
            for _ in range(10):
                message = await back.next_event()
                got[message["event"]].append((message["data"], message["offset"] - offsets[message["stream"]]))
            assert got["u"] == [(1, 1), (2, 2), (3, 3)]
            assert got["c"] == [(1, 1), (2, 2), (3, 3), (4, 4)]
            assert got["b"] == [(1, 1), (2, 2), (3, 3)]
            await no_event(back)  # no duplicates
            await sender.call("app.to_channel", "room", "c", 5)
            assert (await back.next_event("c"))["data"] == 5
            await back.close()


async def test_nothing_missed_means_nothing_replayed(start_app):
    async with start_app(QUIET) as app:
        async with app.client() as sender:
            away = await signed_in(app, "bo", "quiet")
            await sender.call("app.to_channel", "quiet", "c", 1)
            seen = await away.next_event("c")
            await away.close()
            back = await Client(app.socket_url + "?recover=1", away.cookie).connect()
            await back.send({"type": "recover", "streams": {"channel:quiet": seen["offset"]}})
            await no_event(back)
            await back.close()


async def test_recovery_failed_when_history_was_trimmed_or_not_allowed(start_app):
    async with start_app({**QUIET, "pubsub": {"history": {"size": 3}}}) as app:
        async with app.client() as sender:
            away, first = await saw_one_and_left(app, sender, "cy", "busy")
            for i in range(1, 6):  # more than the 3 kept
                await sender.call("app.to_channel", "busy", "c", i)
            back = await Client(app.socket_url + "?recover=1", away.cookie).connect()
            await back.send({"type": "recover", "streams": {
                "channel:busy": first["offset"],
                "channel:secret": 1,            # never subscribed: not this client's to read
                "user:someone-else": 1,
            }})
            failed = await back.next_message()
            assert failed["type"] == "recovery_failed"
            assert failed["streams"] == {"channel:busy": "trimmed", "channel:secret": "not_subscribed",
                                         "user:someone-else": "not_subscribed"}
            # live messages flow again after the failed recovery
            await sender.call("app.to_channel", "busy", "c", 6)
            assert (await back.next_event("c"))["data"] == 6
            await back.close()


async def test_unknown_stream_counts_as_expired(start_app):
    async with start_app(QUIET) as app:
        away = await signed_in(app, "di", "never-used")
        await away.close()
        back = await Client(app.socket_url + "?recover=1", away.cookie).connect()
        await back.send({"type": "recover", "streams": {"channel:never-used": 12345}})
        failed = await back.next_message()
        assert failed["streams"] == {"channel:never-used": "expired"}
        await back.close()


async def test_history_off_sends_plain_events(start_app):
    async with start_app({**QUIET, "pubsub": {"history": {"enabled": False}}}) as app:
        async with app.client() as client:
            await client.call("app.to_all", "plain", 1)
            message = await client.next_event("plain")
            assert "stream" not in message and "offset" not in message
            await client.send({"type": "recover", "streams": {"broadcast": 1}})
            assert (await client.next_message())["streams"] == {"broadcast": "not_recoverable"}


async def test_broadcast_history_can_be_turned_off(start_app):
    async with start_app({**QUIET, "pubsub": {"history": {"broadcast": False}}}) as app:
        async with app.client() as client:
            await client.call("app.to_all", "plain", 1)
            assert "offset" not in await client.next_event("plain")
            await client.call("app.subscribe", "r")
            await client.call("app.to_channel", "r", "kept", 1)
            assert (await client.next_event("kept"))["stream"] == "channel:r"


async def test_only_the_first_recover_message_replays(start_app):
    async with start_app(QUIET) as app:
        async with app.client() as sender:
            away, first = await saw_one_and_left(app, sender, "ed", "r")
            await sender.call("app.to_channel", "r", "c", 1)
            back = await Client(app.socket_url + "?recover=1", away.cookie).connect()
            await back.send({"type": "recover", "streams": {"channel:r": first["offset"]}})
            assert (await back.next_event("c"))["data"] == 1
            await back.send({"type": "recover", "streams": {"channel:r": first["offset"]}})
            await no_event(back)
            await back.close()


async def test_any_channel_name_works_and_recovers(start_app):
    name = 'Raum "1": ünïcode | pipes\\back'
    async with start_app(QUIET) as app:
        async with app.client() as sender:
            away, first = await saw_one_and_left(app, sender, "fu", name)
            assert first["channel"] == name and first["stream"] == f"channel:{name}"
            await sender.call("app.to_channel", [name], "c", 1)
            back = await Client(app.socket_url + "?recover=1", away.cookie).connect()
            await back.send({"type": "recover", "streams": {first["stream"]: first["offset"]}})
            again = await back.next_event("c")
            assert again["data"] == 1 and again["offset"] == first["offset"] + 1 and again["channel"] == name
            await back.close()


async def test_history_older_than_the_ttl_is_expired(start_app):
    async with start_app({**QUIET, "pubsub": {"history": {"ttl": 1}}}) as app:
        async with app.client() as sender:
            away, first = await saw_one_and_left(app, sender, "gu", "slow")
            await sender.call("app.to_channel", "slow", "c", 1)
            # Wait until the store has dropped the history (Redis expires the key, the embedded
            # store goes by its clock) instead of sleeping a fixed time past the ttl and hoping;
            # a ttl that is not applied (the default keeps 120 s) still fails here.
            history = app.app.publish.history
            await eventually(lambda: _expired(history.read("channel:slow", first["offset"])), timeout=30)
            back = await Client(app.socket_url + "?recover=1", away.cookie).connect()
            await back.send({"type": "recover", "streams": {"channel:slow": first["offset"]}})
            assert (await back.next_message())["streams"] == {"channel:slow": "expired"}
            await back.close()


async def _expired(reading) -> bool:
    return (await reading).failed == "expired"
