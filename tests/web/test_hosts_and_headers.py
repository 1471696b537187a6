"""Host names (DNS rebinding), the https redirect's Location, and the headers of every answer."""

import orjson
import pytest
import tornado.httpclient
import tornado.websocket

from ss.testing import running_app

ACTIONS = """
import ss

class Actions(ss.Actions):
    def square(self, number):
        return number * number
"""

FILES = {"app/server/app.py": ACTIONS, "public/hello.txt": "hi\n",
         "public/about.html": "<!DOCTYPE html><title>About</title><p>about</p>"}


def start(make_app, env="production", **overrides):
    return running_app(make_app(FILES), env, {"redis": {"enabled": False}, **overrides})


async def fetch(url, **kwargs):
    client = tornado.httpclient.AsyncHTTPClient()
    return await client.fetch(url, raise_error=False, follow_redirects=False, validate_cert=False, **kwargs)


async def test_socket_refused_for_a_foreign_host_with_its_own_origin_dns_rebinding(make_app):
    async with start(make_app) as app:
        request = tornado.httpclient.HTTPRequest(app.socket_url, headers={"Host": "evil.com:1234",
                                                                          "Origin": "http://evil.com:1234"})
        with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
            await tornado.websocket.websocket_connect(request)
        assert refused.value.code == 400
        async with app.client() as client:  # the app's own host still works
            assert await client.call("app.square", 3) == 9


@pytest.mark.parametrize("env", ["development", "production"])
async def test_pages_and_api_refused_for_a_foreign_host(make_app, env):
    async with start(make_app, env) as app:
        for path in ("/", "/api/app/square.json?2", "/hello.txt"):
            response = await app.fetch(path, headers={"Host": "evil.com"})
            assert response.code == 400, path
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            error = orjson.loads(response.body)["error"]
            assert error["code"] == "bad_host"
            assert "'evil.com'" in error["message"] and "http.allowed_hosts" in error["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:3000", "localhost", "LOCALHOST:80", "app.localhost", "[::1]:3000",
                                  "10.1.2.3", ""])
async def test_addresses_and_localhost_are_always_served(make_app, host):
    async with start(make_app) as app:
        headers = {"Host": host} if host else {}
        assert (await app.fetch("/api/app/square.json?2", headers=headers)).code == 200


async def test_allowed_hosts_lists_names_and_domains(make_app):
    async with start(make_app, http={"allowed_hosts": ["example.com", ".example.org"]}) as app:
        for host, code in [("example.com", 200), ("www.example.com", 400), ("example.org", 200),
                           ("a.b.example.org", 200), ("badexample.org", 400)]:
            assert (await app.fetch("/api/app/square.json?2", headers={"Host": host})).code == code, host
    async with start(make_app, http={"allowed_hosts": ["*"]}) as app:
        assert (await app.fetch("/api/app/square.json?2", headers={"Host": "anything.test"})).code == 200


async def test_https_redirect_never_follows_a_foreign_host(make_app):
    overrides = {"https": {"enabled": True, "port": 0}}
    async with start(make_app, "test", **overrides) as app:
        https, http = app.server.port, app.server.redirect_port
        stray = await fetch(f"http://127.0.0.1:{http}/page", headers={"Host": "evil.com"})
        assert stray.code == 400 and "Location" not in stray.headers
        moved = await fetch(f"http://127.0.0.1:{http}/page", headers={"Host": f"localhost:{http}"})
        assert moved.code == 302 and moved.headers["Location"] == f"https://localhost:{https}/page"


async def test_no_server_header_names_tornado(make_app):
    async with start(make_app) as app:
        for path in ("/api", "/api/app/square.json?2", "/hello.txt", "/missing", "/api/app/nope.json"):
            response = await app.fetch(path)
            assert "Server" not in response.headers, (path, response.headers.get("Server"))


async def test_every_error_answer_has_nosniff(make_app):
    async with start(make_app) as app:
        answers = [await app.fetch("/missing"),                                       # 404 text
                   await app.fetch("/api/app/nope.json"),                              # 404 JSON
                   await app.fetch("/", method="DELETE"),                              # 405
                   await app.fetch("/_ss/session", method="POST", body="nope"),        # 403 bad_token
                   await app.fetch("/_ss/socket")]                                     # 400 not an upgrade
        for answer in answers:
            assert answer.code >= 400
            assert answer.headers.get("X-Content-Type-Options") == "nosniff", (answer.effective_url, answer.code)


async def test_public_html_gets_the_page_security_headers(make_app):
    async with start(make_app) as app:
        page = await app.fetch("/about.html")
        assert page.code == 200
        assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert page.headers["Content-Security-Policy"].startswith(app.app.config.security.content_security_policy)
        assert page.headers["Referrer-Policy"] == "same-origin"
        text = await app.fetch("/hello.txt")
        assert "Content-Security-Policy" not in text.headers


async def test_head_on_the_page_answers_its_headers_without_a_session(make_app):
    async with start(make_app) as app:
        before = [key async for key in app.app.store.redis.scan_iter(match=app.app.store.key("session:*"))]
        page = await app.fetch("/", method="HEAD")
        assert page.code == 200 and page.body == b""
        assert "Set-Cookie" not in page.headers and page.headers["X-Frame-Options"] == "SAMEORIGIN"
        after = [key async for key in app.app.store.redis.scan_iter(match=app.app.store.key("session:*"))]
        assert after == before


def test_the_host_check_decides_once_per_host_name_and_remembers_a_bounded_few(monkeypatch):
    from types import SimpleNamespace

    from ss.app import App
    from ss.web import guard as guard_module

    config = App.load(None, "production", {"redis": {"enabled": False}, "http": {"allowed_hosts": [".example.com"]}}).config
    checked = []
    real = guard_module.host_allowed
    monkeypatch.setattr(guard_module, "host_allowed", lambda host, allowed: checked.append(host) or real(host, allowed))
    guard = guard_module.Guard(config)
    for _ in range(3):
        assert guard.host_refusal(SimpleNamespace(host_name="www.example.com")) is None
        assert guard.host_refusal(SimpleNamespace(host_name="evil.test")).code == "bad_host"
    assert checked == ["www.example.com", "evil.test"]        # each name decided once, then remembered
    for number in range(1000):                                 # a client making up names cannot grow it
        guard.host_refusal(SimpleNamespace(host_name=f"n{number}.test"))
    assert len(guard.decided_hosts) <= guard_module.Guard.REMEMBERED_HOSTS
    assert guard.host_refusal(SimpleNamespace(host_name="a.example.com")) is None
    assert guard.host_refusal(SimpleNamespace(host_name="n5.test")).code == "bad_host"
