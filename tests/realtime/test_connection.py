"""The connection core over a real socket: call contexts, sign-in, refused handshakes, what init says."""

import asyncio

import pytest
import tornado.httpclient
import tornado.websocket

from ss.testing import running_app

ACTIONS = """
import asyncio, contextvars, ss

CURRENT = contextvars.ContextVar("current", default=None)

class Actions(ss.Actions):
    def set_var(self, value):
        CURRENT.set(value)
        return value

    def get_var(self):
        return CURRENT.get()

    async def set_var_slowly(self, value):
        CURRENT.set(value)
        await asyncio.sleep(0.01)
        return CURRENT.get()

    def unsendable(self):
        return object()

    async def unsendable_later(self):
        await asyncio.sleep(0)
        return {1, object()}

    def remember(self, value):
        self.session.attributes["remembered"] = value   # a change: the session is saved before the reply
        return value

    def recall(self):
        return self.session.attributes.get("remembered")

    def future_result(self, value):
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, value)
        return future

    async def login(self, uid):
        await self.session.set_user_id(uid)
        return self.session.connection is not None

    def whoami(self):
        return self.session.user_id

    def secret(self):
        return self.session.id

    def connection_id(self):
        return self.connection.id

    def store_down(self):
        import redis.exceptions
        raise redis.exceptions.ConnectionError("Redis is down (simulated)")
"""


@pytest.fixture
async def server(make_app, store_overrides):
    root = make_app({"app/server/app.py": ACTIONS})
    async with running_app(root, "development", store_overrides) as running:
        yield running


async def test_a_context_variable_set_by_one_call_is_not_seen_by_the_next(server):
    # Calls started inline used to run their first step in the socket reader's context.
    async with server.client() as client:
        assert await client.call("app.set_var", "from the first call") == "from the first call"
        assert await client.call("app.get_var") is None
        assert await client.call("app.set_var_slowly", "slow") == "slow"   # its own value, after waiting
        assert await client.call("app.get_var") is None
        # Under load (calls queued behind each other) the answer is the same.
        results = await asyncio.gather(*(client.call("app.set_var", i) for i in range(5)),
                                       *(client.call("app.get_var") for _ in range(5)))
        assert results == [0, 1, 2, 3, 4, None, None, None, None, None]


async def test_a_result_json_cannot_carry_is_an_error_reply_and_the_socket_carries_on(server):
    async with server.client() as client:
        for method in ("app.unsendable", "app.unsendable_later"):   # answered at once, and after waiting
            with pytest.raises(Exception) as failed:
                await client.call(method)
            assert getattr(failed.value, "code", None) == "action_failed"
            assert "cannot be sent as JSON" in str(failed.value)
        assert await client.call("app.recall") is None
        (connection,) = server.app.connections
        assert (connection.pending, connection.pending_bytes) == (0, 0)


async def test_a_plain_action_that_changes_the_session_saves_it_before_its_reply(server):
    # Plain `def` actions are answered without a coroutine unless something is left to do: a changed
    # session is one, saved before the reply goes out.
    async with server.client() as client:
        assert await client.call("app.remember", "kept") == "kept"
        assert (await server.app.sessions.load(client.session_id)).attributes["remembered"] == "kept"
        assert await client.call("app.recall") == "kept"


async def test_a_plain_action_may_return_a_future(server):
    async with server.client() as client:
        assert await client.call("app.future_result", 7) == 7


async def test_sign_in_moves_only_the_connection_that_signed_in(server):
    # Session fixation: an attacker who planted cookie X keeps a socket open with it; the
    # victim (same cookie X) signs in. The attacker's socket must not become the victim.
    async with server.client() as victim:
        planted = victim.cookie
        attacker = await server.client(cookie=planted).connect()
        try:
            assert await attacker.call("app.whoami") is None
            assert await victim.call("app.login", "victim") is True
            code, reason = await asyncio.wait_for(attacker.closed, 5)
            assert (code, reason) == (4001, "session changed")
            assert await victim.call("app.whoami") == "victim"
            assert victim.session_id != planted.split("=", 1)[1]
            # Reconnecting with the planted cookie gives a fresh, anonymous session.
            async with server.client(cookie=planted) as again:
                assert await again.call("app.whoami") is None
                assert await again.call("app.secret") != victim.session_id
        finally:
            await attacker.close()


