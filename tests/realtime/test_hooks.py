"""RealtimeHooks on their own, over fake transports: sockets opening and closing, sessions changing, recover."""

from __future__ import annotations

import uuid

import orjson
import pytest

from ss.errors import CLOSE_SESSION_CHANGED
from tests.realtime.fakes import connection, embedded_app, opened, settle
from tests.waiting import eventually


@pytest.fixture
async def app(tmp_path):
    async with embedded_app(tmp_path) as app:
        yield app


def unique(name: str) -> str:
    """Names no other test uses: the embedded store's data is shared by every app of the process."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def key(app, *parts: str) -> str:
    return app.store.key(*parts)


async def tabs(app, count: int = 2, **fields):
    """``count`` sessions loaded for one saved session id (one browser's tabs), with ``fields`` set."""
    first = await app.sessions.create()
    for name, value in fields.items():
        setattr(first, name, value)
    await first.save()
    return [first] + [await app.sessions.load(first.id) for _ in range(count - 1)]


async def published(future) -> None:
    if future is not None:
        await future


# ---- sockets opening and closing ----

async def test_an_opened_socket_joins_broadcast_its_channels_and_its_user(app):
    uid, room, lobby = unique("alice"), unique("room"), unique("lobby")
    [session] = await tabs(app, 1, user_id=uid, channels=[room, lobby])
    conn = await opened(app, session)
    assert app.router.topics_of(conn) == [key(app, "broadcast"), key(app, "channel", room), key(app, "channel", lobby),
                                          key(app, "user", uid)]
    assert uid in await app.users.online.now()
    assert await app.presence.channel(room) == [uid]
    assert not app.router.is_held(conn)


async def test_an_anonymous_socket_joins_broadcast_and_its_channels_only(app):
    room = unique("room")
    [session] = await tabs(app, 1, channels=[room])
    conn = await opened(app, session)
    assert app.router.topics_of(conn) == [key(app, "broadcast"), key(app, "channel", room)]
    assert await app.presence.channel(room) == []


async def test_a_closed_socket_leaves_everything_and_its_session_is_saved(app):
    uid, room = unique("alice"), unique("room")
    [session] = await tabs(app, 1, user_id=uid, channels=[room])
    conn = await opened(app, session)
    other = await opened(app, (await tabs(app, 1, channels=[room]))[0])
    session.attributes["note"] = "changed by a disconnect listener"
    await app.sessions.hooks.socket_closed(conn)
    assert app.router.topics_of(conn) == []
    assert app.router.members(key(app, "channel", room)) == {other}
    assert await app.presence.channel(room) == []
    assert (await app.sessions.load(session.id)).attributes == {"note": "changed by a disconnect listener"}


async def test_a_socket_that_closed_while_joining_is_left_in_nothing(app):
    room = unique("room")
    [session] = await tabs(app, 1, user_id=unique("alice"), channels=[room])
    conn = connection(app, session)
    conn.closed = True
    await app.sessions.hooks.socket_opened(conn)
    assert app.router.topics_of(conn) == []
    assert await app.presence.channel(room) == []


async def test_a_reconnecting_socket_is_held_until_it_recovers(app):
    conn = await opened(app, recovering=True)
    assert app.router.is_held(conn)
    await app.sessions.hooks.recover(conn, {})
    assert not app.router.is_held(conn)


async def test_no_hold_without_history(tmp_path):
    async with embedded_app(tmp_path, {"pubsub": {"history": {"enabled": False}}}) as app:
        conn = await opened(app, recovering=True)
        assert not app.router.is_held(conn)


# ---- session changes reach every connection of the session ----

async def test_user_changed_reaches_every_tab_of_the_session_and_no_other(app):
    uid, room = unique("alice"), unique("room")
    first, second = await tabs(app, 2, channels=[room])
    a, b = await opened(app, first), await opened(app, second)
    stranger = await opened(app, (await tabs(app, 1, channels=[room]))[0])
    user_topic = key(app, "user", uid)

    first.user_id = uid                                        # signed in through tab a
    await app.sessions.hooks.user_changed(first, None)
    assert second.user_id == uid                               # tab b's session object follows
    assert app.router.members(user_topic) == {a, b}
    assert stranger.session.user_id is None and user_topic not in app.router.topics_of(stranger)
    assert uid in await app.users.online.now()
    assert await app.presence.channel(room) == [uid]

    first.user_id = None                                       # signed out through tab a
    await app.sessions.hooks.user_changed(first, uid)
    assert second.user_id is None
    assert app.router.members(user_topic) == set()
    assert uid not in await app.users.online.now()
    assert await app.presence.channel(room) == []


async def test_user_changed_reaches_the_callers_own_connection_before_it_is_registered(app):
    uid = unique("alice")
    [session] = await tabs(app, 1)
    conn = connection(app, session, register=False)
    session.user_id = uid
    await app.sessions.hooks.user_changed(session, None)
    assert app.router.members(key(app, "user", uid)) == {conn}


async def test_channels_changed_reaches_every_tab_of_the_session(app):
    uid, room, lobby = unique("alice"), unique("room"), unique("lobby")
    first, second = await tabs(app, 2, user_id=uid, channels=[lobby])
    a, b = await opened(app, first), await opened(app, second)
    stranger = await opened(app, (await tabs(app, 1))[0])

    first.channels.append(room)                                # subscribed through tab a
    await app.sessions.hooks.channels_changed(first, [room], [])
    assert second.channels == [lobby, room]
    assert app.router.members(key(app, "channel", room)) == {a, b}
    assert key(app, "channel", room) not in app.router.topics_of(stranger)
    assert await app.presence.channel(room) == [uid]

    first.channels.remove(lobby)                               # unsubscribed through tab a
    await app.sessions.hooks.channels_changed(first, [], [lobby])
    assert second.channels == [room]
    assert app.router.members(key(app, "channel", lobby)) == set()
    assert await app.presence.channel(lobby) == []


async def test_a_publish_to_a_channel_reaches_the_tabs_that_joined_it(app):
    room = unique("room")
    first, second = await tabs(app, 2)
    a, b = await opened(app, first), await opened(app, second)
    first.channels.append(room)
    await app.sessions.hooks.channels_changed(first, [room], [])
    await published(app.publish.channel(room, "news", "hello"))
    await settle(app)
    for conn in (a, b):
        assert [e["data"] for e in conn.transport.events("news")] == ["hello"]


# ---- a sign-in that rotates the session id ----

async def test_session_rotated_moves_only_the_caller_and_closes_the_other_tabs_with_4001(app):
    room, uid = unique("room"), unique("alice")
    first, second = await tabs(app, 2, channels=[room])
    caller, other_tab = await opened(app, first), await opened(app, second)
    stranger = await opened(app, (await tabs(app, 1))[0])
    old_id = first.id

    await first.set_user_id(uid)                               # rotates the id (session.rotate_on_login)
    await first.flush()
    assert first.id != old_id
    assert app.connections.of_session(first.id) == [caller]
    assert app.connections.of_session(old_id) == []
    assert other_tab not in app.connections
    assert other_tab.transport.closed_with == (CLOSE_SESSION_CHANGED, "session changed")
    await eventually(lambda: app.router.topics_of(other_tab) == [], what="the closed tab to leave its topics")
    assert caller.transport.closed_with is None and stranger.transport.closed_with is None
    assert stranger in app.connections

    await settle(app)
    tokens = [m for m in caller.transport.messages() if m.get("type") == "session"]
    assert len(tokens) == 1 and tokens[0]["token"]              # the caller is told its new cookie
    assert not [m for m in other_tab.transport.messages() if m.get("type") == "session"]
    assert app.router.members(key(app, "channel", room)) == {caller}
    assert app.router.members(key(app, "user", uid)) == {caller}


async def test_session_rotated_without_a_connection_closes_the_old_ids_connections(app):
    [session, other] = await tabs(app, 2)
    planted = await opened(app, other)                          # e.g. an attacker who planted the id
    old_id = session.id
    session.id = unique("new")
    await app.sessions.hooks.session_rotated(session, old_id)   # an HTTP API sign-in: no caller connection
    assert planted.transport.closed_with == (CLOSE_SESSION_CHANGED, "session changed")
    assert planted not in app.connections


# ---- recover ----

async def test_recover_replays_what_was_missed_then_releases_without_duplicates(app):
    room = unique("room")
    watcher = await opened(app, (await tabs(app, 1, channels=[room]))[0])
    await published(app.publish.channel(room, "news", 1))
    await settle(app)
    [seen] = watcher.transport.events("news")

    back = await opened(app, (await tabs(app, 1, channels=[room]))[0], recovering=True)
    await published(app.publish.channel(room, "news", 2))       # live while held: kept aside
    await published(app.publish.channel(room, "news", 3))
    await settle(app)
    assert back.transport.frames == []

    await app.sessions.hooks.recover(back, {f"channel:{room}": seen["offset"]})
    await published(app.publish.channel(room, "news", 4))
    await settle(app)
    got = back.transport.events("news")
    assert [e["data"] for e in got] == [2, 3, 4]               # each once, in offset order
    assert [e["offset"] for e in got] == [seen["offset"] + 1, seen["offset"] + 2, seen["offset"] + 3]
    assert not [m for m in back.transport.messages() if m["type"] == "recovery_failed"]


async def test_recover_answers_per_stream(app):
    room, other = unique("room"), unique("other")
    watcher = await opened(app, (await tabs(app, 1, channels=[room]))[0])
    await published(app.publish.channel(room, "news", 1))
    await published(app.publish.channel(room, "news", 2))
    await published(app.publish.broadcast("hello", 0))
    await settle(app)
    first, _ = watcher.transport.events("news")

    back = await opened(app, (await tabs(app, 1, channels=[room]))[0], recovering=True)
    stranger = f"user:{unique('bob')}"
    await app.sessions.hooks.recover(back, {
        f"channel:{room}": first["offset"],                     # recoverable: replayed
        f"channel:{other}": 5,                                  # not one of its streams
        "broadcast": 10 ** 30,                                  # an offset never given out
        stranger: 5,                                            # not one of its streams either
    })
    await settle(app)
    messages = back.transport.messages()
    assert [m["data"] for m in messages if m.get("type") == "event"] == [2]
    [failed] = [m for m in messages if m["type"] == "recovery_failed"]
    assert failed["streams"] == {f"channel:{other}": "not_subscribed", "broadcast": "unknown_offset",
                                 stranger: "not_subscribed"}
    assert not app.router.is_held(back)


async def test_recover_reports_streams_that_are_not_kept(tmp_path):
    async with embedded_app(tmp_path, {"pubsub": {"history": {"broadcast": False}}}) as app:
        back = await opened(app, recovering=True)
        await app.sessions.hooks.recover(back, {"broadcast": 1})
        await settle(app)
        [failed] = [m for m in back.transport.messages() if m["type"] == "recovery_failed"]
        assert failed["streams"] == {"broadcast": "not_recoverable"}
        assert not app.router.is_held(back)


async def test_recover_is_answered_once_per_connection(app):
    room = unique("room")
    watcher = await opened(app, (await tabs(app, 1, channels=[room]))[0])
    await published(app.publish.channel(room, "news", 1))
    await published(app.publish.channel(room, "news", 2))
    await settle(app)
    first, _ = watcher.transport.events("news")

    back = await opened(app, (await tabs(app, 1, channels=[room]))[0], recovering=True)
    streams = {f"channel:{room}": first["offset"]}
    await app.sessions.hooks.recover(back, streams)
    await app.sessions.hooks.recover(back, streams)             # not a way to re-read history
    await settle(app)
    assert [e["data"] for e in back.transport.events("news")] == [2]


def test_fake_transport_decodes_what_it_was_given():
    from ss.protocol.frames import text_frame
    from tests.realtime.fakes import FakeTransport

    transport = FakeTransport()
    big = orjson.dumps({"type": "event", "event": "x", "data": "y" * 70000})
    assert transport.write_frames([text_frame(b'{"type":"event","event":"x"}'), text_frame(big)])
    assert [m["event"] for m in transport.events()] == ["x", "x"]
