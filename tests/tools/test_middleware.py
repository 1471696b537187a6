"""config/http.py middleware (callables, lib/server modules, async steps) and the browser check."""

from __future__ import annotations

import pytest

from ss.web.middleware import MiddlewareError, supports_websocket
from ss.testing import running_app

ACTIONS = """
    import ss

    class Actions(ss.Actions):
        def square(self, number):
            return number * number

        def seen(self):
            return self.request.headers.get("X-Seen-By")
"""

HTTP_PY = """
    import asyncio
    import blocker                      # lib/server/blocker.py, used as a module

    def log_user_agent(request, response, next):
        # Later steps and ss see changes made to the request.
        request.headers["X-Seen-By"] = "log_user_agent for " + request.headers.get("User-Agent", "?")
        next()

    async def hello(request, response, next):
        if request.path != "/hello":
            next()
            return
        await asyncio.sleep(0)
        response.set_header("X-Answered-By", "hello")
        response.finish({"hello": request.query_arguments.get("name", [b"?"])[0].decode()})

    middleware = [log_user_agent, blocker, hello, "moved"]
"""

BLOCKER = """
    def call(request, response, next):
        if request.headers.get("X-Block"):
            response.set_status(403)
            response.finish("blocked by lib/server/blocker.py")
        else:
            next()
"""

MOVED = """
    def call(request, response, next):
        if request.path == "/old":
            response.redirect("/new", 301)
        else:
            next()
"""


@pytest.fixture
def middleware_app(make_app):
    return make_app({"app/server/app.py": ACTIONS, "config/http.py": HTTP_PY,
                     "lib/server/blocker.py": BLOCKER, "lib/server/moved.py": MOVED,
                     "public/hello.txt": "a public file"})


async def test_steps_answer_or_pass_on_in_order(middleware_app):
    async with running_app(middleware_app) as running:
        ok = await running.fetch("/api/app/square.json?6", headers={"User-Agent": "tester/1"})
        assert ok.code == 200 and ok.body == b"36"
        seen = await running.fetch("/api/app/seen.json", headers={"User-Agent": "tester/2"})
        assert seen.body == b'"log_user_agent for tester/2"'
        hello = await running.fetch("/hello?name=Tom")
        assert hello.code == 200 and hello.body == b'{"hello":"Tom"}'
        assert hello.headers["X-Answered-By"] == "hello"
        assert hello.headers["Content-Type"].startswith("application/json")
        blocked = await running.fetch("/hello", headers={"X-Block": "1"})
        assert blocked.code == 403 and b"blocker.py" in blocked.body
        moved = await running.fetch("/old")
        assert moved.code == 301 and moved.headers["Location"] == "/new"
        assert (await running.fetch("/hello.txt")).body == b"a public file"
        posted = await running.fetch("/api/app/square.json", method="POST", body="[7]",  # the body survives the chain
                                     headers={"Content-Type": "application/json"})
        assert posted.body == b"49"
        async with running.client() as client:             # the WebSocket upgrade passes the chain too
            assert await client.call("app.square", 12) == 144


async def test_a_step_that_neither_answers_nor_passes_on_is_a_500(make_app):
    root = make_app({"app/server/app.py": ACTIONS, "config/http.py": """
        def forgetful(request, response, next):
            pass

        async def failing(request, response, next):
            raise RuntimeError("database down")

        middleware = [forgetful]
    """})
    async with running_app(root) as running:
        answer = await running.fetch("/api/app/square.json?2")
        assert answer.code == 500 and answer.body == b"500 Internal Server Error\n"   # no internals leak
    (root / "config" / "http.py").write_text("def failing(request, response, next):\n"
                                             "    raise RuntimeError('database down')\n"
                                             "middleware = [failing]\n")
    async with running_app(root) as running:
        assert (await running.fetch("/api/app/square.json?2")).code == 500


@pytest.mark.parametrize("source, message", [
    ("middleware = [undefined_name]\n", r"config/http.py:1: NameError"),
    ("middleware = 'not a list'\n", r"`middleware` must be a list"),
    ("middleware = ['no_such_module']\n", r"lib/server/no_such_module.py"),
    ("import os\nmiddleware = [os]\n", r"module os has no call\(request, response, next\)"),
    ("middleware = [\n", r"config/http.py:\d+: syntax error"),
])
async def test_a_broken_config_http_stops_the_start_naming_the_problem(make_app, source, message):
    root = make_app({"app/server/app.py": ACTIONS})
    (root / "config" / "http.py").write_text(source)
    with pytest.raises(MiddlewareError, match=message):
        async with running_app(root):
            pass


OLD_BROWSERS = [
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)",
    "Mozilla/5.0 (Windows NT 6.1; rv:3.6) Gecko/20100101 Firefox/3.6.28",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_6_8) AppleWebKit/533.21.1 (KHTML, like Gecko) Version/5.0.5 Safari/533.21.1",
    "Mozilla/5.0 (Linux; U; Android 2.3.5; en-us; HTC Vision Build/GRI40) AppleWebKit/533.1 (KHTML, like Gecko) "
    "Version/4.0 Mobile Safari/533.1",
    "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.229 Version/11.62",
    "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
    "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/535.2 (KHTML, like Gecko) Chrome/15.0.874.121 Safari/535.2",
]
CURRENT_BROWSERS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0",
    "curl/8.5.0",
    "",
]


def test_user_agents_of_browsers_without_websockets_are_recognised():
    assert [ua for ua in OLD_BROWSERS if supports_websocket(ua)] == []
    assert [ua for ua in CURRENT_BROWSERS if not supports_websocket(ua)] == []


async def test_strict_browser_check_shows_the_static_page_to_old_browsers_only(make_app):
    root = make_app({"app/server/app.py": ACTIONS, "public/hello.txt": "a public file",
                     "static/incompatible_browsers/index.html": "<h1>Please upgrade</h1>"})
    old, new = {"User-Agent": OLD_BROWSERS[0]}, {"User-Agent": CURRENT_BROWSERS[0]}
    async with running_app(root, overrides={"browser_check": {"strict": True}}) as running:
        refused = await running.fetch("/hello.txt", headers=old)
        assert refused.code == 200 and refused.body == b"<h1>Please upgrade</h1>"
        assert "User-Agent" in refused.headers["Vary"]       # caches keep the two answers apart
        assert (await running.fetch("/", headers=old)).body == b"<h1>Please upgrade</h1>"
        assert (await running.fetch("/hello.txt", headers=new)).body == b"a public file"
        # The HTTP API is served before the check, as in SocketStream.
        api = await running.fetch("/api/app/square.json?3", headers=old)
        assert api.code == 200 and api.body == b"9"
    async with running_app(root) as running:                  # not strict: everyone gets the app
        assert (await running.fetch("/hello.txt", headers=old)).body == b"a public file"
