"""The browser client's connection state, events and call options, against a real server process."""

from tests.conftest import ServerProcess

SLOW = """
import asyncio, ss

class Actions(ss.Actions):
    async def wait(self, seconds):
        await asyncio.sleep(seconds)
        return seconds
"""


def test_state_events_timeout_and_volatile(new_app, browser):
    root = new_app()
    (root / "app" / "server" / "slow.py").write_text(SLOW)
    server = ServerProcess(root).start()
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        page.wait_for_function("SS.socket.state === 'connected'", timeout=15000)
        page.evaluate("""() => {
            window.seen = [];
            ['connect', 'disconnect', 'reconnect'].forEach(n => SS.socket.on(n, () => window.seen.push(n)));
        }""")
        timeout = page.evaluate("SS.server.slow.wait(2, {timeout: 200}).then(() => 'ok', e => e.code)")
        assert timeout == "timeout"
        assert page.evaluate("SS.server.slow.wait(0, {silent: true})") == 0

        server.stop()
        page.wait_for_function("SS.socket.state === 'disconnected' || SS.socket.state === 'connecting'")
        assert page.evaluate("window.seen") == ["disconnect"]
        volatile = page.evaluate("SS.server.slow.wait(0, {volatile: true}).then(() => 'sent', e => e.code)")
        assert volatile == "offline"                       # time-critical calls are not kept
        page.evaluate("() => { window.kept = SS.server.slow.wait(0); }")   # an ordinary call waits to connect

        server = ServerProcess(root, port=server.port).start()
        page.wait_for_function("SS.socket.state === 'connected'", timeout=20000)
        assert page.evaluate("window.kept") == 0
        assert page.evaluate("window.seen") == ["disconnect", "connect", "reconnect"]
    finally:
        page.close()
        server.stop()
