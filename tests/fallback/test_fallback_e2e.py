"""Chromium behind proxies that stop WebSockets: the client falls back to HTTP and everything works."""

from __future__ import annotations

import pytest

from tests.conftest import ServerProcess

from .proxy import REFUSE, SILENT, Proxy

ROOMS = """
import ss

class Actions(ss.Actions):
    def join(self, name):
        self.session.channel.subscribe(name)
        return True

    async def say(self, name, text):
        await ss.publish.channel(name, "said", text)
        return True

    async def sign_in(self, uid):
        await self.session.set_user_id(uid)
        return uid

    async def online(self):
        return sorted(await ss.users.online.now())
"""


@pytest.fixture
def app_root(new_app):
    root = new_app()
    (root / "app" / "server" / "rooms.py").write_text(ROOMS)
    return root


def answered(page, call, timeout_ms=20000):
    """page.evaluate of a call that fails (instead of hanging the test) when it gets no answer in time."""
    return page.evaluate(f"Promise.race([{call}, new Promise((_, no) => setTimeout(() => "
                         f"no(new Error('no answer to ' + {call!r} + ' within {timeout_ms} ms')), {timeout_ms}))])")


def connected(page, url, timeout=20000):
    page.goto(url + "/")
    page.wait_for_function("SS.socket.state === 'connected'", timeout=timeout)


def test_refused_upgrades_fall_back_to_http_and_everything_works(app_root, browser):
    server = ServerProcess(app_root).start()
    proxy = Proxy([server.port], REFUSE).start()
    first, second = browser.new_page(), browser.new_page()
    try:
        connected(first, proxy.url)
        assert first.evaluate("SS.transport") == "http"
        assert proxy.refused_upgrades >= 1
        assert first.evaluate("SS.server.app.square(25)") == 625          # the quick example
        connected(second, proxy.url)
        assert second.evaluate("SS.transport") == "http"                   # remembered: no WebSocket tried
        # a channel between two pages
        for page in (first, second):
            page.evaluate("SS.server.rooms.join('lobby')")
            page.evaluate("() => { window.heard = []; SS.events.on('said', (t) => window.heard.push(t)); }")
        first.evaluate("SS.server.rooms.say('lobby', 'hello')")
        second.wait_for_function("window.heard.length === 1", timeout=10000)
        first.wait_for_function("window.heard.length === 1", timeout=10000)
        # users online (the sign-in rotates the session: the cookie follows over HTTP too)
        assert first.evaluate("SS.server.rooms.sign_in('ann')") == "ann"
        second.evaluate("SS.server.rooms.sign_in('bob')")
        assert first.evaluate("SS.server.rooms.online()") == ["ann", "bob"]
        # calls made while the server restarts are answered once it is back
        server.stop()
        first.wait_for_function("SS.socket.state !== 'connected'", timeout=20000)
        first.evaluate("() => { window.kept = SS.server.app.square(12); }")
        server = ServerProcess(app_root, port=server.port).start()
        first.wait_for_function("SS.socket.state === 'connected'", timeout=30000)
        assert first.evaluate("window.kept") == 144
        assert first.evaluate("SS.transport") == "http"
        second.wait_for_function("SS.socket.state === 'connected'", timeout=30000)
        second.evaluate("() => { window.heard = []; }")
        second.evaluate("SS.server.rooms.join('lobby')")   # the embedded store lost the sessions in the restart
        first.evaluate("SS.server.rooms.say('lobby', 'back')")
        second.wait_for_function("window.heard.length === 1 && window.heard[0] === 'back'", timeout=10000)
    finally:
        first.close()
        second.close()
        proxy.stop()
        server.stop()


def test_a_middlebox_that_passes_no_frames_makes_the_client_fall_back(app_root, browser):
    server = ServerProcess(app_root).start()
    proxy = Proxy([server.port], SILENT).start()
    page = browser.new_page()
    try:
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text))
        page.goto(proxy.url + "/")
        page.evaluate("() => { window.early = SS.call('app.square', [7]); }")   # made while the socket hangs
        page.wait_for_function("SS.socket.state === 'connected'", timeout=20000)
        assert page.evaluate("SS.transport") == "http"
        assert page.evaluate("window.early") == 49                               # not lost in the switch
        assert "brought nothing within 2500 ms" in page.evaluate("SS.transport_reason")
        assert any("using HTTP instead of WebSocket" in m for m in messages)   # the development console says why
        assert page.evaluate("SS.server.app.square(5)") == 25
    finally:
        page.close()
        proxy.stop()
        server.stop()