async def test_init_carries_a_connection_id_and_never_the_session_id(server):
    async with server.client() as client, server.client() as other:
        assert "session_id" not in client.init
        assert client.session_id not in str(client.init)
        assert client.connection_id == await client.call("app.connection_id")
        assert client.connection_id != other.connection_id


async def _store_keys(app, pattern):
    return [key async for key in app.store.redis.scan_iter(match=app.store.key(pattern))]


@pytest.mark.parametrize("headers,status", [
    ({}, 400),                                                   # a plain GET, no upgrade
    ({"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "https://evil.example"}, 403),
])
async def test_a_refused_handshake_creates_no_session_and_sets_no_cookie(server, headers, status):
    before = await _store_keys(server.app, "session:*")
    for _ in range(5):
        response = await server.fetch("/_ss/socket", headers=headers)
        assert response.code == status
        assert "Set-Cookie" not in response.headers
    assert await _store_keys(server.app, "session:*") == before


async def test_a_new_session_lives_briefly_until_it_is_used_again(server):
    app = server.app
    response = await server.fetch("/")  # (no pipeline in this app: the page fails, and sets no cookie)
    assert "Set-Cookie" not in response.headers
    session = await app.sessions.create()
    key = app.store.key("session", session.id)
    assert 0 < await app.store.redis.ttl(key) <= app.config.session.new_ttl
    await app.sessions.load(session.id)
    assert await app.store.redis.ttl(key) > app.config.session.new_ttl


async def test_every_door_answers_a_store_outage_with_503_store_unavailable(server, monkeypatch):
    import orjson
    import redis.exceptions

    async with server.client() as client:
        cookie = client.cookie
        # An action that needs the store: store_unavailable over the socket and 503 over the HTTP API.
        with pytest.raises(Exception) as failed:
            await client.call("app.store_down")
        assert getattr(failed.value, "code", None) == "store_unavailable"
        api = await server.fetch("/api/app/store_down.json", headers={"Cookie": cookie})
        assert api.code == 503 and orjson.loads(api.body)["error"]["code"] == "store_unavailable"

        async def down(*args, **kwargs):
            raise redis.exceptions.ConnectionError("Redis is down (simulated)")

        monkeypatch.setattr(server.app.sessions, "load", down)
        api = await server.fetch("/api/app/whoami.json", headers={"Cookie": cookie})
        assert api.code == 503 and orjson.loads(api.body)["error"]["code"] == "store_unavailable"
        page = await server.fetch("/", headers={"Cookie": cookie})
        assert page.code == 503 and "Set-Cookie" not in page.headers
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await server.client(cookie=cookie).connect()
        assert "503" in str(info.value)


async def test_calls_pending_on_a_connection_are_bounded_in_bytes(make_app):
    # 256 pending calls of 1 MiB each used to pin 256 MiB per socket; now the bytes are bounded too.
    root = make_app({"app/server/app.py": """
import asyncio, ss
class Actions(ss.Actions):
    async def hold(self, seconds, padding):
        await asyncio.sleep(seconds)
        return len(padding)
"""})
    async with running_app(root, "test", {"limits": {"max_pending_bytes": 5000}}) as app:
        async with app.client() as client:
            calls = [asyncio.ensure_future(client.call("app.hold", 0.3, "x" * 2000)) for _ in range(3)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert results[:2] == [2000, 2000]
            assert getattr(results[2], "code", None) == "too_many_calls" and "bytes" in str(results[2])
            assert await client.call("app.hold", 0, "y" * 3000) == 3000   # room again once they replied
