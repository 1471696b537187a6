"""Sessions against both stores: create, load, save, expiry, bad ids."""


import asyncio

import pytest

from ss.app import App
from ss.sessions.session import valid_session_id
from tests.waiting import eventually


@pytest.fixture
async def app(tmp_path, store_overrides):
    (tmp_path / "config").mkdir()
    app = App.load(tmp_path, "test", store_overrides)
    await app.start()
    yield app
    await app.close()


async def test_create_load_roundtrip(app):
    session = await app.sessions.create()
    assert valid_session_id(session.id)
    session.attributes["cart"] = [1, 2]
    session.user_id = "u7"
    await session.save()
    loaded = await app.sessions.load(session.id)
    assert loaded.attributes == {"cart": [1, 2]} and loaded.user_id == "u7"
    assert loaded.created_at == session.created_at
    assert await app.store.redis.ttl(app.store.key("session", session.id)) > 0


async def test_unknown_and_malformed_ids_load_nothing(app):
    assert await app.sessions.load(None) is None
    assert await app.sessions.load("x" * 32) is None
    assert await app.sessions.load("../../etc/passwd") is None
    assert await app.sessions.load("a" * 500) is None


async def test_corrupt_stored_session_is_treated_as_gone(app):
    session = await app.sessions.create()
    await app.store.redis.set(app.store.key("session", session.id), b"{not json")
    assert await app.sessions.load(session.id) is None


async def test_expiry(tmp_path, store_overrides):
    (tmp_path / "config").mkdir(exist_ok=True)
    app = App.load(tmp_path, "test", {**store_overrides, "session": {"ttl": 2}})
    await app.start()
    try:
        session = await app.sessions.create()
        key = app.store.key("session", session.id)
        assert 0 < await app.store.redis.pttl(key) <= 2000          # saved with session.ttl
        assert await app.sessions.load(session.id) is not None     # (a load pushes the expiry back)
        # Wait until the store drops the key (a load would refresh it; EXISTS does not) rather
        # than sleep a fixed time past the ttl: a ttl that is not applied still fails here.
        async def expired() -> bool:
            return not await app.store.redis.exists(key)

        await eventually(expired, timeout=30, what="the session to expire")
        assert await app.sessions.load(session.id) is None
    finally:
        await app.close()


async def test_flush_saves_only_changes(app):
    session = await app.sessions.create()
    key = app.store.key("session", session.id)
    await app.store.redis.delete(key)
    await session.flush()                       # nothing changed: nothing written
    assert await app.store.redis.get(key) is None
    session.attributes["a"] = 1
    await session.flush()
    assert await app.store.redis.get(key) is not None


async def test_channels_are_kept_in_the_session(app):
    session = await app.sessions.create()
    session.channel.subscribe(["disney", "kids"])
    session.channel.subscribe("disney")
    session.channel.unsubscribe("kids")
    await session.flush()
    assert (await app.sessions.load(session.id)).channel.list() == ["disney"]
    with pytest.raises(TypeError):
        session.channel.subscribe(5)


async def test_disconnect_listeners_run_once(app):
    session = app.sessions.new()
    seen = []
    session.on("disconnect", lambda s: seen.append(s.id))
    await session.emit("disconnect")
    await session.emit("disconnect")
    assert seen == [session.id]


async def test_a_session_handle_names_it_without_giving_away_the_id(app):
    session = await app.sessions.create()
    handle = session.handle
    assert len(handle) == 12 and int(handle, 16) >= 0
    assert handle not in session.id and session.id[:6] not in handle
    assert (await app.sessions.load(session.id)).handle == handle          # stable for the session
    assert (await app.sessions.create()).handle != handle


async def test_a_reconnect_storm_loads_and_creates_sessions_in_a_few_store_round_trips(app, monkeypatch):
    # Thousands of handshakes within a second each want a session: they must all get one (the
    # embedded store's pool holds 100 connections; one command per handshake ran out of them and
    # refused the rest with store_unavailable), and the store sees one pipeline per loop turn.
    known = [await app.sessions.create() for _ in range(300)]
    for session in known:
        session.attributes["n"] = session.id
        await session.save()
    pipelines = []
    real_run_pipeline = app.store.run_pipeline
    monkeypatch.setattr(app.store, "run_pipeline", lambda fill: pipelines.append(1) or real_run_pipeline(fill))
    loaded = await asyncio.gather(*[app.sessions.for_request(s.id) for s in known],
                                  *[app.sessions.for_request(None) for _ in range(300)])
    assert 1 <= len(pipelines) <= 4
    assert [s.attributes["n"] for s in loaded[:300]] == [s.id for s in known]   # each its own session
    fresh = loaded[300:]
    assert len({s.id for s in fresh}) == 300 and not {s.id for s in fresh} & {s.id for s in known}
    assert [(await app.sessions.load(s.id)).id for s in fresh] == [s.id for s in fresh]   # saved
