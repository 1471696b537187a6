"""LocalRouter on its own: membership, upstream (un)subscription, one frame for all members, hold and release."""

from __future__ import annotations

import orjson
import pytest

from ss.protocol import encode_event
from tests.realtime.fakes import connection, embedded_app, settle
from tests.waiting import eventually


@pytest.fixture
async def app(tmp_path):
    async with embedded_app(tmp_path) as app:
        yield app


@pytest.fixture
def upstream(app, monkeypatch):
    """The bus subscriptions the router makes, recorded as ("subscribe"|"unsubscribe", topic)."""
    calls: list[tuple[str, str]] = []
    bus = app.store.bus
    subscribe, unsubscribe = bus.subscribe, bus.unsubscribe

    async def recording_subscribe(topic, handler):
        calls.append(("subscribe", topic))
        await subscribe(topic, handler)

    async def recording_unsubscribe(topic, handler):
        calls.append(("unsubscribe", topic))
        await unsubscribe(topic, handler)

    monkeypatch.setattr(bus, "subscribe", recording_subscribe)
    monkeypatch.setattr(bus, "unsubscribe", recording_unsubscribe)
    return calls


def topic(app, name: str) -> str:
    return app.store.key("channel", name)


def event(app, name: str, data, stream: str | None = None, offset: int | None = None) -> bytes:
    payload = encode_event(name, data)
    if stream is not None:
        payload = payload[:-1] + b',"stream":%s,"offset":%d}' % (orjson.dumps(stream), offset)
    return payload


async def test_first_member_subscribes_upstream_and_the_last_one_leaving_unsubscribes(app, upstream):
    room = topic(app, "room")
    a, b = connection(app), connection(app)
    await app.router.join(room, a)
    assert upstream == [("subscribe", room)]
    await app.router.join(room, b)
    await app.router.join(room, b)                       # joining twice changes nothing
    assert upstream == [("subscribe", room)]             # one upstream subscription per topic, not per member
    assert app.router.members(room) == {a, b}
    assert app.router.topics_of(b) == [room]

    await app.router.leave(room, a)
    assert upstream == [("subscribe", room)]             # b is still in it
    assert app.router.members(room) == {b}
    assert app.router.topics_of(a) == []
    await app.router.leave(room, b)
    assert upstream == [("subscribe", room), ("unsubscribe", room)]
    assert app.router.members(room) == set()


async def test_leaving_a_topic_one_is_not_in_changes_nothing(app, upstream):
    room = topic(app, "room")
    a, b = connection(app), connection(app)
    await app.router.join(room, a)
    await app.router.leave(room, b)
    await app.router.leave(topic(app, "elsewhere"), a)
    assert upstream == [("subscribe", room)]
    assert app.router.members(room) == {a}
    assert app.router.topics_of(a) == [room]


async def test_members_is_a_copy(app):
    room = topic(app, "room")
    a = connection(app)
    await app.router.join(room, a)
    app.router.members(room).clear()
    assert app.router.members(room) == {a}


async def test_leave_all_drops_every_topic_and_unsubscribes_only_the_emptied_ones(app, upstream):
    rooms = [topic(app, name) for name in ("one", "two", "three")]
    a, b = connection(app), connection(app)
    for room in rooms:
        await app.router.join(room, a)
    await app.router.join(rooms[1], b)
    assert app.router.topics_of(a) == rooms               # in the order joined
    upstream.clear()

    await app.router.leave_all(a)
    assert app.router.topics_of(a) == []
    assert sorted(upstream) == sorted([("unsubscribe", rooms[0]), ("unsubscribe", rooms[2])])
    assert app.router.members(rooms[1]) == {b}
    assert [app.router.members(room) for room in (rooms[0], rooms[2])] == [set(), set()]


async def test_a_failed_upstream_subscribe_leaves_no_membership_behind(app, monkeypatch):
    async def refuse(topic, handler):
        raise ConnectionError("bus down")

    monkeypatch.setattr(app.store.bus, "subscribe", refuse)
    room = topic(app, "room")
    a = connection(app)
    with pytest.raises(ConnectionError):
        await app.router.join(room, a)
    assert app.router.members(room) == set()
    assert app.router.topics_of(a) == []


