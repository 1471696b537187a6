"""Running actions: return values, async, cb style, arguments, errors, auth, sessions."""

import asyncio

import pytest

from ss.app import App
from ss.rpc import CallError

ACTIONS = """
import asyncio, ss

class Actions(ss.Actions):
    def square(self, number):
        return number * number

    async def slow(self, seconds, value):
        await asyncio.sleep(seconds)
        return value

    def legacy(self, number, cb):
        cb(number * number)

    async def legacy_async(self, cb):
        await asyncio.sleep(0)
        cb("late")

    def many(self, *numbers):
        return sum(numbers)

    def optional(self, a, b=10):
        return a + b

    def boom(self):
        raise KeyError("missing thing")

    def whoami(self):
        return {"session": self.session.id, "transport": getattr(self.request, "transport", None)}

    def remember(self, value):
        self.session.attributes["value"] = value
        return True

    def recall(self):
        return self.session.attributes.get("value")

    @ss.in_thread
    def blocking(self):
        import threading, time
        time.sleep(0.05)
        return threading.current_thread() is not threading.main_thread()

    class admin:
        def ban(self, user_id):
            return f"banned {user_id}"
"""

SECRET = "import ss\nauthenticate = True\nclass Actions(ss.Actions):\n    def data(self):\n        return 'secret'\n"


@pytest.fixture
async def app(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS, "app/server/secret.py": SECRET})
    app = App.load(root, "development", store_overrides)
    await app.start()
    yield app
    await app.close()


async def call(app, method, *args, session=None):
    return await app.dispatcher.call(method, list(args), session)


async def test_return_async_cb_and_nested(app):
    assert await call(app, "app.square", 25) == 625
    assert await call(app, "app.slow", 0.01, "done") == "done"
    assert await call(app, "app.legacy", 5) == 25
    assert await call(app, "app.legacy_async") == "late"
    assert await call(app, "app.many", 1, 2, 3, 4) == 10
    assert await call(app, "app.optional", 1) == 11 and await call(app, "app.optional", 1, 2) == 3
    assert await call(app, "app.admin.ban", 7) == "banned 7"


async def test_in_thread_runs_off_the_loop(app):
    assert await call(app, "app.blocking") is True


async def test_server_side_proxy(app):
    assert await app.server.app.square(12) == 144
    assert "square" in dir(app.server.app)


@pytest.mark.parametrize("method, args, code, message", [
    ("app.nope", [], "unknown_action", "no server action 'app.nope'"),
    ("nope.square", [], "unknown_action", "no server action 'nope.square'"),
    ("app.__class__", [], "private_action", "'app.__class__' is private"),
    ("app._private", [], "private_action", "'app._private' is private"),
    ("app.square", [], "bad_arguments", "app.square takes 1 argument (number) but 0 were given"),
    ("app.square", [1, 2], "bad_arguments", "app.square takes 1 argument (number) but 2 were given"),
    ("app.optional", [], "bad_arguments", "app.optional takes 1 to 2 arguments (a, b) but 0 were given"),
    ("app.legacy", [1, 2], "bad_arguments", "app.legacy takes 1 argument (number) but 2 were given"),
    ("app.admin", [], "unknown_action", "no server action 'app.admin'"),
])
async def test_bad_calls(app, method, args, code, message):
    with pytest.raises(CallError) as info:
        await call(app, method, *args)
    assert info.value.code == code and info.value.message.startswith(message)


async def test_exception_in_development_carries_traceback(app):
    with pytest.raises(CallError) as info:
        await call(app, "app.boom")
    assert info.value.code == "action_failed"
    assert "KeyError" in info.value.message and "raise KeyError" in info.value.traceback


async def test_exception_in_production_is_generic_and_logged(make_app, caplog):
    app = App.load(make_app({"app/server/app.py": ACTIONS}), "production", {"redis": {"enabled": False}})
    await app.start()
    try:
        with pytest.raises(CallError) as info:
            await call(app, "app.boom")
        assert info.value.message == "app.boom failed on the server; the error is in the server log"
        assert info.value.traceback is None
        assert "missing thing" not in info.value.message
        assert any("app.boom failed" in r.getMessage() and r.exc_info for r in caplog.records)
    finally:
        await app.close()


async def test_authenticate_module_needs_a_user(app):
    session = app.sessions.new()
    with pytest.raises(CallError) as info:
        await call(app, "secret.data", session=session)
    assert info.value.code == "unauthorized"
    session.user_id = "u1"
    assert await call(app, "secret.data", session=session) == "secret"


async def test_session_changes_are_saved_after_the_call(app):
    session = await app.sessions.create()
    assert await call(app, "app.remember", {"x": [1, 2]}, session=session) is True
    again = await app.sessions.load(session.id)
    assert again.attributes == {"value": {"x": [1, 2]}}
    assert await call(app, "app.recall", session=again) == {"x": [1, 2]}


async def test_slow_calls_do_not_block_each_other(app):
    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(*(call(app, "app.slow", 0.2, i) for i in range(20)))
    assert results == list(range(20))
    assert asyncio.get_running_loop().time() - started < 1.5  # run together, not one after another