def test_a_proxy_that_buffers_responses_makes_the_client_long_poll(app_root, browser):
    server = ServerProcess(app_root).start()
    proxy = Proxy([server.port], REFUSE, buffer_responses=True).start()
    page, other = browser.new_page(), browser.new_page()
    try:
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text))
        connected(page, proxy.url)
        assert page.evaluate("SS.transport") == "http"
        assert "long-polling: a proxy held the streamed response back" in page.evaluate("SS.transport_reason")
        assert any("long-polling instead of streaming" in m for m in messages)   # the console says why
        assert page.evaluate("SS.server.app.square(5)") == 25
        polls = [line for _, line in proxy.requests if line.startswith("GET /_ss/http/poll")]
        assert "stream=1" not in polls[-1]                                     # long-polls from then on
        # events pushed while the page waits on a long-poll arrive at once, in order
        connected(other, proxy.url)
        for p in (page, other):
            p.evaluate("SS.server.rooms.join('lobby')")
        page.evaluate("() => { window.heard = []; SS.events.on('said', (t) => window.heard.push(t)); }")
        for n in range(5):
            other.evaluate(f"SS.server.rooms.say('lobby', 'm{n}')")
        page.wait_for_function("window.heard.length >= 5", timeout=5000)
        assert page.evaluate("window.heard") == [f"m{n}" for n in range(5)]
    finally:
        page.close()
        other.close()
        proxy.stop()
        server.stop()


def test_strict_mode_never_falls_back(app_root, browser):
    config = app_root / "config" / "app.py"
    config.write_text(config.read_text() + "\nconfig.setdefault('browser_check', {})['strict'] = True\n")
    server = ServerProcess(app_root).start()
    proxy = Proxy([server.port], REFUSE).start()
    page = browser.new_page()
    try:
        page.goto(proxy.url + "/")
        page.wait_for_timeout(4000)
        assert page.evaluate("SS.transport") == "websocket"
        assert page.evaluate("SS.socket.state") != "connected"
        status = page.evaluate("fetch('/_ss/http/open', {method: 'POST', headers: {'X-SS-Transport': 'http'}})"
                               ".then(r => r.status)")
        assert status in (404, 405)   # no such endpoint: the HTTP transport is not served
    finally:
        page.close()
        proxy.stop()
        server.stop()


COUNTED = """
import ss

class Actions(ss.Actions):
    async def count(self, key, n):
        await ss.R.rpush(key, n)
        return n * n

    async def counted(self, key):
        return [int(x) for x in await ss.R.lrange(key, 0, -1)]
"""


def test_two_instances_behind_a_round_robin_proxy(app_root, browser, redis_url):
    import uuid

    (app_root / "app" / "server" / "counted.py").write_text(COUNTED)
    config = app_root / "config" / "app.py"
    config.write_text(config.read_text() + f"\nconfig['redis'] = {{'url': {redis_url!r}, "
                                           f"'key_prefix': 'test-{uuid.uuid4().hex[:8]}:'}}\n")
    one, two = ServerProcess(app_root).start(), ServerProcess(app_root).start()
    proxy = Proxy([one.port, two.port], REFUSE).start()
    sender, listener = browser.new_page(), browser.new_page()
    logs: list[str] = []
    sender.on("console", lambda m: logs.append(f"sender: {m.text}"))
    listener.on("console", lambda m: logs.append(f"listener: {m.text}"))
    try:
        connected(sender, proxy.url)
        connected(listener, proxy.url)
        assert sender.evaluate("SS.transport") == listener.evaluate("SS.transport") == "http"
        # calls answered once each, whichever instance each request reaches
        key = f"test-{uuid.uuid4().hex}"   # ss.R keys are the app's own: no key_prefix
        squares = sender.evaluate(f"Promise.all([...Array(20).keys()].map(n => SS.server.counted.count('{key}', n)))")
        assert squares == [n * n for n in range(20)]
        assert sorted(sender.evaluate(f"SS.server.counted.counted('{key}')")) == list(range(20))
        assert len({port for port, _ in proxy.requests}) == 2
        sends = [line for _, line in proxy.requests if line.startswith("POST /_ss/http/send")]
        assert sends and all("replies=1" in line for line in sends)  # replies come in POST answers too
        # every event delivered once, in order
        for page in (sender, listener):
            page.evaluate("SS.server.rooms.join('lobby')")
        listener.evaluate("() => { window.heard = []; SS.events.on('said', (t) => window.heard.push(t)); }")
        first_id = listener.evaluate("SS.connection_id")
        for n in range(10):
            answered(sender, f"SS.server.rooms.say('lobby', 'm{n}')")
        listener.wait_for_function("window.heard.length >= 10", timeout=10000)
        listener.wait_for_timeout(500)
        assert listener.evaluate("window.heard") == [f"m{n}" for n in range(10)]
        # kill one instance: connections it held reconnect to the other, and recover what they missed
        owner = [port for port, line in proxy.requests if line.startswith("POST /_ss/http/open")][-1]
        (one if owner == one.port else two).kill()       # the instance holding the listener's connection
        for n in range(10, 15):
            answered(sender, f"SS.server.rooms.say('lobby', 'm{n}')")
        listener.wait_for_function("window.heard.length >= 15", timeout=30000)
        listener.wait_for_timeout(500)
        assert listener.evaluate("window.heard") == [f"m{n}" for n in range(15)]
        assert sender.evaluate("SS.server.app.square(9)") == 81
        assert listener.evaluate("SS.connection_id") != first_id                   # it did reconnect
    except BaseException:
        print("\n".join(logs))
        print("--- one\n" + one.output()[-6000:] + "\n--- two\n" + two.output()[-6000:])
        raise
    finally:
        sender.close()
        listener.close()
        proxy.stop()
        one.stop()
        two.stop()