async def test_a_payload_is_framed_once_and_the_same_frame_goes_to_every_member(app):
    room = topic(app, "room")
    members = [connection(app) for _ in range(3)]
    outsider = connection(app)
    for member in members:
        await app.router.join(room, member)
    await app.router.join(topic(app, "other"), outsider)

    payload = event(app, "news", {"n": 1})
    await app.store.bus.publish(room, payload)
    await settle(app)
    frames = [member.transport.frames for member in members]
    assert all(len(f) == 1 for f in frames)
    assert frames[0][0] is frames[1][0] is frames[2][0]     # one frame object, shared
    assert members[0].transport.payloads() == [payload]
    assert outsider.transport.frames == []                  # not a member of that topic


async def test_closed_members_are_skipped(app):
    room = topic(app, "room")
    a, b = connection(app), connection(app)
    await app.router.join(room, a)
    await app.router.join(room, b)
    b.closed = True
    await app.store.bus.publish(room, event(app, "news", 1))
    await settle(app)
    assert len(a.transport.frames) == 1 and b.transport.frames == []


async def test_a_held_connection_gets_live_messages_only_on_release_while_others_get_them_at_once(app):
    room = topic(app, "room")
    held, live = connection(app), connection(app)
    await app.router.join(room, held)
    await app.router.join(room, live)
    app.router.hold(held, timeout=60)
    assert app.router.is_held(held) and not app.router.is_held(live)

    first, second = event(app, "news", 1), event(app, "news", 2)
    await app.store.bus.publish(room, first)
    await app.store.bus.publish(room, second)
    await settle(app)
    assert live.transport.payloads() == [first, second]
    assert held.transport.frames == []

    app.router.release(held, {})
    await settle(app)
    assert held.transport.payloads() == [first, second]     # in the order they arrived
    assert not app.router.is_held(held)
    third = event(app, "news", 3)
    await app.store.bus.publish(room, third)
    await settle(app)
    assert held.transport.payloads() == [first, second, third]  # live again


async def test_release_skips_what_the_replay_already_sent_per_stream(app):
    room, lobby = topic(app, "room"), topic(app, "lobby")
    a = connection(app)
    await app.router.join(room, a)
    await app.router.join(lobby, a)
    app.router.hold(a, timeout=60)
    sent = [
        (room, event(app, "news", "r5", "channel:room", 5)),
        (lobby, event(app, "news", "l7", "channel:lobby", 7)),
        (room, event(app, "news", "r6", "channel:room", 6)),
        (room, event(app, "news", "r7", "channel:room", 7)),
        (lobby, event(app, "news", "l8", "channel:lobby", 8)),
        (room, event(app, "news", "plain")),                  # no offset: never skipped
    ]
    for name, payload in sent:
        await app.store.bus.publish(name, payload)
    # The replay of channel:room went up to offset 6; channel:lobby was not replayed.
    app.router.release(a, {"channel:room": 6})
    await settle(app)
    assert [m["data"] for m in a.transport.messages()] == ["l7", "r7", "l8", "plain"]


async def test_hold_twice_keeps_the_first_hold(app):
    room = topic(app, "room")
    a = connection(app)
    await app.router.join(room, a)
    app.router.hold(a, timeout=60)
    first = event(app, "news", 1)
    await app.store.bus.publish(room, first)
    app.router.hold(a, timeout=60)                            # does not drop what is held
    app.router.release(a, {})
    await settle(app)
    assert a.transport.payloads() == [first]


async def test_a_hold_ends_by_itself_after_its_timeout(app):
    room = topic(app, "room")
    a = connection(app)
    await app.router.join(room, a)
    app.router.hold(a, timeout=0.05)
    payload = event(app, "news", 1)
    await app.store.bus.publish(room, payload)
    await eventually(lambda: not app.router.is_held(a), what="the hold to time out")
    await settle(app)
    assert a.transport.payloads() == [payload]


async def test_leave_all_drops_what_was_held(app):
    room = topic(app, "room")
    a = connection(app)
    await app.router.join(room, a)
    app.router.hold(a, timeout=60)
    await app.store.bus.publish(room, event(app, "news", 1))
    await app.router.leave_all(a)
    assert not app.router.is_held(a)
    app.router.release(a, {})                                 # nothing left to send
    await settle(app)
    assert a.transport.frames == []
