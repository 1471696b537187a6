"""Basic Auth: failed sign-ins are throttled per address; credentials never travel over plain HTTP."""

import asyncio
import base64
import uuid

import orjson
import tornado.httpclient

from ss.testing import running_app

FILES = {
    "app/server/secret.py": """
        import ss

        authenticate = True

        class Actions(ss.Actions):
            def data(self):
                return {"user": self.session.user_id}
    """,
    "app/server/app.py": "import ss\n\nclass Actions(ss.Actions):\n    def ping(self):\n        return 'pong'\n",
    "lib/server/web_tests_basic_auth.py": """
        def authenticate(params):
            if params == {"username": "joe", "password": "secret"}:
                return {"success": True, "user_id": 21}
            return {"success": False}
    """,
}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def start(make_app, store, **overrides):
    # The embedded store is one per process: a prefix per test keeps each test's failure counts its own.
    store = {"redis": {"key_prefix": f"t{uuid.uuid4().hex[:8]}:", **store["redis"]}}
    config = {**store, "api": {"auth": {"basic": {"module_name": "web_tests_basic_auth", **overrides.pop("basic", {})}}},
              **overrides}
    return running_app(make_app(FILES), "production", config)


async def test_basic_auth_failures_are_throttled_per_address(make_app, store_overrides):
    async with start(make_app, store_overrides) as app:
        assert app.app.config.limiter.enabled is False  # throttled whether or not the limiter is on
        codes = [(await app.fetch("/api/secret/data.json", headers=basic("joe", f"guess{i}"))).code
                 for i in range(10)]
        assert codes == [401] * 10
        throttled = await app.fetch("/api/secret/data.json", headers=basic("joe", "guess10"))
        assert throttled.code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert throttled.headers["Content-Type"] == "application/json"
        error = orjson.loads(throttled.body)["error"]
        assert error["code"] == "rate_limited" and "failed sign-ins" in error["message"]
        # Even the right password waits: otherwise guessing would go on, just reading 429 as "wrong".
        assert (await app.fetch("/api/secret/data.json", headers=basic("joe", "secret"))).code == 429
        # Actions that need no sign-in still answer.
        assert (await app.fetch("/api/app/ping.json")).code == 200


async def test_basic_auth_throttle_window_is_configurable_and_ends(make_app):
    store = {"redis": {"enabled": False}}
    async with start(make_app, store, basic={"max_failures": 2, "failure_window": 1}) as app:
        for _ in range(2):
            assert (await app.fetch("/api/secret/data.json", headers=basic("joe", "x"))).code == 401
        assert (await app.fetch("/api/secret/data.json", headers=basic("joe", "x"))).code == 429
        await asyncio.sleep(1.2)
        ok = await app.fetch("/api/secret/data.json", headers=basic("joe", "secret"))
        assert ok.code == 200 and orjson.loads(ok.body) == {"user": 21}


async def test_successful_basic_auth_is_not_counted(make_app):
    store = {"redis": {"enabled": False}}
    async with start(make_app, store, basic={"max_failures": 2}) as app:
        for _ in range(5):
            assert (await app.fetch("/api/secret/data.json", headers=basic("joe", "secret"))).code == 200


async def test_basic_auth_credentials_refused_over_plain_http_when_https_is_on(make_app):
    store = {"redis": {"enabled": False}}
    async with start(make_app, store, https={"enabled": True, "port": 0}) as app:
        client = tornado.httpclient.AsyncHTTPClient()
        plain = f"http://127.0.0.1:{app.server.redirect_port}/api/secret/data.json"
        refused = await client.fetch(plain, headers=basic("joe", "secret"), raise_error=False,
                                     follow_redirects=False)
        assert refused.code == 403
        error = orjson.loads(refused.body)["error"]
        assert error["code"] == "https_required"
        assert f"https://127.0.0.1:{app.server.port}/api/secret/data.json" in error["message"]
        secure = await client.fetch(f"https://127.0.0.1:{app.server.port}/api/secret/data.json",
                                    headers=basic("joe", "secret"), raise_error=False, validate_cert=False)
        assert secure.code == 200
        # Without credentials, the HTTP API still answers over plain HTTP (api.https_only is off).
        anonymous = await client.fetch(f"http://127.0.0.1:{app.server.redirect_port}/api/app/ping.json",
                                       raise_error=False, follow_redirects=False)
        assert anonymous.code == 200
