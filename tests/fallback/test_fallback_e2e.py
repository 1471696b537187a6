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
        page.on("console", lambda m: messages.append(m.text))
        messages: list[str] = []
        connected(page, proxy.url)
        assert page.evaluate("SS.transport") == "http"
        assert "brought nothing within 2500 ms" in page.evaluate("SS.transport_reason")
        assert any("using HTTP instead of WebSocket" in m for m in messages)   # the development console says why
        assert page.evaluate("SS.server.app.square(5)") == 25
    finally:
        page.close()
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
