"""Everything an app holds lives in its App object: two apps in one process share nothing."""

from ss.app import App


async def test_two_apps_in_one_process_share_no_store_flusher_or_registry(make_app):
    first, second = (App.load(make_app({}, name=name), "test", {"redis": {"enabled": False}}) for name in ("a", "b"))
    await first.start()
    await second.start()
    try:
        session = await first.sessions.create()
        assert await first.sessions.load(session.id) is not None
        assert await second.sessions.load(session.id) is None       # embedded stores are per app
        assert first.flusher is not second.flusher
        assert first.connections is not second.connections
        assert first.connections.new_id().split(".")[0] != second.connections.new_id().split(".")[0]
    finally:
        await first.close()
        await second.close()
